"""The program grammars (`config/commands.yaml`) loaded into typed models.

Kept apart from the judging code so operators' YAML mistakes surface as one
clear ConfigError at load time, not as odd verdicts later.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphs.errors import ConfigError
from tools.argv_grammar import CommandGrammar, ProgramGrammar, Style


class CommandRules(BaseModel):
    """Every program's grammar, the programs that never run, and where they came from."""

    model_config = ConfigDict(extra="forbid")
    forbidden_programs: dict[str, str] = Field(default_factory=dict)  # name -> why
    programs: dict[str, ProgramGrammar] = Field(default_factory=dict)
    source: str = "commands.yaml"

    def program(self, name: str) -> ProgramGrammar | None:
        return self.programs.get(name)

    def subcommand(self, program: str, words: tuple[str, ...]) -> CommandGrammar | None:
        grammar = self.programs.get(program)
        if grammar is None:
            return None
        if not words:
            return grammar
        return (grammar.subcommands or {}).get(" ".join(words))

    def style_and_tables(self, program: str, words: tuple[str, ...]) -> tuple[Style, list[CommandGrammar]]:
        """The option style and option tables a rendered command of this (sub)command is read with."""
        grammar = self.programs[program]
        style: Style = grammar.style or "gnu"
        if not words:
            return style, [grammar]
        sub = (grammar.subcommands or {}).get(" ".join(words))
        if sub is None:
            raise ConfigError(f"{self.source}: {program} has no subcommand {' '.join(words)!r}")
        return sub.style or style, [sub, grammar]


def load_command_rules(path: str | Path) -> CommandRules:
    path = Path(path)
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"command rules not found: {path} (set CLOUD_DOCTOR_COMMANDS_FILE or restore config/commands.yaml)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with `programs`")
    try:
        return CommandRules.model_validate({**raw, "source": path.name})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


@lru_cache(maxsize=8)
def cached_rules(path: str, mtime: float) -> CommandRules:
    return load_command_rules(path)


def default_rules() -> CommandRules:
    """The rules the product uses, reloaded when the file changes."""
    from config.settings import get_settings

    path = get_settings().path("commands.yaml")
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return cached_rules(str(path), mtime)


default_grammars = default_rules
