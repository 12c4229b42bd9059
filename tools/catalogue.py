"""The catalogue of typed tools and actions (config/tools/*.yaml): what Cloud Doctor may do to the world.

A read tool or an action has a name, a one-line description, typed
parameters and the exact argv it renders (or named SQL query, or boto3
call); nothing is rendered from free text. Playbooks, the LLM investigator,
the approval card, the guard's matcher and replay all use this one
catalogue:

- `Catalogue.render(call)` validates a `ToolCall`'s parameters by type and
  returns the argv and its hash (`RenderedCall`): what an approval shows and
  what the executor runs, byte for byte.
- `tools/tool_match.py` reads a free-form command back into a `ToolCall`
  (`kubectl -n shop get rs` and `kubectl get replicasets --namespace=shop`
  are the same call), so operators' commands, old playbook steps and a
  model's suggestions are judged as catalogue entries.
- A parameter is *identifying* (which thing is read: host, unit, pod, file,
  query) or *volume* (how much: line counts, windows, formats) or *context*
  (where it runs: a database endpoint, a region): replay answers a call with
  a recording of the same tool and the same identifying parameters.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graphs.errors import CloudDoctorError, ConfigError
from tools.param_types import TYPES, ParamTypeError, validate
from tools.sql_templates import SqlTemplate

Role = Literal["identifying", "volume", "context"]
Scope = Literal["host", "cluster", "database", "account"]
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class ToolParamError(CloudDoctorError):
    """A tool call's parameters do not fit the tool; the message names the parameter and what is allowed."""

    exit_code = 2


class UnknownToolError(ToolParamError):
    """The call names no catalogue entry."""


class ParamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    type: str
    role: Role = "identifying"
    required: bool = False
    default: Any = None
    description: str = ""
    option: str | None = None  # the program option that carries it (canonical name from commands.yaml)
    positional: int | None = None  # or its place among the positional arguments
    many: bool = False  # several values (repeated option, or the remaining positionals)
    max_items: int | None = None
    render_as: Literal["value", "flag", "sql"] = "value"  # bool params render as a bare flag; sql params only fill the query
    flag_choice: bool = False  # the value is one of `choices`, each an option of its own (free --mega | --human)
    word_pattern: str | None = None  # a positional word binds here only when it fully matches (dig's @server, +short)
    # type options
    choices: list[str] | None = None
    aliases: dict[str, str] | None = None
    case_insensitive: bool = False
    min: int | None = None
    max: int | None = None
    roots: list[str] | str | None = None  # a path_sets name or a list of roots
    deny: list[str] | None = None
    hosts: list[str] | str | None = None  # url_hosts name or patterns
    prefix: str | None = None
    pattern: str | None = None
    what: str | None = None
    max_length: int | None = None
    extra_chars: str | None = None

    def type_options(self) -> dict[str, Any]:
        keys = ("choices", "aliases", "case_insensitive", "min", "max", "roots", "deny", "hosts", "prefix", "pattern", "what",
                "max_length", "extra_chars", "many", "max_items")
        return {k: getattr(self, k) for k in keys if getattr(self, k) not in (None, False)}

    def json_schema(self) -> dict[str, Any]:
        base: dict[str, Any]
        if self.type == "bool":
            base = {"type": "boolean"}
        elif self.type == "int":
            base = {"type": "integer", **({"minimum": self.min} if self.min is not None else {}), **({"maximum": self.max} if self.max is not None else {})}
        elif self.type == "enum":
            base = {"type": "string", "enum": list(self.choices or [])}
        else:
            base = {"type": "string"}
        base["description"] = f"{self.description or self.name} ({self.type}{', ' + self.role if self.role != 'identifying' else ''})"
        if self.default is not None:
            base["default"] = self.default
        return {"type": "array", "items": base, "description": base["description"]} if self.many else base


class Check(BaseModel):
    """A read whose parsed facts must satisfy `expect` (a JMESPath expression): a precondition or a verification."""

    model_config = ConfigDict(extra="forbid")
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)  # "{param}" takes the action's own (validated) value
    expect: str  # JMESPath over the parser's facts, true when the check holds
    says: str = ""  # what it shows, for the report
    wait_s: float = 0.0  # before the first read (verifications)
    retries: int = 0
    interval_s: float = 5.0


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    irreversible: str | None = None  # said plainly when there is nothing to undo with

    @model_validator(mode="after")
    def _one_of(self) -> "Rollback":
        if (self.action is None) == (self.irreversible is None):
            raise ValueError("a rollback names an action or says why it is irreversible")
        return self


