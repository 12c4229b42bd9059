"""The command rule book: `config/commands.yaml` loaded into typed, merged rules.

Kept apart from the judging code so operators' YAML mistakes surface as one
clear ConfigError at load time, not as odd verdicts later.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from graphs.errors import ConfigError

VerdictName = Literal["allow", "approve", "forbid"]


class PathSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow: list[str] = Field(default_factory=list)  # prefixes
    forbid: list[str] = Field(default_factory=list)  # fnmatch globs


class VerbRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow: list[str] = Field(default_factory=list)
    forbid: list[str] = Field(default_factory=list)
    otherwise: VerdictName = "approve"


class SecretKinds(BaseModel):
    """Resource kinds whose content is secret (`kubectl get secret -o yaml` prints the values): they may be
    listed, never printed. Any output format outside `safe_outputs` forbids the command."""

    model_config = ConfigDict(extra="forbid")
    kinds: list[str]  # as typed, case-insensitive: `secret`, `secrets.v1`, `secret/name`, `secrets,configmaps`
    output_flags: list[str] = Field(default_factory=list)  # flags that choose what is printed (-o, --output, --template)
    safe_outputs: list[str] = Field(default_factory=list)  # formats that print names only (wide, name)

class ProgramRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: VerdictName = "forbid"
    flags: list[str] | None = None
    value_flags: list[str] = Field(default_factory=list)
    forbidden_flags: list[str] = Field(default_factory=list)
    approve_flags: list[str] = Field(default_factory=list)
    required_flags: list[str] = Field(default_factory=list)
    single_dash_long: bool = False
    positional: str = "any"
    max_positional: int | None = None
    min_positional: int = 0
    paths: str | None = None
    subcommands: dict[str, "ProgramRule"] | None = None
    unknown_subcommand: VerdictName = "forbid"
    environments: dict[str, VerdictName] = Field(default_factory=dict)
    sql_flag: list[str] = Field(default_factory=list)
    script_pattern: str | None = None
    output_only: list[str] | None = None
    methods: list[str] | None = None
    url_hosts: list[str] | None = None
    verb_rules: VerbRules | None = None
    secret_kinds: SecretKinds | None = None

    @field_validator("flags", "value_flags", "forbidden_flags", "approve_flags", "required_flags", "sql_flag", mode="before")
    @classmethod
    def _flags_are_strings(cls, value):
        # YAML reads `-1` or `-9` as numbers; flags are always text.
        return [str(v) for v in value] if isinstance(value, list) else value

    def merged_with(self, sub: "ProgramRule", fields_set: set[str]) -> "ProgramRule":
        """A subcommand's rule: its own settings, plus the parent's flag vocabulary and bans."""
        data = sub.model_dump()
        data["value_flags"] = sorted(set(self.value_flags) | set(sub.value_flags))
        data["forbidden_flags"] = sorted(set(self.forbidden_flags) | set(sub.forbidden_flags))
        if "single_dash_long" not in fields_set:
            data["single_dash_long"] = self.single_dash_long
        if "paths" not in fields_set:
            data["paths"] = self.paths
        data["subcommands"] = None
        return ProgramRule.model_validate(data)


class CommandRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unknown_program: VerdictName = "forbid"
    path_sets: dict[str, PathSet] = Field(default_factory=dict)
    programs: dict[str, ProgramRule] = Field(default_factory=dict)
    actions: dict[str, VerdictName] = Field(default_factory=dict)
    source: str = "commands.yaml"


def load_command_rules(path: str | Path) -> CommandRules:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"command rules not found: {path} (set CLOUD_DOCTOR_COMMANDS_FILE or restore config/commands.yaml)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    try:
        rules = CommandRules.model_validate({**raw, "source": path.name})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    for name, rule in rules.programs.items():
        for sub in [rule, *(rule.subcommands or {}).values()]:
            if sub.paths and sub.paths not in rules.path_sets:
                raise ConfigError(f"{path}: programs.{name}: unknown path set {sub.paths!r}")
    return rules


@lru_cache(maxsize=8)
def cached_rules(path: str, mtime: float) -> CommandRules:
    return load_command_rules(path)


def default_rules() -> CommandRules:
    """The rules the product uses, reloaded when the file changes."""
    from config.settings import get_settings

    path = get_settings().path("commands.yaml")
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return cached_rules(str(path), mtime)
