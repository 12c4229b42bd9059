"""Program grammars: how each real program reads its argv, written down as data.

The guard's old weakness was a generic parser that disagreed with the real
programs (a global flag eating the subcommand, an optional-argument flag
swallowing the next option, abbreviations, combined short flags). Here each
program declares its option syntax (`style`), every option it may take with
its exact arity, its global options and its subcommands (config/commands.yaml).
`parse_argv` reads an argv the way that program does and returns a canonical
`ParsedCommand`; anything it cannot read exactly as the program would (an
unknown or abbreviated option, a missing value) is a `GrammarError`, which
the guard turns into a refusal. Never guess: a guess is a hole.

Styles (what the real parsers do):
- `gnu`: getopt_long with argument permutation: options anywhere before `--`,
  `--long=value` or `--long value`, combined short flags (`-tanp`), a short
  flag's value glued or as the next word; an optional argument is taken only
  when glued (`-L=always`, `--color=always`) unless the option `peek`s (systemd's
  `journalctl -n 20`: the next word is taken only when it looks like a value).
- `cobra`: kubectl's pflag: like gnu, plus `-n=value` and `--bool=false`.
- `curl`: like gnu, but a long option's value is always the next word (no `=`).
- `leading`: options only before the first positional; everything after it is
  arguments (redis-cli, ip); no combined short flags.
- `go`: Go's flag package (terraform): `-flag` or `--flag`, `-flag=value`,
  parsing stops at the first positional; no combined flags.
- `single_dash`: `-name value` options anywhere, no combining (find, openssl).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

Style = Literal["gnu", "cobra", "curl", "leading", "go", "single_dash"]
Arity = Literal[0, 1, "optional", "many"]
OptionVerdict = Literal["neutral", "approve", "forbid"]
Otherwise = Literal["approve", "forbid"]


class GrammarError(Exception):
    """The argv cannot be read exactly as the program reads it; `rule` names the part of the grammar."""

    def __init__(self, rule: str, reason: str):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


class OptionSpec(BaseModel):
    """One option as the program knows it. `name` is the canonical spelling (the long form where one exists)."""

    model_config = ConfigDict(extra="forbid")
    name: str = ""
    spellings: list[str] = Field(default_factory=list)  # every accepted spelling, canonical first
    arity: Arity = 0
    peek: str | None = None  # optional arity: also take the next word when it fully matches this regex
    value_pattern: str | None = None  # the value must fully match, else the command is forbidden
    verdict: OptionVerdict = "neutral"
    why: str = ""  # said when the option raises the verdict

    def takes_next_word(self, word: str) -> bool:
        return self.peek is not None and re.fullmatch(self.peek, word) is not None


class PositionalRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: int = 0
    max: int | None = None
    pattern: str | None = None  # every positional must fully match
    each: list[str] | None = None  # a pattern per position; the last one repeats


class PathsRule(BaseModel):
    """Positionals (after the data ones) are absolute paths, checked against the deny globs of sets.yaml."""

    model_config = ConfigDict(extra="forbid")
    required: bool = False


class SecretKindsRule(BaseModel):
    """Kinds whose content is secret: they may be listed or described, never printed (`kubectl get secret -o yaml`)."""

    model_config = ConfigDict(extra="forbid")
    kinds: list[str]
    output_option: str = "--output"
    template_options: list[str] = Field(default_factory=list)
    safe_outputs: list[str] = Field(default_factory=list)


class CommandGrammar(BaseModel):
    """A program, or one of its subcommands."""

    model_config = ConfigDict(extra="forbid")
    style: Style | None = None  # None: the parent's
    options: dict[str, OptionSpec] = Field(default_factory=dict)
    positionals: PositionalRule = Field(default_factory=PositionalRule)
    subcommands: dict[str, "CommandGrammar"] | None = None
    global_anywhere: bool = False  # the program's own options are also read after the subcommand (kubectl, systemctl)
    otherwise: Otherwise = "approve"  # a well-formed command that matches no catalogue entry
    why: str = ""  # shown with `forbid` programs and subcommands
    word_aliases: dict[str, str] = Field(default_factory=dict)  # subcommand abbreviations the program itself expands (`ip a`)
    canonical: str | None = None  # the full subcommand this one means (`ip address` is `ip address show`)
    case_insensitive_words: bool = False  # redis-cli: `info` == `INFO`
    secret_kinds: SecretKindsRule | None = None
    sql_option: str | None = None  # the option whose value is a SQL statement: only named queries run
    positionals_first: bool = False  # render positionals before options (find's paths, ps's BSD words, kubectl's kinds)
    ordered: bool = False  # options mean something in their order (find's expression): a command matches only in the catalogue's order
    split_positional: str | None = None  # kubectl reads `deployment/api` as two words
    any_long_options: bool = False  # unknown `--name [value]` options are read (never allowed: `otherwise` decides)
    paths: PathsRule | None = None
    data_positionals: int = 0  # leading positionals that are data, not paths (grep's pattern, sed's script)
    pattern_option: str | None = None  # when given, the pattern is not a positional (grep -e)
    required_options: list[str] = Field(default_factory=list)  # one of these must be present
    url_hosts: str | None = None  # positionals are URLs to hosts of this sets.yaml url_hosts entry
    path_options: list[str] = Field(default_factory=list)  # option values that are paths (openssl -in)
    forbidden_values: str | None = None  # no option value or positional may fully match this (aws `file://`)
    _by_spelling: dict[str, OptionSpec] = PrivateAttr(default_factory=dict)

    @field_validator("options", mode="before")
    @classmethod
    def _expand_option_shorthand(cls, value: Any) -> Any:
        """YAML shorthand: `"--lines/-n": optional` or `"--unit/-u": 1` or `"--x": {arity: 1, verdict: forbid}`."""
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, spec in value.items():
            spellings = [s.strip() for s in str(key).split("/") if s.strip()]
            if isinstance(spec, dict):
                body = dict(spec)
            elif spec in (0, 1, "optional", "many"):
                body = {"arity": spec}
            elif spec in ("forbid", "approve"):
                body = {"verdict": spec}
            else:
                raise ValueError(f"option {key!r}: expected 0, 1, optional, forbid, approve or a mapping")
            body.setdefault("spellings", spellings)
            body.setdefault("name", spellings[0])
            out[spellings[0]] = body
        return out

    @model_validator(mode="after")
    def _index_spellings(self) -> "CommandGrammar":
        for spec in self.options.values():
            for spelling in spec.spellings or [spec.name]:
                self._by_spelling[spelling] = spec
        return self

    def option(self, spelling: str) -> OptionSpec | None:
        return self._by_spelling.get(spelling)


class ProgramGrammar(CommandGrammar):
    """A program's grammar: its global options, and its subcommands when it has them."""