class Refusal(BaseModel):
    """A combination of parameter values the tool refuses (JMESPath over the canonical params)."""

    model_config = ConfigDict(extra="forbid")
    when: str
    why: str


class ParserChoice(BaseModel):
    """The parser chosen by one parameter's value: exact cases, then path-like prefixes and suffixes, else `default`."""

    model_config = ConfigDict(extra="forbid")
    param: str
    cases: dict[str, str] = Field(default_factory=dict)
    prefix: dict[str, str] = Field(default_factory=dict)
    suffix: dict[str, str] = Field(default_factory=dict)
    default: str | None = None

    def choose(self, params: dict[str, Any]) -> str | None:
        value = params.get(self.param)
        for item in (value if isinstance(value, list) else [value]):
            text = str(item) if item is not None else ""
            if text in self.cases:
                return self.cases[text]
            for start, parser in self.prefix.items():
                if text.startswith(start):
                    return parser
            for end, parser in self.suffix.items():
                if text.endswith(end):
                    return parser
        return self.default


class ToolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    family: str = ""
    kind: Literal["read", "action"] = "read"
    description: str
    scope: Scope = "host"
    program: str
    subcommand: list[str] = Field(default_factory=list)
    fixed: dict[str, str | None] = Field(default_factory=dict)  # options that define the tool (required when matching)
    trailing: dict[str, str | None] = Field(default_factory=dict)  # fixed options rendered last (find's -delete after its tests)
    presentation: list[str] = Field(default_factory=list)  # always rendered (`--no-pager`, `-input=false`); a free-form command may leave them out or change them
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    sql: str | None = None  # a named query with {param} slots (typed literals), sent through `sql_option`
    sql_aliases: list[str] = Field(default_factory=list)  # other spellings matched to this query (never rendered)
    sql_option: str | None = None
    dialect: str | None = None  # sqlglot dialect of `sql`
    boto3: dict[str, Any] | None = None  # {service, method, args}: the same read through the AWS API
    parser: str | ParserChoice | None = None
    timeout_s: float = 15.0
    output_cap: int = 64_000
    refuse: list[Refusal] = Field(default_factory=list)
    example: dict[str, Any] = Field(default_factory=dict)  # parameters for docs and the round-trip test
    # actions
    changes: str = ""
    approval: Literal["remedy", "release", "infrastructure"] | None = None
    precondition: Check | None = None
    verification: Check | None = None
    rollback: Rollback | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "ToolSpec":
        for key, spec in self.params.items():
            spec.name = key
            if spec.type not in TYPES:
                raise ValueError(f"parameter {key}: unknown type {spec.type!r}")
            bound = spec.option is not None or spec.positional is not None or spec.render_as == "sql" or spec.flag_choice
            if not bound:
                raise ValueError(f"parameter {key}: says neither `option`, `positional` nor render_as: sql")
        if self.kind == "action":
            if self.approval is None:
                raise ValueError("an action names the policy kind that decides its approvals (`approval`)")
            if self.rollback is None:
                raise ValueError("an action names its rollback (another action) or says why it is irreversible")
            if not self.changes:
                raise ValueError("an action says what it changes")
        if self.sql is not None:
            if self.sql_option is None:
                raise ValueError("a named query needs `sql_option` (the option that sends it)")
            for text in [self.sql, *self.sql_aliases]:
                for name in re.findall(r"\{([a-z_][a-z0-9_]*)(?::raw)?\}", text):
                    if name not in self.params:
                        raise ValueError(f"sql placeholder {{{name}}} has no parameter")
        return self

    def presentation_names(self) -> set[str]:
        return {p.partition("=")[0] for p in self.presentation}

    def parser_for(self, params: dict[str, Any]) -> str | None:
        if isinstance(self.parser, ParserChoice):
            return self.parser.choose(params)
        return self.parser

    def json_schema(self) -> dict[str, Any]:
        """The parameters as a JSON Schema object, for a model's tool definition."""
        properties = {k: p.json_schema() for k, p in self.params.items() if p.render_as != "flag" or p.type == "bool"}
        required = [k for k, p in self.params.items() if p.required]
        return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}

    def sql_template(self) -> SqlTemplate | None:
        return SqlTemplate(self.sql, dialect=self.dialect or "") if self.sql else None

    def sql_templates(self) -> list[SqlTemplate]:
        """The query and its aliases, for matching free-form statements."""
        return [SqlTemplate(t, dialect=self.dialect or "") for t in ([self.sql] if self.sql else []) + self.sql_aliases]


