"""Reading a free-form command back into a catalogue call.

An operator's `kubectl -n shop get rs -o wide`, a playbook step written as a
string, a model's suggested command and a scenario's recorded command are all
matched here: the argv is read with the program's grammar (so option order
and spelling do not matter), then bound to a catalogue entry's fixed options,
parameters and named query. Binding is exact: an option the entry does not
take, a missing fixed option or a value its type refuses means no match.
What runs after a match is always the entry's own rendering, never the text
that was matched.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from tools.argv_grammar import ParsedCommand
from tools.catalogue import Catalogue, RenderedCall, ToolCall, ToolParamError, ToolSpec
from tools.command_rules import CommandRules


class ToolMatch(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    tool: ToolSpec
    params: dict[str, Any]
    rendered: RenderedCall


class _Miss(Exception):
    pass


def bind(tool: ToolSpec, parsed: ParsedCommand, *, partial: bool = False) -> dict[str, Any]:
    """The raw parameter values this parse gives the tool (validation comes after), or _Miss.

    `partial`: the parse is a prefix of a command (an expected evidence line): fixed options and the
    statement may be missing."""
    by_option = {p.option: key for key, p in tool.params.items() if p.option is not None}
    choice_of = {choice: key for key, p in tool.params.items() if p.flag_choice for choice in (p.choices or [])}
    raw: dict[str, Any] = {}
    seen_fixed: set[str] = set()
    statement: str | None = None
    presentation = tool.presentation_names()
    for name, value in parsed.options:
        if name in presentation:
            continue
        if tool.sql is not None and name == tool.sql_option:
            if statement is not None:
                raise _Miss("more than one statement")
            statement = value
            continue
        if name in tool.fixed or name in tool.trailing:
            want = tool.fixed.get(name, tool.trailing.get(name))
            if want != value:
                raise _Miss(f"{name} is {value!r}, not {want!r}")
            seen_fixed.add(name)
            continue
        if name in choice_of:
            if choice_of[name] in raw:
                raise _Miss(f"{name} and {raw[choice_of[name]]} given together")
            raw[choice_of[name]] = name
            continue
        key = by_option.get(name)
        if key is None:
            raise _Miss(f"option {name} is not a parameter of {tool.name}")
        spec = tool.params[key]
        item: Any = (True if value is None else value) if spec.type == "bool" else value
        if spec.many:
            raw.setdefault(key, []).append(item)
        elif key in raw:
            raise _Miss(f"{name} given twice")
        else:
            raw[key] = item
    missing = [n for n in [*tool.fixed, *tool.trailing] if n != tool.sql_option and n not in seen_fixed]
    if missing and not partial:
        raise _Miss(f"{tool.name} always has {', '.join(missing)}")
    if tool.sql is not None and not (partial and statement is None):
        if statement is None:
            raise _Miss("no statement")
        slots = next((found for t in tool.sql_templates() if (found := t.match(statement)) is not None), None)
        if slots is None:
            raise _Miss(f"the statement is not {tool.name}'s query")
        raw.update(slots)
    slots = [k for _, k in sorted((s.positional, k) for k, s in tool.params.items() if s.positional is not None and k not in raw)]
    for word in parsed.positionals:
        key = next((k for k in slots if tool.params[k].word_pattern is None or re.fullmatch(tool.params[k].word_pattern or "", word)), None)
        if key is None:
            raise _Miss(f"argument {word[:40]!r} is more than {tool.name} takes")
        if tool.params[key].many:
            raw.setdefault(key, []).append(word)
        else:
            raw[key] = word
            slots = [k for k in slots if k != key]
    return raw


def match_parsed(parsed: ParsedCommand, catalogue: Catalogue, rules: CommandRules) -> tuple[ToolMatch | None, list[str]]:
    """The first catalogue entry this command is, and why the near candidates were not."""
    misses: list[str] = []
    for tool in catalogue.for_command(parsed.program, parsed.subcommand):
        try:
            raw = bind(tool, parsed)
        except _Miss as miss:
            misses.append(f"{tool.name}: {miss}")
            continue
        try:
            rendered = catalogue.render(ToolCall(tool=tool.name, params=raw), rules)
        except ToolParamError as exc:
            misses.append(str(exc))
            continue
        grammar = rules.program(parsed.program)
        if tool.kind == "action" and grammar is not None and grammar.ordered and not _same_order(parsed, rendered.argv, rules):
            misses.append(f"{tool.name}: its options mean something in their order, and these are not in {tool.name}'s order")
            continue
        return ToolMatch(tool=tool, params=rendered.params, rendered=rendered), misses
    return None, misses


def _same_order(parsed: ParsedCommand, rendered: list[str], rules: CommandRules) -> bool:
    from tools.argv_grammar import parse_argv

    again, _ = parse_argv(rendered, rules.programs[parsed.program], source=rules.source)
    return [n for n, _ in parsed.options] == [n for n, _ in again.options]


# ------------------------------------------------------------- command templates

_PLACEHOLDER = re.compile(r"(?<!\{)\{([a-z_][a-z0-9_]*)\}(?!\})")


class TemplateError(ValueError):
    """A command template (an operator's playbook step) that is no catalogue read."""


def template_to_call(template: str, catalogue: Catalogue, rules: CommandRules) -> tuple[str, dict[str, Any]]:
    """`kubectl describe pod {pod} -n {namespace}` -> ("kubernetes.describe", {kind: pods, name: "{pod}", namespace: "{namespace}"}).

    Placeholders stand for whole values or parts of values; they are filled and type-checked when the step runs.
    Values without placeholders are validated now, so a bad step fails at load time, naming itself.
    """
    import shlex

    from tools.argv_grammar import GrammarError, parse_argv
    from tools.param_types import ParamTypeError, validate

    names: list[str] = []

    def sentinel(m: re.Match[str]) -> str:
        names.append(m.group(1))
        return f"cdph{len(names) - 1}z"

    text = _PLACEHOLDER.sub(sentinel, template).replace("{{", "{").replace("}}", "}")
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise TemplateError(f"does not parse ({exc})") from None
    if not argv:
        raise TemplateError("is empty")
    grammar = rules.program(argv[0])
    if grammar is None:
        raise TemplateError(f"`{argv[0]}` is not a program commands.yaml knows")
    try:
        parsed, _ = parse_argv(argv, grammar, source=rules.source)
    except GrammarError as exc:
        raise TemplateError(exc.reason) from None
    misses: list[str] = []
    for tool in catalogue.for_command(parsed.program, parsed.subcommand):
        try:
            raw = bind(tool, parsed)
        except _Miss as miss:
            misses.append(f"{tool.name}: {miss}")
            continue
        try:
            params = _restore(raw, names)
            for key, value in params.items():
                if not _has_placeholder(value):
                    spec = tool.params[key]
                    params[key] = validate(spec.type, value, catalogue._resolved_options(spec))
        except ParamTypeError as exc:
            misses.append(f"{tool.name}: {exc}")
            continue
        if tool.kind != "read":
            raise TemplateError(f"is the action {tool.name}: playbooks only read")
        return tool.name, params
    raise TemplateError("is no catalogue read" + (f" ({misses[0]})" if misses else ""))


def _restore(value: Any, names: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _restore(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, names) for v in value]
    if isinstance(value, str):
        return re.sub(r"cdph(\d+)z", lambda m: "{" + names[int(m.group(1))] + "}", value)
    return value


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_placeholder(v) for v in value)
    return isinstance(value, str) and _PLACEHOLDER.search(value) is not None