class ParsedCommand(BaseModel):
    """An argv read as its program reads it: options by canonical name, in order, and positionals."""

    program: str
    subcommand: tuple[str, ...] = ()
    options: list[tuple[str, str | None]] = Field(default_factory=list)
    positionals: list[str] = Field(default_factory=list)

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.options)

    def values(self, name: str) -> list[str | None]:
        return [v for n, v in self.options if n == name]

    def label(self) -> str:
        return " ".join((self.program, *self.subcommand))


# ----------------------------------------------------------------------- parsing


def parse_argv(argv: list[str], grammar: ProgramGrammar, *, source: str = "commands.yaml") -> tuple[ParsedCommand, CommandGrammar]:
    """Read `argv` (program first) as the program does. Returns the parse and the grammar of its subcommand."""
    program, args = argv[0], list(argv[1:])
    where = f"{source}: programs.{program}"
    style = grammar.style or "gnu"
    if grammar.subcommands is None:
        options, positionals = _parse_options(args, [grammar], style, where)
        positionals = _split(positionals, grammar)
        _check_positionals(positionals, grammar, where)
        return ParsedCommand(program=program, options=options, positionals=positionals), grammar
    # Global options come first, read with the program's own table, up to the first positional: the subcommand.
    lead_options, rest = _parse_leading(args, grammar, style, where)
    words, sub, sub_key, rest = _find_subcommand(rest, grammar, where)
    sub_where = f"{where}.subcommands.{sub_key}"
    tables = [sub, grammar] if grammar.global_anywhere else [sub]
    options, positionals = _parse_options(rest, tables, sub.style or style, sub_where)
    positionals = _split(positionals, grammar)
    _check_positionals(positionals, sub, sub_where)
    words = sub.canonical.split() if sub.canonical else words
    return ParsedCommand(program=program, subcommand=tuple(words), options=lead_options + options, positionals=positionals), sub