class ToolCall(BaseModel):
    """A request to run one catalogue entry: what the playbooks, the model and the remedies produce."""

    model_config = ConfigDict(extra="forbid")
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    host: str | None = None


class RenderedCall(BaseModel):
    """A validated call and exactly what it runs. `argv_hash` covers the host and the argv."""

    tool: str
    kind: Literal["read", "action"]
    params: dict[str, Any]
    host: str | None = None
    argv: list[str]
    argv_hash: str
    scope: Scope = "host"

    def label(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items() if not absent(v))
        return f"{self.tool}({shown})"


def absent(value: Any) -> bool:
    """Unset: None, False, an empty list or text (0 is a value, although 0 == False in Python)."""
    return value is None or value is False or (isinstance(value, (list, str)) and len(value) == 0)


def argv_hash(host: str | None, argv: list[str]) -> str:
    """The hash an approval records and the executor checks: the same host and the same argv, byte for byte."""
    return hashlib.sha256(json.dumps({"host": host, "argv": list(argv)}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()


class Catalogue:
    """All tools and actions, indexed by name and by (program, subcommand)."""

    def __init__(self, tools: list[ToolSpec], *, sets: dict[str, Any] | None = None, source: str = "config/tools"):
        self._tools = {t.name: t for t in tools}
        self.source = source
        self.sets = sets or {}
        self._by_command: dict[tuple[str, tuple[str, ...]], list[ToolSpec]] = {}
        for tool in tools:
            self._by_command.setdefault((tool.program, tuple(tool.subcommand)), []).append(tool)

    def tools(self, kind: str | None = None) -> list[ToolSpec]:
        return [t for t in self._tools.values() if kind is None or t.kind == kind]

    def get(self, name: str) -> ToolSpec:
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(name) from None

    def for_command(self, program: str, subcommand: tuple[str, ...]) -> list[ToolSpec]:
        return self._by_command.get((program, subcommand), [])

    # ---------------------------------------------------------- validation

    def spec_of(self, name: str) -> ToolSpec:
        tool = self._tools.get(name)
        if tool is None:
            close = [n for n in self._tools if n.split(".")[-1] == name.split(".")[-1] or n.startswith(name.split(".")[0] + ".")][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownToolError(f"no tool named {name!r} in the catalogue{hint}")
        return tool

    def validate_params(self, tool: ToolSpec, params: dict[str, Any]) -> dict[str, Any]:
        """Every parameter through its type; defaults filled; unknown or missing ones refused."""
        unknown = sorted(set(params) - set(tool.params))
        if unknown:
            raise ToolParamError(f"{tool.name}: unknown parameter(s) {', '.join(unknown)} (it takes {', '.join(tool.params) or 'none'})")
        out: dict[str, Any] = {}
        for key, spec in tool.params.items():
            value = params.get(key)
            if value is None or (isinstance(value, (list, str)) and len(value) == 0):
                if spec.required:
                    raise ToolParamError(f"{tool.name}: parameter `{key}` is required ({spec.description or spec.type})")
                value = spec.default
                if value is None:
                    out[key] = None
                    continue
            try:
                out[key] = validate(spec.type, value, self._resolved_options(spec))
            except ParamTypeError as exc:
                raise ToolParamError(f"{tool.name}: parameter `{key}`: {exc}") from None
            if spec.type == "bool" and out[key] is False:  # one canonical form: an unset flag is absent
                if spec.default is True:
                    raise ToolParamError(f"{tool.name}: parameter `{key}` is always on for this tool")
                out[key] = None
        for refusal in tool.refuse:
            import jmespath

            if jmespath.search(refusal.when, out):
                raise ToolParamError(f"{tool.name}: {refusal.why}")
        return out

    def _resolved_options(self, spec: ParamSpec) -> dict[str, Any]:
        options = spec.type_options()
        for key, set_name in (("roots", "path_sets"), ("hosts", "url_hosts")):
            value = options.get(key)
            if isinstance(value, str):
                named = (self.sets.get(set_name) or {}).get(value)
                if named is None:
                    raise ConfigError(f"{self.source}: unknown {set_name} entry {value!r}")
                if key == "roots":
                    options["roots"] = named.get("allow", [])
                    options["deny"] = list(options.get("deny") or []) + list(named.get("deny", []))
                else:
                    options["hosts"] = named
        return options

    # ----------------------------------------------------------- rendering

    def render(self, call: ToolCall, grammars: Any = None) -> RenderedCall:
        """Validate and render a call: the argv that an approval shows and the executor runs."""
        tool = self.spec_of(call.tool)
        params = self.validate_params(tool, call.params)
        if grammars is None:
            from tools.command_rules import default_grammars

            grammars = default_grammars()
        argv = render_argv(tool, params, grammars)
        return RenderedCall(tool=tool.name, kind=tool.kind, params=params, host=call.host, argv=argv,
                            argv_hash=argv_hash(call.host, argv), scope=tool.scope)

    def identity(self, tool: ToolSpec, params: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What replay compares: the tool and its identifying parameters (canonical values)."""
        items = tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in params.items()
                             if tool.params[k].role == "identifying" and not absent(v)))
        return tool.name, items

    def context(self, tool: ToolSpec, params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if tool.params[k].role == "context" and not absent(v)}


def render_argv(tool: ToolSpec, params: dict[str, Any], grammars: Any) -> list[str]:
    """The argv as the program reads it: options in their canonical, unambiguous spellings, in declared order.

    Programs that read their global options only before the subcommand (git, docker, ip, redis-cli) get those
    first; everything else follows the subcommand words, then the positionals in order.
    """
    from tools.argv_grammar import render_option

    program = grammars.program(tool.program)
    if program is None:
        raise ConfigError(f"tool {tool.name}: program {tool.program!r} has no grammar in commands.yaml")
    style, tables = grammars.style_and_tables(tool.program, tuple(tool.subcommand))
    leading_globals = bool(tool.subcommand) and not program.global_anywhere

    def spec_for(option: str):
        for table in tables:
            spec = table.option(option)
            if spec is not None:
                return spec, table is program and len(tables) > 1
        raise ConfigError(f"tool {tool.name}: option {option!r} is not in the grammar of `{tool.program} {' '.join(tool.subcommand)}`")

    before: list[str] = []
    after: list[str] = []

    def add(option: str, value: str | None, *, many: list[str] | None = None) -> None:
        spec, is_global = spec_for(option)
        words = [spec.name, *many] if many is not None else render_option(spec, value, style)
        (before if leading_globals and is_global else after).extend(words)

    for option in tool.presentation:
        name, eq, value = option.partition("=")
        add(name, value if eq else None)
    for option, value in tool.fixed.items():
        if option != tool.sql_option:
            add(option, value)
    for key, spec in tool.params.items():
        value = params.get(key)
        if spec.flag_choice:
            if not absent(value):
                add(str(value), None)
            continue
        if spec.option is None or absent(value):
            continue
        option_spec, _ = spec_for(spec.option)
        if spec.type == "bool":
            add(spec.option, None if option_spec.arity == 0 else "true")
        elif spec.many and option_spec.arity == "many":
            add(spec.option, None, many=[str(v) for v in value])
        elif spec.many:
            for item in value:
                add(spec.option, str(item))
        else:
            add(spec.option, str(value))
    if tool.sql is not None:
        add(tool.sql_option or "", SqlTemplate(tool.sql, dialect=tool.dialect or "").render(params))
    for option, value in tool.trailing.items():
        add(option, value)
    positional = sorted((s.positional, k) for k, s in tool.params.items() if s.positional is not None and s.option is None)
    words: list[str] = []
    for _, key in positional:
        value = params.get(key)
        if absent(value):
            continue
        words += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    sub = grammars.subcommand(tool.program, tuple(tool.subcommand))
    if program.positionals_first or (sub is not None and sub.positionals_first):
        return [tool.program, *before, *tool.subcommand, *words, *after]
    return [tool.program, *before, *tool.subcommand, *after, *words]


# ------------------------------------------------------------------- loading


class _FamilyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    family: str
    description: str = ""
    defaults: dict[str, Any] = Field(default_factory=dict)  # merged into every entry (program, sql_option, shared params)
    tools: dict[str, dict[str, Any]] = Field(default_factory=dict)


def load_catalogue(folder: str | Path) -> Catalogue:
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"tool catalogue not found: {folder} (restore config/tools or set CLOUD_DOCTOR_CONFIG_DIR)")
    sets: dict[str, Any] = {}
    tools: list[ToolSpec] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
        if path.name == "sets.yaml":
            sets = raw
            continue
        try:
            family = _FamilyFile.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"{path}: {_first_error(exc)}") from None
        for name, body in family.tools.items():
            merged = _merge(family.defaults, body)
            try:
                tools.append(ToolSpec.model_validate({**merged, "name": name, "family": family.family}))
            except ValidationError as exc:
                raise ConfigError(f"{path}: tools.{name}: {_first_error(exc)}") from None
    names = [t.name for t in tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{folder}: tool names defined twice: {', '.join(duplicates)}")
    catalogue = Catalogue(tools, sets=sets, source="config/tools" if folder.name == "tools" else str(folder))
    _check_references(catalogue)
    return catalogue


def _merge(defaults: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    for key, value in body.items():
        if key == "params" and isinstance(value, dict):
            out["params"] = {**(defaults.get("params") or {}), **value}
        else:
            out[key] = value
    if body.get("params") is None and "params" in defaults:
        out["params"] = dict(defaults["params"])
    if "params" in out:  # `name: null` in an entry drops a parameter the family's defaults give
        out["params"] = {k: v for k, v in out["params"].items() if v is not None}
    return out


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def _check_references(catalogue: Catalogue) -> None:
    for tool in catalogue.tools():
        for check in (tool.precondition, tool.verification):
            if check is not None:
                read = catalogue._tools.get(check.tool)
                if read is None or read.kind != "read":
                    raise ConfigError(f"{catalogue.source}: {tool.name}: check tool {check.tool!r} is not a read tool")
                for value in check.params.values():
                    filters = _CHECK_PLACEHOLDER.fullmatch(value).group(2) if isinstance(value, str) and _CHECK_PLACEHOLDER.fullmatch(value) else ""
                    unknown = [f for f in filters.split("|") if f and f not in _CHECK_FILTERS]
                    if unknown:
                        raise ConfigError(f"{catalogue.source}: {tool.name}: unknown check filter {unknown[0]!r} in {value!r}")
        if tool.rollback is not None and tool.rollback.action is not None:
            back = catalogue._tools.get(tool.rollback.action)
            if back is None or back.kind != "action":
                raise ConfigError(f"{catalogue.source}: {tool.name}: rollback {tool.rollback.action!r} is not an action")


@lru_cache(maxsize=4)
def _cached(folder: str, stamp: float) -> Catalogue:
    return load_catalogue(folder)


def default_catalogue() -> Catalogue:
    """The catalogue the product uses (reloaded when a file in it changes)."""
    from config.settings import get_settings

    folder = get_settings().config_dir / "tools"
    if not folder.is_dir():
        from config.settings import CONFIG_DIR

        folder = CONFIG_DIR / "tools"
    stamp = max((p.stat().st_mtime for p in folder.glob("*.yaml")), default=0.0)
    return _cached(str(folder), stamp)


_CHECK_FILTERS: dict[str, Callable[[Any], Any]] = {
    "first": lambda v: v[0] if isinstance(v, list) and v else None,
    "parent": lambda v: posixpath.dirname(v) if isinstance(v, str) else None,
}
_CHECK_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)((?:\|[a-z]+)*)\}")


def fill_check_params(check: Check, params: dict[str, Any]) -> dict[str, Any]:
    """A check's parameters: literal values, or "{name}" taking the action's validated value, optionally through
    filters ("{paths|first|parent}": the directory above the first path); the read validates the result again."""
    out: dict[str, Any] = {}
    for key, value in check.params.items():
        if isinstance(value, str):
            whole = _CHECK_PLACEHOLDER.fullmatch(value)
            if whole:
                filled = params.get(whole.group(1))
                for name in filter(None, whole.group(2).split("|")):
                    filled = _CHECK_FILTERS[name](filled) if filled is not None else None
                out[key] = filled
                continue
        out[key] = value
    return out
