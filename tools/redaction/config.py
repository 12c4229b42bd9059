"""The redaction rules' data, read once from config/redaction.yaml.

Operators tune names, labels and programs there without touching code; the
shapes that need a regular expression live in `shapes.py`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.settings import get_settings
from graphs.errors import ConfigError


class NameRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: list[str] = Field(default_factory=list)
    token: list[str] = Field(default_factory=list)
    token_pairs: list[tuple[str, str]] = Field(default_factory=list)
    weak: list[str] = Field(default_factory=list)
    descriptors: list[str] = Field(default_factory=list)
    not_secret: list[str] = Field(default_factory=list)


class KoreanLabels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: list[str] = Field(default_factory=list)
    token: list[str] = Field(default_factory=list)


class FlagRules(BaseModel):
    """flag -> programs: `-p` glued to mysql's value, `-a VALUE` for redis-cli, `-u user:VALUE` for curl."""

    model_config = ConfigDict(extra="forbid")
    glued: dict[str, list[str]] = Field(default_factory=dict)
    separate: dict[str, list[str]] = Field(default_factory=dict)
    user_password: dict[str, list[str]] = Field(default_factory=dict)


class RedactionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mask: str = "[REDACTED]"
    names: NameRules = Field(default_factory=NameRules)
    korean_labels: KoreanLabels = Field(default_factory=KoreanLabels)
    placeholders: list[str] = Field(default_factory=list)
    terraform_words: list[str] = Field(default_factory=list)
    flags: FlagRules = Field(default_factory=FlagRules)
    detector: dict[str, list[str]] = Field(default_factory=dict)


def config_path() -> Path:
    return get_settings().path("redaction.yaml")


@lru_cache(maxsize=4)
def load_config(path: str | None = None) -> RedactionConfig:
    """The rules in `path` (default: the settings' config/redaction.yaml)."""
    where = Path(path) if path else config_path()
    try:
        raw = yaml.safe_load(where.read_text(encoding="utf-8")) or {}
        return RedactionConfig.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"redaction rules not found: {where}") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{where}: invalid redaction rules: {str(exc).splitlines()[0]}") from None