def _split(positionals: list[str], grammar: CommandGrammar) -> list[str]:
    if not grammar.split_positional:
        return positionals
    if not positionals or grammar.split_positional not in positionals[0]:
        return positionals
    return [*positionals[0].split(grammar.split_positional, 1), *positionals[1:]]  # only the resource (TYPE/NAME) is split


def _parse_leading(args: list[str], grammar: CommandGrammar, style: Style, where: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Options before the subcommand word: only the program's global options, read in its style."""
    options: list[tuple[str, str | None]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not _is_option(arg, style):
            break
        consumed, found = _read_option(args, i, [grammar], style, where)
        options += found
        i += consumed
    return options, args[i:]


def _find_subcommand(rest: list[str], grammar: CommandGrammar, where: str) -> tuple[list[str], CommandGrammar, str, list[str]]:
    subs = grammar.subcommands or {}
    if not rest:
        raise GrammarError(f"{where}.subcommands", f"`{where.rsplit('.', 1)[-1]}` needs a subcommand here")
    words = [_word(w, grammar) for w in rest[:2]]
    for n in (2, 1):
        key = " ".join(words[:n])
        if len(words) >= n and key in subs:
            return words[:n], subs[key], key, rest[n:]
    for n in (2, 1):  # patterns (`* describe-*` for the aws CLI), in the order written
        key = " ".join(words[:n])
        if len(words) < n or any(w.startswith("-") for w in words[:n]):
            continue
        for pattern, sub in subs.items():
            if "*" in pattern and len(pattern.split()) == n and fnmatch.fnmatchcase(key, pattern):
                return words[:n], sub, pattern, rest[n:]
    shown = " ".join(rest[:2])
    raise GrammarError(f"{where}.subcommands", f"`{shown}` is not a subcommand {where.rsplit('.', 1)[-1]} may run here")


def _word(word: str, grammar: CommandGrammar) -> str:
    w = word.lower() if grammar.case_insensitive_words else word
    return grammar.word_aliases.get(w, w)


def _is_option(arg: str, style: Style) -> bool:
    return arg.startswith("-") and arg != "-" and len(arg) > 1


def _parse_options(args: list[str], tables: list[CommandGrammar], style: Style, where: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    options: list[tuple[str, str | None]] = []
    positionals: list[str] = []
    i = 0
    stop = False  # `--`, or the first positional for styles that do not permute
    while i < len(args):
        arg = args[i]
        if stop:
            positionals.append(arg)
            i += 1
        elif arg == "--":
            stop = True
            i += 1
        elif not _is_option(arg, style):
            positionals.append(arg)
            stop = style in ("leading", "go")
            i += 1
        else:
            consumed, found = _read_option(args, i, tables, style, where)
            options += found
            i += consumed
    return options, positionals


_ANY_LONG = OptionSpec(name="", spellings=[], arity="optional", peek=r"[^-].*")


def _lookup(spelling: str, tables: list[CommandGrammar]) -> OptionSpec | None:
    for table in tables:
        spec = table.option(spelling)
        if spec is not None:
            return spec
    if spelling.startswith("--") and any(t.any_long_options for t in tables):
        return _ANY_LONG.model_copy(update={"name": spelling, "spellings": [spelling]})
    return None


def _unknown(spelling: str, where: str) -> GrammarError:
    return GrammarError(f"{where}.options", f"option `{spelling}` is not in the allow-list (abbreviations and unknown options are refused)")


def _read_option(args: list[str], i: int, tables: list[CommandGrammar], style: Style, where: str) -> tuple[int, list[tuple[str, str | None]]]:
    """Read the option at args[i]; returns (words consumed, [(canonical name, value)])."""
    arg = args[i]
    following = args[i + 1:]
    if style in ("go", "single_dash", "leading") or arg.startswith("--"):
        head, eq, glued = arg.partition("=")
        if style == "go" and head.startswith("--"):
            head = head[1:]  # Go's flag package reads --flag as -flag
        spec = _lookup(head, tables)
        if spec is None:
            raise _unknown(head, where)
        if eq and style in ("single_dash", "leading", "curl"):
            raise GrammarError(f"{where}.options", f"`{head}` takes its value as the next word here, not after `=`")
        return _take_value(spec, head, glued if eq else None, following, style, where)
    # A short option cluster: -tanp, -n200, -sX DELETE
    found: list[tuple[str, str | None]] = []
    j = 1
    while j < len(arg):
        spelling = "-" + arg[j]
        spec = _lookup(spelling, tables)
        if spec is None:
            raise _unknown(spelling if len(arg) == 2 else f"{spelling}` (in `{arg}`)", where)
        rest = arg[j + 1:]
        if spec.arity == 0:
            if style == "cobra" and rest.startswith("="):
                consumed, more = _take_value(spec, spelling, rest[1:], [], style, where)
                return consumed, found + more
            found.append((spec.name, None))
            j += 1
            continue
        if rest:
            value = rest[1:] if style == "cobra" and rest.startswith("=") else rest
            consumed, more = _take_value(spec, spelling, value, following, style, where)
            return consumed, found + more
        consumed, more = _take_value(spec, spelling, None, following, style, where)
        return consumed, found + more
    return 1, found


def _take_value(spec: OptionSpec, spelling: str, glued: str | None, following: list[str], style: Style,
                where: str) -> tuple[int, list[tuple[str, str | None]]]:
    nxt = following[0] if following else None
    if spec.arity == 0:
        if glued is not None:
            if style in ("cobra", "go") and glued in ("true", "false"):
                return 1, [(spec.name, glued)]
            raise GrammarError(f"{where}.options", f"`{spelling}` takes no value")
        return 1, [(spec.name, None)]
    if spec.arity == 1:
        if glued is not None:
            return 1, [(spec.name, glued)]
        if nxt is None:
            raise GrammarError(f"{where}.options", f"`{spelling}` needs a value")
        return 2, [(spec.name, nxt)]
    if spec.arity == "many":  # argparse's nargs='+': the following words up to the next option
        values = [glued] if glued is not None else []
        taken = 0
        for word in following:
            if word.startswith("-"):
                break
            values.append(word)
            taken += 1
        if not values:
            raise GrammarError(f"{where}.options", f"`{spelling}` needs at least one value")
        return 1 + taken, [(spec.name, v) for v in values]
    # optional: only a glued value, or (peek) a next word that looks like one
    if glued is not None:
        return 1, [(spec.name, glued)]
    if nxt is not None and spec.takes_next_word(nxt):
        return 2, [(spec.name, nxt)]
    return 1, [(spec.name, None)]


def _check_positionals(positionals: list[str], grammar: CommandGrammar, where: str) -> None:
    rule = grammar.positionals
    if rule.max is not None and len(positionals) > rule.max:
        raise GrammarError(f"{where}.positionals", f"at most {rule.max} argument(s) here (got {len(positionals)})")
    if len(positionals) < rule.min:
        raise GrammarError(f"{where}.positionals", f"at least {rule.min} argument(s) needed here")
    for index, arg in enumerate(positionals):
        pattern = rule.each[min(index, len(rule.each) - 1)] if rule.each else rule.pattern
        if pattern and not re.fullmatch(pattern, arg):
            raise GrammarError(f"{where}.positionals", f"argument `{arg[:80]}` is not of the allowed form")


# --------------------------------------------------------------------- rendering


def render_option(spec: OptionSpec, value: str | None, style: Style) -> list[str]:
    """The unambiguous spelling of one option: `--name=value` where the style allows, else two words."""
    name = spec.name
    if value is None:
        return [name]
    if spec.arity == "optional" and not name.startswith("--") and len(name) == 2:
        return [f"{name}{value}"]  # getopt reads a short option's optional value only glued: -i:5432
    if spec.arity == "optional" or (style in ("gnu", "cobra", "go") and name.startswith("--")):
        return [f"{name}={value}"]
    if style == "go":
        return [f"{name}={value}"]
    return [name, value]
