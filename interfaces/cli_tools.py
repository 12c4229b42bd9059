"""`cloud-doctor tools` and `cloud-doctor guard`: the catalogue and the guard's verdicts, for people and scripts.

`tools` lists every catalogue entry: what it reads or changes, its typed
parameters (identifying, volume or context), the argv it renders and its
approval class. `guard` judges one command, or a file of them (`--batch`,
one JSON object per line, in order), and says which catalogue entry each is,
with its typed parameters and the argv that would run, or which rule refused
it. Neither runs anything.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Iterator

from graphs.errors import UserInputError
from tools.catalogue import Catalogue, ToolCall, ToolParamError, ToolSpec, default_catalogue
from tools.guard import describe, judge_command

MAX_BATCH_LINE = 10_000


def argv_shape(tool: ToolSpec, catalogue: Catalogue) -> str:
    """The argv a tool renders, with <param> where a parameter goes: its example rendered when it has one."""
    if tool.example:
        try:
            return shlex.join(catalogue.render(ToolCall(tool=tool.name, params=tool.example)).argv)
        except ToolParamError:
            pass
    sample = {k: f"<{k}>" for k, p in tool.params.items() if p.required}
    words = [tool.program, *tool.subcommand]
    for option in tool.presentation:
        words.append(option)
    for option, value in tool.fixed.items():
        if option != tool.sql_option:
            words.append(option if value is None else f"{option}={value}")
    for key, spec in tool.params.items():
        slot = f"<{key}>"
        if spec.flag_choice:
            words.append(f"[{'|'.join(spec.choices or [])}]")
        elif spec.option and spec.type == "bool":
            words.append(f"[{spec.option}]")
        elif spec.option:
            words.append(f"{spec.option}={slot}" if spec.required else f"[{spec.option}={slot}]")
    if tool.sql:
        words.append(f"{tool.sql_option}={tool.sql!r}")
    words += [sample.get(k, f"[<{k}>]") for _, k in sorted((s.positional, k) for k, s in tool.params.items()
                                                          if s.positional is not None and s.option is None)]
    return " ".join(words)


def catalogue_entries(kind: str | None = None, family: str | None = None) -> list[dict[str, Any]]:
    catalogue = default_catalogue()
    families = sorted({t.family for t in catalogue.tools()})
    if family is not None and family not in families:
        raise UserInputError(f"unknown family {family!r}: use one of {', '.join(families)}")
    if kind not in (None, "read", "action"):
        raise UserInputError(f"unknown kind {kind!r}: use read or action")
    out = []
    for tool in sorted(catalogue.tools(kind), key=lambda t: (t.family, t.kind, t.name)):
        if family is not None and tool.family != family:
            continue
        entry: dict[str, Any] = {
            "name": tool.name, "family": tool.family, "kind": tool.kind, "description": tool.description, "scope": tool.scope,
            "approval": "allow" if tool.kind == "read" else f"approve ({tool.approval} policy)",
            "renders": argv_shape(tool, catalogue),
            "params": {k: {"type": p.type, "role": p.role, "required": p.required, "default": p.default,
                           **({"choices": p.choices} if p.choices else {}), **({"many": True} if p.many else {})}
                       for k, p in tool.params.items()},
            "parser": tool.parser if isinstance(tool.parser, str) or tool.parser is None else f"by {tool.parser.param}",
        }
        if tool.boto3:
            entry["boto3"] = f"{tool.boto3.get('service')}.{tool.boto3.get('method')}"
        if tool.kind == "action":
            entry["changes"] = tool.changes
            entry["verification"] = (tool.verification.says or tool.verification.expect) if tool.verification else None
            entry["rollback"] = tool.rollback.action if tool.rollback and tool.rollback.action else f"irreversible: {tool.rollback.irreversible}" if tool.rollback else None
        out.append(entry)
    return out


def verdict_record(command: str, environment: str) -> dict[str, Any]:
    """One command's verdict as JSON: `verdict` and `rule` always; `tool`, `params`, `rendered` when it is a catalogue entry."""
    verdict = judge_command(command, environment)
    record: dict[str, Any] = {"command": command, "verdict": verdict.verdict, "rule": verdict.rule, "reason": verdict.reason,
                              "argv": verdict.argv, "program": verdict.program, "environment": environment}
    if verdict.tool is not None:
        record.update(tool=verdict.tool, kind=verdict.tool_kind, params={k: v for k, v in verdict.params.items() if v is not None},
                      rendered=verdict.rendered)
    return record


def batch_records(path: Path, environment: str) -> Iterator[dict[str, Any]]:
    """One record per non-empty line of a file (or `-` for standard input), with its line number, in order."""
    import sys

    if str(path) == "-":
        text = sys.stdin.read()
    else:
        if not path.is_file():
            raise UserInputError(f"no such file: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserInputError(f"{path} is not UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), start=1):
        command = line.strip()
        if not command:
            continue
        if len(command) > MAX_BATCH_LINE:
            yield {"line": number, "command": command[:80] + "…", "verdict": "forbid", "rule": "syntax: too long",
                   "reason": f"a command longer than {MAX_BATCH_LINE} characters is not judged"}
            continue
        yield {"line": number, **verdict_record(command, environment)}


def render_verdict(record: dict[str, Any]) -> str:
    """One line for people."""
    from graphs.state import CommandVerdict

    verdict = CommandVerdict(verdict=record["verdict"], rule=record["rule"], reason=record.get("reason", ""))
    line = describe(verdict)
    if record.get("rendered"):
        line += f"\n  runs as: {shlex.join(record['rendered'])}"
    return line


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)