# ------------------------------------------------------------- comparing commands


def covers(expected: str, command: str, catalogue: Catalogue, rules: CommandRules) -> bool:
    """Is `command` (what ran) the read `expected` names, perhaps as a prefix: `kubectl describe pod` covers
    `kubectl describe pods api-0 --namespace=shop`, `journalctl -u api` covers `journalctl --unit=api.service
    --lines=200`. Same catalogue entry, and every parameter the expected words give has the same typed value."""
    import shlex

    from tools.argv_grammar import GrammarError, parse_argv
    from tools.guard import judge_command
    from tools.param_types import ParamTypeError, validate

    verdict = judge_command(command, catalogue=catalogue, rules=rules)
    if verdict.tool is None:
        return False
    tool = catalogue.get(verdict.tool)
    try:
        words = shlex.split(expected)
    except ValueError:
        return False
    grammar = rules.program(words[0]) if words else None
    if grammar is None or words[0] != tool.program:
        return False
    while words:  # an expected line may stop mid-option (`mysql -e`): read the longest prefix that parses
        try:
            parsed, _ = parse_argv(words, grammar, source=rules.source)
            break
        except GrammarError:
            words = words[:-1]
    else:
        return False
    if len(words) == 1:
        return True
    if parsed.subcommand and tuple(parsed.subcommand) != tuple(tool.subcommand):
        return False
    try:
        raw = bind(tool, parsed, partial=True)
    except _Miss:
        return False
    for key, value in raw.items():
        spec = tool.params[key]
        try:
            want = validate(spec.type, value, catalogue._resolved_options(spec))
        except ParamTypeError:
            return False
        have = verdict.params.get(key)
        if spec.many:
            if not set(map(str, want)) <= set(map(str, have or [])):
                return False
        elif want != have:
            return False
    return True
