"""Secret redaction (kept for existing callers): see `tools.redaction` for the rules and the API."""

from __future__ import annotations

from typing import Any

from tools.redaction import MASK, Redactor, find_secrets, mask_blocks, redact, redact_lines, redact_value

__all__ = ["MASK", "Redactor", "find_secrets", "mask_blocks", "redact", "redact_lines", "redact_obj", "redact_value"]


def redact_obj(value: Any) -> Any:
    """Every string inside nested dicts/lists/models redacted (values judged with their keys)."""
    return redact_value(value)
