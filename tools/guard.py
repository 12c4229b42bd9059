"""The guard: decides allow / approve / forbid for a command before anything runs.

Layers, each of which can only make the verdict stricter:
1. Shell syntax: `;`, `&&`, `|`, `$()`, backticks, redirections and newlines
   outside quotes are refused outright (one plain command, run as argv).
2. The program: unknown programs and `forbidden_programs` never run.
3. The grammar (config/commands.yaml, tools/argv_grammar.py): the argv is read
   exactly as the real program reads it — global options with their arity,
   optional-argument options, combined short flags; an unknown or
   abbreviated option is refused. Options marked forbid, values outside their
   pattern, denied paths, URLs to other hosts, a Secret's content and SQL that
   is not a named query forbid the command: forbid wins.
4. The catalogue (config/tools/): a command that *is* a read tool is allowed,
   one that is an action needs approval, and what runs is the tool's own
   rendering (`CommandVerdict.rendered`). Anything else gets the grammar's
   `otherwise` (approve at most): nothing outside the catalogue runs without
   approval.

`cloud-doctor guard`, the executors and every agent call this one function.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

from graphs.state import CommandVerdict
from tools.argv_grammar import CommandGrammar, GrammarError, ParsedCommand, ProgramGrammar, parse_argv
from tools.catalogue import Catalogue, default_catalogue
from tools.command_rules import CommandRules, default_rules
from tools.param_types import ParamTypeError, validate

SEVERITY = {"allow": 0, "approve": 1, "forbid": 2}
SHELL_OPERATORS = set(";&|<>()")


@dataclass
class _Finding:
    verdict: str
    rule: str
    reason: str


class _Refused(Exception):
    def __init__(self, rule: str, reason: str):
        super().__init__(reason)
        self.rule, self.reason = rule, reason


def judge_command(command: str | list[str], environment: str = "dev", *, rules: CommandRules | None = None,
                  catalogue: Catalogue | None = None) -> CommandVerdict:
    """Judge one command (a string as typed, or an argv list) for an environment."""
    rules = rules or default_rules()
    try:
        argv = _to_argv(command)
    except _Refused as refused:
        return CommandVerdict(verdict="forbid", rule=refused.rule, reason=refused.reason)
    program = argv[0]
    if "/" in program:
        return _verdict("forbid", "syntax: program path", f"name the program without a path (`{posixpath.basename(program)}`), so its rules apply", argv)
    if program in rules.forbidden_programs:
        return _verdict("forbid", f"{rules.source}: forbidden_programs.{program}", f"`{program}` is forbidden by {rules.source}: {rules.forbidden_programs[program]}", argv)
    grammar = rules.program(program)
    if grammar is None:
        return _verdict("forbid", f"{rules.source}: unknown_program", f"`{program}` is not in {rules.source}; unknown programs are forbidden", argv)
    try:
        parsed, sub = parse_argv(argv, grammar, source=rules.source)
    except GrammarError as exc:
        return _verdict("forbid", exc.rule, exc.reason, argv)
    where = f"{rules.source}: programs.{program}" + (f".subcommands.{' '.join(parsed.subcommand)}" if parsed.subcommand else "")
    catalogue = catalogue or default_catalogue()
    findings = _hard_checks(parsed, grammar, sub, where, rules, catalogue)
    forbidden = [f for f in findings if f.verdict == "forbid"]
    if forbidden:
        return _verdict("forbid", forbidden[0].rule, forbidden[0].reason, argv, parsed)
    from tools.tool_match import match_parsed

    match, misses = match_parsed(parsed, catalogue, rules)
    if match is not None:
        tool = match.tool
        verdict = "allow" if tool.kind == "read" else "approve"
        reason = (f"`{parsed.label()}` is the read tool {match.rendered.label()}" if tool.kind == "read"
                  else f"`{parsed.label()}` is the action {match.rendered.label()}: {tool.changes}")
        return _verdict(verdict, f"{catalogue.source}: {tool.name}", reason, argv, parsed, match=match)
    if sub.sql_option and parsed.has(sub.sql_option):
        hint = f" ({misses[0]})" if misses else ""
        return _verdict("forbid", f"{where}.sql", f"only named queries run through `{program}`: the statement is not in the catalogue{hint}", argv, parsed)
    otherwise = sub.otherwise
    raised = [f for f in findings if f.verdict == "approve"]
    if otherwise == "forbid":
        why = f": {sub.why}" if sub.why else ""
        return _verdict("forbid", f"{where}.otherwise", f"`{parsed.label()}` runs only as a catalogue entry{why}", argv, parsed)
    if raised:
        return _verdict("approve", raised[0].rule, raised[0].reason, argv, parsed)
    near = f"; nearest: {misses[0]}" if misses else ""
    return _verdict("approve", f"{where}.otherwise", f"`{parsed.label()}` matches no catalogue entry: it runs only with approval{near}", argv, parsed)


def judge_action(action: str, environment: str = "dev", *, catalogue: Catalogue | None = None) -> CommandVerdict:
    """Judge a catalogue action by name (`kubernetes.rollout_undo`): actions need approval; unknown names are forbidden."""
    catalogue = catalogue or default_catalogue()
    try:
        tool = catalogue.get(action)
    except KeyError:
        return CommandVerdict(verdict="forbid", rule=f"{catalogue.source}: actions", reason=f"action `{action}` is not in the catalogue")
    if tool.kind != "action":
        return CommandVerdict(verdict="allow", rule=f"{catalogue.source}: {tool.name}", reason=f"`{action}` is a read tool")
    return CommandVerdict(verdict="approve", rule=f"{catalogue.source}: {tool.name}", reason=f"`{action}` {tool.changes}", tool=tool.name)


def describe(verdict: CommandVerdict) -> str:
    """One line for people: what was decided and by which rule."""
    head = {"allow": "allowed", "approve": "needs approval", "forbid": "refused"}[verdict.verdict]
    return f"{head}: {verdict.reason} ({verdict.rule})"


# --------------------------------------------------------------------- parsing


def _to_argv(command: str | list[str]) -> list[str]:
    if isinstance(command, list):
        argv = [str(a) for a in command]
        for arg in argv:
            if "\x00" in arg or "\n" in arg or "\r" in arg:
                raise _Refused("syntax: control character", "arguments may not contain newlines or NUL bytes")
            if "`" in arg or "$(" in arg or "${" in arg:
                raise _Refused("syntax: substitution", "command substitution (`$()`, `${}`, backticks) is never run")
        if not argv or not argv[0]:
            raise _Refused("syntax: empty", "empty command")
        return argv
    text = command.strip()
    if not text:
        raise _Refused("syntax: empty", "empty command")
    if any(ch in text for ch in "\n\r\x00"):
        raise _Refused("syntax: newline", "a command may not contain newlines (one command per request)")
    if "`" in text:
        raise _Refused("syntax: substitution", "backticks (command substitution) are never run")
    _check_unquoted(text)
    try:
        argv = shlex.split(text, posix=True)
    except ValueError as exc:
        raise _Refused("syntax: unparsable", f"the command does not parse ({exc})") from None
    if not argv:
        raise _Refused("syntax: empty", "empty command")
    return argv


def _check_unquoted(text: str) -> None:
    """Refuse shell operators and `$` that stand outside quotes (where a shell would act on them)."""
    quote: str | None = None
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
            continue
        if ch == "\\" and quote != "'":
            escaped = True
            continue
        if quote:
            if ch == quote:
                quote = None
            elif ch == "$" and quote == '"':
                raise _Refused("syntax: expansion", "`$` inside double quotes would be expanded by a shell; use single quotes")
            continue
        if ch in ("'", '"'):
            quote = ch
        elif ch in SHELL_OPERATORS:
            raise _Refused("syntax: shell operator", f"shell operator `{ch}` at position {i}: one plain command only (no ; && | < > or subshells)")
        elif ch == "$":
            raise _Refused("syntax: expansion", "`$` (variable or command expansion) is never passed to a shell")


# ------------------------------------------------------------------ judgement


def _hard_checks(parsed: ParsedCommand, grammar: ProgramGrammar, sub: CommandGrammar, where: str, rules: CommandRules,
                 catalogue: Catalogue) -> list[_Finding]:
    """What forbids (or raises to approval) whatever the catalogue says: forbid wins."""
    findings: list[_Finding] = []
    tables = [sub, grammar] if sub is not grammar else [grammar]
    for name, value in parsed.options:
        spec = next((t.option(name) for t in tables if t.option(name) is not None), None)
        if spec is None:
            continue
        if spec.verdict != "neutral":
            why = f": {spec.why}" if spec.why else ""
            findings.append(_Finding("forbid" if spec.verdict == "forbid" else "approve", f"{where}.options.{name}",
                                     f"option `{name}` of `{parsed.program}` is {'forbidden' if spec.verdict == 'forbid' else 'allowed only with approval'}{why}"))
        if spec.value_pattern is not None and value is not None and not re.fullmatch(spec.value_pattern, value):
            why = f" ({spec.why})" if spec.why else ""
            findings.append(_Finding("forbid", f"{where}.options.{name}", f"`{name} {value[:60]}` is not allowed here{why}"))
    if grammar.forbidden_values:
        for value in [v for _, v in parsed.options if v is not None] + parsed.positionals:
            if re.fullmatch(grammar.forbidden_values, value):
                findings.append(_Finding("forbid", f"{rules.source}: programs.{parsed.program}.forbidden_values",
                                         f"`{parsed.program}` would read `{value[:60]}` from a file or URL"))
    if sub.required_options and not any(parsed.has(o) for o in sub.required_options):
        findings.append(_Finding("forbid", f"{where}.required_options", f"`{parsed.label()}` needs {' or '.join(sub.required_options)} here"))
    findings += _check_paths(parsed, sub, where, catalogue)
    if sub.url_hosts:
        findings += _check_urls(parsed, sub, where, catalogue)
    if sub.secret_kinds is not None:
        findings += _check_secret_kinds(parsed, sub, where)
    return findings


def _check_paths(parsed: ParsedCommand, sub: CommandGrammar, where: str, catalogue: Catalogue) -> list[_Finding]:
    deny = list((catalogue.sets.get("path_sets") or {}).get("never", {}).get("deny", []))
    values: list[str] = [v for n, v in parsed.options if n in sub.path_options and v is not None]
    if sub.paths is not None:
        skip = 0 if (sub.pattern_option and parsed.has(sub.pattern_option)) else sub.data_positionals
        paths = parsed.positionals[skip:]
        if sub.paths.required and not paths:
            return [_Finding("forbid", f"{where}.paths", f"`{parsed.label()}` needs a file to read (it would wait on its input)")]
        values += [p for p in paths if not re.fullmatch(r"[()!,]|\+L1?", p)]
    findings: list[_Finding] = []
    for value in values:
        try:
            validate("path", value, {"deny": deny})
        except ParamTypeError as exc:
            findings.append(_Finding("forbid", f"{where}.paths", f"path {exc}"))
    return findings


def _check_urls(parsed: ParsedCommand, sub: CommandGrammar, where: str, catalogue: Catalogue) -> list[_Finding]:
    patterns = (catalogue.sets.get("url_hosts") or {}).get(sub.url_hosts or "", [])
    findings: list[_Finding] = []
    for arg in parsed.positionals:
        try:
            parts = urlsplit(arg)
            host = (parts.hostname or "").lower()
        except ValueError:
            host, parts = "", None
        if parts is not None and (parts.username or parts.password):
            findings.append(_Finding("forbid", f"{where}.url_hosts", "a URL with credentials is refused"))
        elif not any(fnmatch.fnmatch(host, p) for p in patterns):
            findings.append(_Finding("forbid", f"{where}.url_hosts", f"`{parsed.program}` may reach only {', '.join(patterns[:6])} (got `{host or arg[:60]}`)"))
    return findings


def _check_secret_kinds(parsed: ParsedCommand, sub: CommandGrammar, where: str) -> list[_Finding]:
    """`kubectl get secret x -o yaml` prints the values; `kubectl get secret` and `kubectl describe secret` do not."""
    rule = sub.secret_kinds
    assert rule is not None
    kinds = {k.lower() for k in rule.kinds}
    named = [part for arg in parsed.positionals for part in arg.split(",") if part.lower() in kinds]
    if not named:
        return []
    printed = [v for v in parsed.values(rule.output_option) if v is not None and v.split("=", 1)[0] not in rule.safe_outputs]
    printed += [f"{o} {v}" for o in rule.template_options for v in parsed.values(o)]
    if not printed:
        return []
    return [_Finding("forbid", f"{where}.secret_kinds", f"`{parsed.program}` would print the content of `{named[0]}` (output `{str(printed[0])[:40]}`); "
                                                          f"`{parsed.program} describe {named[0]}` shows key names and sizes only")]


def _verdict(verdict: str, rule: str, reason: str, argv: list[str], parsed: ParsedCommand | None = None, *, match=None) -> CommandVerdict:
    fields = {}
    if match is not None:
        fields = {"tool": match.tool.name, "params": match.rendered.params, "rendered": match.rendered.argv, "tool_kind": match.tool.kind}
    return CommandVerdict(verdict=verdict, rule=rule, reason=reason, argv=argv, program=argv[0] if argv else None, **fields)
