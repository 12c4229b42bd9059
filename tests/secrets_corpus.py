"""The planted-secrets corpus (tests/fixtures/secrets/) as Python values, shared by the redaction tests."""

from __future__ import annotations

from pathlib import Path

import yaml

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "secrets"
CASES: list[dict] = yaml.safe_load((FIXTURES / "corpus.yaml").read_text(encoding="utf-8"))["cases"]
READABLE: list[str] = yaml.safe_load((FIXTURES / "readable.yaml").read_text(encoding="utf-8"))["lines"]
SECRETS: list[str] = [s for case in CASES for s in case["secrets"]]


def leaked(text: str) -> list[str]:
    """The planted secrets still present in `text`."""
    return [s for s in SECRETS if s in text]
