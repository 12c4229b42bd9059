"""The guard: decides allow / approve / forbid for a command before anything runs.

It judges the parsed argv per program (config/commands.yaml): allowed
subcommands, flags (also `--flag=value` and combined `-abc`), path prefixes,
SQL statements, URL hosts. Shell syntax that could smuggle a second command
(`;`, `&&`, `|`, `$()`, backticks, redirections, newlines) is refused
outright, an unknown program is forbidden, and forbid wins over every rule.
`cloud-doctor guard` and every agent call this same function.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

from graphs.state import CommandVerdict
from tools.command_rules import CommandRules, ProgramRule, default_rules

SEVERITY = {"allow": 0, "approve": 1, "forbid": 2}
VERDICT_WORDS = {"allow": "allowed", "approve": "allowed only with approval", "forbid": "forbidden"}
SHELL_OPERATORS = set(";&|<>()")
READ_SQL = ("SHOW", "SELECT", "EXPLAIN", "DESCRIBE", "DESC")
APPROVE_SQL = ("KILL", "SET GLOBAL", "ANALYZE", "OPTIMIZE", "SELECT PG_CANCEL_BACKEND", "SELECT PG_TERMINATE_BACKEND")
DANGEROUS_SQL_WORDS = re.compile(r"\b(INTO\s+OUTFILE|INTO\s+DUMPFILE|LOAD_FILE|SLEEP|BENCHMARK|PG_READ_FILE|COPY|LO_IMPORT|LO_EXPORT|DBLINK|PG_SLEEP)\b", re.I)


@dataclass
class _Finding:
    verdict: str
    rule: str
    reason: str


class _Refused(Exception):
    def __init__(self, rule: str, reason: str):
        super().__init__(reason)
        self.rule, self.reason = rule, reason


def judge_command(command: str | list[str], environment: str = "dev", *, rules: CommandRules | None = None) -> CommandVerdict:
    """Judge one command (a string as typed, or an argv list) for an environment."""
    rules = rules or default_rules()
    try:
        argv = _to_argv(command)
    except _Refused as refused:
        return CommandVerdict(verdict="forbid", rule=refused.rule, reason=refused.reason)
    program = argv[0]
    if "/" in program:
        return _verdict("forbid", "syntax: program path", f"name the program without a path (`{posixpath.basename(program)}`), so its rules apply", argv, program)
    rule = rules.programs.get(program)
    if rule is None:
        verdict = rules.unknown_program
        return _verdict(verdict, f"{rules.source}: unknown_program", f"`{program}` is not in {rules.source}; unknown programs are {verdict}", argv, program)
    findings = _judge_program(program, argv[1:], rule, environment, rules)
    worst = max(findings, key=lambda f: SEVERITY[f.verdict])
    return _verdict(worst.verdict, worst.rule, worst.reason, argv, program)


def judge_action(action: str, environment: str = "dev", *, rules: CommandRules | None = None) -> CommandVerdict:
    """Judge a named action that is not a shell command (`deploy:canary`, `terraform:apply`)."""
    rules = rules or default_rules()
    verdict = rules.actions.get(action)
    if verdict is None:
        return CommandVerdict(verdict="forbid", rule=f"{rules.source}: actions", reason=f"action `{action}` is not listed in {rules.source}")
    return CommandVerdict(verdict=verdict, rule=f"{rules.source}: actions.{action}", reason=f"action `{action}` is {verdict}")


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


def _judge_program(program: str, args: list[str], rule: ProgramRule, environment: str, rules: CommandRules) -> list[_Finding]:
    name = f"{rules.source}: programs.{program}"
    if rule.verdict == "forbid" and not rule.subcommands:
        return [_Finding("forbid", name, f"`{program}` is forbidden by {rules.source}")]
    findings: list[_Finding] = []
    effective, effective_name, rest = rule, name, args
    if rule.subcommands is not None:
        key, consumed = _match_subcommand(args, rule)
        if key is None:
            # Global flags (kubectl -n ns get ...) still obey the program's bans.
            findings += _check_flags(program, _split(args, rule)[0], rule, name, rules, check_allowed=False)
            shown = " ".join(_split(args, rule)[1][:2]) or "(none)"
            findings.append(_Finding(rule.unknown_subcommand, f"{name}.subcommands",
                                     f"`{program} {shown}` is not an allowed subcommand of `{program}` in {rules.source}"))
            return findings
        sub = rule.subcommands[key]
        effective = rule.merged_with(sub, sub.model_fields_set)
        effective_name = f"{name}.subcommands.{key}"
        rest = consumed
    verdict = effective.environments.get(environment, effective.verdict)
    findings.append(_Finding(verdict, effective_name, f"`{program}{_subcommand_label(rule, args, rest)}` is {VERDICT_WORDS[verdict]} by {rules.source}"))
    flags, positionals, flag_values = _split(rest, effective)
    findings += _check_flags(program, flags, effective, effective_name, rules, check_allowed=True)
    findings += _check_positionals(program, positionals, effective, effective_name, rules)
    findings += _check_paths(program, positionals + flag_values, effective, effective_name, rules)
    findings += _check_special(program, flags, positionals, rest, effective, effective_name)
    return findings


def _subcommand_label(rule: ProgramRule, args: list[str], rest: list[str]) -> str:
    if rule.subcommands is None:
        return ""
    used = [a for a in args if a not in rest] if len(rest) < len(args) else []
    return (" " + " ".join(used)) if used else ""


def _match_subcommand(args: list[str], rule: ProgramRule) -> tuple[str | None, list[str]]:
    subs = rule.subcommands or {}
    # Leading words as typed (git log, kubectl delete pod, nginx -t) ...
    for n in (2, 1):
        key = " ".join(args[:n])
        if len(args) >= n and key in subs:
            return key, args[n:]
    # ... or the first positionals after global flags (kubectl -n prod get pods).
    _, positionals, _ = _split(args, rule)
    for n in (2, 1):
        key = " ".join(positionals[:n])
        if len(positionals) >= n and key in subs:
            words = positionals[:n]
            rest = list(args)
            for w in words:
                rest.remove(w)
            return key, rest
    return None, args


def _split(args: list[str], rule: ProgramRule) -> tuple[list[str], list[str], list[str]]:
    """Flags (as typed), positionals, and the values taken by value flags."""
    flags: list[str] = []
    positionals: list[str] = []
    values: list[str] = []
    value_flags = set(rule.value_flags)
    i = 0
    end_of_options = False
    while i < len(args):
        arg = args[i]
        if end_of_options or not _looks_like_flag(arg, rule):
            positionals.append(arg)
        elif arg == "--":
            end_of_options = True
        else:
            flags.append(arg)
            head = arg.split("=", 1)[0]
            if "=" in arg:
                values.append(arg.split("=", 1)[1])
            elif head in value_flags and i + 1 < len(args):
                values.append(args[i + 1])
                i += 1
            elif not rule.single_dash_long and not arg.startswith("--") and len(arg) > 2:
                # -n200 / -pSECRET: a value glued to a short value flag; -eo VALUE: the last one takes the next token
                for pos, ch in enumerate(arg[1:], start=1):
                    if f"-{ch}" in value_flags:
                        if pos + 1 < len(arg):
                            values.append(arg[pos + 1:])
                        elif i + 1 < len(args):
                            values.append(args[i + 1])
                            i += 1
                        break
        i += 1
    return flags, positionals, values


def _looks_like_flag(arg: str, rule: ProgramRule) -> bool:
    if arg in ("-", "") or not (arg.startswith("-") or arg.startswith("+")):
        return False
    if arg.startswith("+") and not rule.single_dash_long:
        return arg in (rule.flags or [])  # +L1 for lsof; otherwise a positional
    return True


def _flag_names(flag: str, rule: ProgramRule) -> list[str]:
    """Every name a flag token can stand for: -abc -> -a -b -c; --x=1 -> --x."""
    head = flag.split("=", 1)[0]
    names = {flag, head}
    if not rule.single_dash_long and not flag.startswith("--") and flag.startswith("-") and len(head) > 2 and not head[1:].isdigit():
        for ch in head[1:]:
            names.add(f"-{ch}")
    return sorted(names)


def _check_flags(program: str, flags: list[str], rule: ProgramRule, name: str, rules: CommandRules, *, check_allowed: bool) -> list[_Finding]:
    findings: list[_Finding] = []
    forbidden = set(rule.forbidden_flags)
    approve = set(rule.approve_flags)
    allowed = set(rule.flags or []) | set(rule.value_flags)
    for flag in flags:
        names = _flag_names(flag, rule)
        hit = sorted(forbidden.intersection(names))
        if hit:
            findings.append(_Finding("forbid", f"{name}.forbidden_flags", f"flag `{hit[0]}` of `{program}` is forbidden by {rules.source}"))
            continue
        if approve.intersection(names):
            findings.append(_Finding("approve", f"{name}.approve_flags", f"flag `{flag.split('=')[0]}` of `{program}` changes the system and needs approval"))
        if check_allowed and rule.flags is not None and not _flag_allowed(flag, rule, allowed):
            findings.append(_Finding("forbid", f"{name}.flags", f"flag `{flag.split('=')[0]}` is not in the allowed flags of `{program}` in {rules.source}"))
    if check_allowed and rule.required_flags:
        present = {n for f in flags for n in _flag_names(f, rule)}
        if not present.intersection(rule.required_flags):
            findings.append(_Finding("forbid", f"{name}.required_flags", f"`{program}` needs one of {', '.join(rule.required_flags)} here"))
    return findings


def _flag_allowed(flag: str, rule: ProgramRule, allowed: set[str]) -> bool:
    head = flag.split("=", 1)[0]
    if flag in allowed or head in allowed:
        return True
    if rule.single_dash_long or flag.startswith("--") or head[1:].isdigit():
        return False
    # Combined short flags; a value flag swallows the rest of the token (-n200).
    for pos, ch in enumerate(head[1:], start=1):
        short = f"-{ch}"
        if short not in allowed:
            return False
        if short in rule.value_flags:
            return True
    return True


def _check_positionals(program: str, positionals: list[str], rule: ProgramRule, name: str, rules: CommandRules) -> list[_Finding]:
    findings: list[_Finding] = []
    if rule.max_positional is not None and len(positionals) > rule.max_positional:
        findings.append(_Finding("forbid", f"{name}.max_positional", f"`{program}` takes at most {rule.max_positional} arguments here"))
    if len(positionals) < rule.min_positional:
        findings.append(_Finding("forbid", f"{name}.min_positional", f"`{program}` needs at least {rule.min_positional} arguments here"))
    mode = rule.positional
    if mode == "none" and positionals:
        findings.append(_Finding("forbid", f"{name}.positional", f"`{program}` takes no arguments here (got `{positionals[0]}`)"))
    elif mode == "paths":
        for arg in positionals:
            if not arg.startswith("/"):
                findings.append(_Finding("forbid", f"{name}.positional", f"`{program}` takes absolute paths only (got `{arg}`)"))
    elif mode not in ("any", "none", "paths"):
        pattern = re.compile(mode)
        for arg in positionals:
            if not pattern.search(arg):
                findings.append(_Finding("forbid", f"{name}.positional", f"argument `{arg}` of `{program}` does not match the allowed form"))
    return findings


def _looks_like_path(arg: str) -> bool:
    return arg.startswith(("/", "~", "./", "../")) or "/../" in arg or arg == ".."


def _check_paths(program: str, args: list[str], rule: ProgramRule, name: str, rules: CommandRules) -> list[_Finding]:
    if not rule.paths:
        return []
    path_set = rules.path_sets[rule.paths]
    findings: list[_Finding] = []
    for arg in args:
        if not _looks_like_path(arg) or arg.startswith(("http://", "https://")):
            continue
        if arg.startswith("~") or not arg.startswith("/"):
            findings.append(_Finding("forbid", f"{rules.source}: path_sets.{rule.paths}", f"path `{arg}` must be absolute"))
            continue
        norm = posixpath.normpath(arg) + ("/" if arg.endswith("/") else "")
        if any(fnmatch.fnmatch(norm, pat) or fnmatch.fnmatch(norm + "/", pat) for pat in path_set.forbid):
            findings.append(_Finding("forbid", f"{rules.source}: path_sets.{rule.paths}.forbid", f"path `{norm}` is forbidden to `{program}`"))
        elif not any(norm == p.rstrip("/") or norm.startswith(p if p.endswith("/") else p + "") for p in path_set.allow):
            findings.append(_Finding("forbid", f"{rules.source}: path_sets.{rule.paths}.allow", f"path `{norm}` is outside the readable prefixes of `{program}`"))
    return findings


def _flag_value(flags: list[str], rest: list[str], names: list[str]) -> list[str]:
    values: list[str] = []
    for i, arg in enumerate(rest):
        head = arg.split("=", 1)[0]
        if head in names:
            if "=" in arg:
                values.append(arg.split("=", 1)[1])
            elif i + 1 < len(rest):
                values.append(rest[i + 1])
        elif any(arg.startswith(n) and len(n) == 2 and len(arg) > 2 and not arg.startswith("--") for n in names):
            values.append(arg[2:])
    return values


def _check_special(program: str, flags: list[str], positionals: list[str], rest: list[str], rule: ProgramRule, name: str) -> list[_Finding]:
    findings: list[_Finding] = []
    if rule.sql_flag:
        statements = _flag_value(flags, rest, rule.sql_flag)
        if not statements:
            findings.append(_Finding("forbid", f"{name}.sql_flag", f"`{program}` runs only with a statement in {' / '.join(rule.sql_flag)} (no interactive sessions)"))
        for sql in statements:
            findings.append(_judge_sql(program, sql, name))
    if rule.script_pattern is not None:
        if not positionals or not re.fullmatch(rule.script_pattern, positionals[0]):
            findings.append(_Finding("forbid", f"{name}.script_pattern", f"only `{program} -n 'N,Mp' FILE` (print a line range) is allowed"))
        else:
            for arg in positionals[1:]:
                if not arg.startswith("/"):
                    findings.append(_Finding("forbid", f"{name}.positional", f"`{program}` reads absolute paths only (got `{arg}`)"))
    if rule.methods is not None:
        for method in _flag_value(flags, rest, ["-X", "--request"]):
            if method.upper() not in rule.methods:
                findings.append(_Finding("forbid", f"{name}.methods", f"HTTP method {method} is not allowed for `{program}` (only {', '.join(rule.methods)})"))
    if rule.output_only is not None:
        for target in _flag_value(flags, rest, ["-o", "--output"]):
            if target not in rule.output_only:
                findings.append(_Finding("forbid", f"{name}.output_only", f"`{program}` may write only to {', '.join(rule.output_only)} (got `{target}`)"))
    if rule.url_hosts is not None:
        for arg in positionals:
            host = (urlsplit(arg).hostname or "").lower()
            if not any(fnmatch.fnmatch(host, pat) for pat in rule.url_hosts):
                findings.append(_Finding("forbid", f"{name}.url_hosts", f"`{program}` may reach only {', '.join(rule.url_hosts)} (got `{host or arg}`)"))
    if rule.secret_kinds is not None:
        findings += _check_secret_kinds(program, flags, positionals, rest, rule, name)
    if rule.verb_rules is not None:
        if len(positionals) < 2:
            findings.append(_Finding("forbid", f"{name}.verb_rules", f"`{program}` needs a service and an operation"))
        else:
            op = positionals[1]
            if any(fnmatch.fnmatch(op, p) for p in rule.verb_rules.forbid):
                findings.append(_Finding("forbid", f"{name}.verb_rules.forbid", f"`{program} {positionals[0]} {op}` is forbidden"))
            elif any(fnmatch.fnmatch(op, p) for p in rule.verb_rules.allow):
                findings.append(_Finding("allow", f"{name}.verb_rules.allow", f"`{program} {positionals[0]} {op}` only reads"))
            else:
                findings.append(_Finding(rule.verb_rules.otherwise, f"{name}.verb_rules.otherwise", f"`{program} {positionals[0]} {op}` changes resources"))
    return findings


def _check_secret_kinds(program: str, flags: list[str], positionals: list[str], rest: list[str], rule: ProgramRule, name: str) -> list[_Finding]:
    """`kubectl get secret x -o yaml` prints the values; `kubectl get secret` and `kubectl describe secret` do not."""
    guard = rule.secret_kinds
    assert guard is not None
    kinds = {k.lower() for k in guard.kinds}
    named = [part for arg in positionals for part in arg.split(",") if part.split("/", 1)[0].split(".", 1)[0].lower() in kinds]
    if not named:
        return []
    printed = [v for v in _flag_value(flags, rest, guard.output_flags) if v.split("=", 1)[0] not in guard.safe_outputs]
    if not printed:
        return []
    return [_Finding("forbid", f"{name}.secret_kinds", f"`{program}` would print the content of `{named[0]}` (output `{printed[0][:40]}`); "
                                                       f"`{program} describe {named[0].split('/', 1)[0]}` shows key names and sizes only")]


def _judge_sql(program: str, sql: str, name: str) -> _Finding:
    text = re.sub(r"/\*.*?\*/|--[^\n]*|#[^\n]*", " ", sql, flags=re.S).strip().rstrip(";").strip()
    if ";" in text:
        return _Finding("forbid", f"{name}.sql", "one SQL statement per command")
    upper = " ".join(text.upper().split())
    if DANGEROUS_SQL_WORDS.search(upper):
        return _Finding("forbid", f"{name}.sql", f"SQL `{upper[:40]}` reads or writes files or stalls the server")
    if upper.startswith(APPROVE_SQL):
        return _Finding("approve", f"{name}.sql", f"SQL `{upper.split()[0]}` changes the database and needs approval")
    if upper.startswith(READ_SQL):
        return _Finding("allow", f"{name}.sql", f"read-only SQL `{upper.split()[0]}`")
    first = upper.split()[0] if upper else "(empty)"
    return _Finding("forbid", f"{name}.sql", f"SQL `{first}` is not allowed through {program} (only reads; KILL/SET GLOBAL with approval)")


def _verdict(verdict: str, rule: str, reason: str, argv: list[str], program: str) -> CommandVerdict:
    return CommandVerdict(verdict=verdict, rule=rule, reason=reason, argv=argv, program=program)
