"""config/remedies.yaml: the taxonomy's categories, the usual kind of fix and the remedy in words."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from config.settings import CONFIG_DIR
from graphs.errors import ConfigError


class Remedy(BaseModel):
    fix: str = "none"
    remedy: str = ""
    category: str = ""  # for a finding: the category it refines


def load_remedy_defaults(config_dir: str | Path):
    """config/remedies.yaml `actions:`: amounts the remedies use (vacuum size, days of binary logs kept, ...)."""
    from agents.diagnosis.remedy_choice import RemedyDefaults

    path = Path(config_dir) / "remedies.yaml"
    if not path.is_file():
        path = CONFIG_DIR / "remedies.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return RemedyDefaults.model_validate(raw.get("actions") or {})
    except (yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise ConfigError(f"{path}: actions: {str(exc).splitlines()[0]}") from None


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Remedy]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        categories = raw.get("categories") or {}
        return {str(k): Remedy.model_validate(v or {}) for k, v in categories.items()}
    except FileNotFoundError:
        raise ConfigError(f"remedies file not found: {path}") from None
    except (yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise ConfigError(f"{path}: invalid remedies file: {str(exc).splitlines()[0]}") from None


def load_remedies(config_dir: str | Path) -> dict[str, Remedy]:
    """Category -> Remedy; the keys are the taxonomy (scenarios/taxonomy.md), `unknown` included.
    A config folder without remedies.yaml falls back to the shipped one."""
    path = Path(config_dir) / "remedies.yaml"
    if not path.is_file():
        path = CONFIG_DIR / "remedies.yaml"
    remedies = dict(_load(str(path)))
    remedies.setdefault("unknown", Remedy(fix="none", remedy="collect the next checks listed; escalate to a person"))
    return remedies


@lru_cache(maxsize=4)
def _load_findings(path: str) -> dict[str, Remedy]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return {str(k): Remedy.model_validate(v or {}) for k, v in (raw.get("findings") or {}).items()}
    except FileNotFoundError:
        return {}
    except (yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise ConfigError(f"{path}: invalid findings in the remedies file: {str(exc).splitlines()[0]}") from None


def load_findings(config_dir: str | Path) -> dict[str, Remedy]:
    """Finding -> Remedy (its category, fix kind and remedy); empty when remedies.yaml names none."""
    path = Path(config_dir) / "remedies.yaml"
    return dict(_load_findings(str(path if path.is_file() else CONFIG_DIR / "remedies.yaml")))
