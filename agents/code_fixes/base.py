"""What a code fix template takes and gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from config.settings import CONFIG_DIR

FIX_CONFIG = "code_fixes.yaml"


@dataclass(frozen=True)
class FixTarget:
    """Where the diagnosis points: a file in the repository, maybe a line, and the code the world holds."""

    root_cause: str
    path: str
    source: str
    line: int | None = None
    hints: tuple[str, ...] = ()  # evidence summaries about this file, for the note


@dataclass(frozen=True)
class CodeFix:
    """One template's patch to one file, with the lines it meant to change."""

    template: str
    path: str
    before: str
    after: str
    title: str
    rationale: str
    lines: tuple[int, int]  # 1-based inclusive span of original lines the patch may touch
    language: Literal["python", "javascript"]
    preserves: Literal["insert", "reorder"] = "insert"  # how the original code must survive (validate.py)
    risk: Literal["low", "medium", "high"] = "low"


@dataclass
class FixConfig:
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def max_changed_lines(self) -> int:
        return int(self.raw.get("max_changed_lines", 50))

    def get(self, section: str, key: str, default: Any) -> Any:
        return (self.raw.get(section) or {}).get(key, default)


def load_fix_config(config_dir: Path | None = None) -> FixConfig:
    path = Path(config_dir or CONFIG_DIR) / FIX_CONFIG
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return FixConfig(raw or {})


class NoFix(Exception):
    """A template does not apply; the message says why, for the report."""
