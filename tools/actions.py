"""Typed actions for proposals: what an approval shows is what runs.

`plan_action` turns a `ToolCall` naming a catalogue action into a
`PlannedAction`: validated parameters, the exact argv, its hash, what it
changes, its verification and its rollback said plainly. The deployer runs
only that argv, and only when its hash is the approved one.

`quoted` is how untrusted text (a lock's `Who`, a log line, a model's words)
appears in titles and reasons: marked as somebody's words, on one line,
bounded — never as the product's own claim.
"""

from __future__ import annotations

import re
from typing import Any

from graphs.state import PlannedAction
from tools.catalogue import Catalogue, ToolCall, ToolParamError, ToolSpec, argv_hash, default_catalogue, fill_check_params

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def quoted(speaker: str, text: str | None, limit: int = 120) -> str:
    """`lock holder wrote: "…"`: untrusted text on one line, its quotes escaped, cut at `limit` characters."""
    body = _CONTROL.sub(" ", str(text or "")).strip()
    body = re.sub(r"\s+", " ", body).replace("\\", "\\\\").replace('"', '\\"')
    if len(body) > limit:
        body = body[:limit].rstrip() + "…"
    return f'{speaker} wrote: "{body}"'


def plan_action(call: ToolCall, *, why: str = "", catalogue: Catalogue | None = None) -> PlannedAction:
    """A catalogue action, validated and rendered, ready for an approval card. Raises ToolParamError."""
    catalogue = catalogue or default_catalogue()
    tool = catalogue.spec_of(call.tool)
    if tool.kind != "action":
        raise ToolParamError(f"{tool.name} is a read tool, not an action")
    rendered = catalogue.render(call)
    back: dict[str, Any] = {}
    if tool.rollback is not None and tool.rollback.action:
        back_call = ToolCall(tool=tool.rollback.action, params=fill_check_params(tool.rollback, rendered.params), host=call.host)  # type: ignore[arg-type]
        back_rendered = catalogue.render(back_call)
        back = {"rollback_tool": back_rendered.tool, "rollback_params": back_rendered.params, "rollback_argv": back_rendered.argv,
                "rollback_hash": argv_hash(call.host, back_rendered.argv)}
    return PlannedAction(
        tool=tool.name, params=rendered.params, host=call.host, argv=rendered.argv, argv_hash=argv_hash(call.host, rendered.argv),
        changes=tool.changes, verification=describe_verification(tool), rollback=describe_rollback(tool, rendered.params, catalogue),
        why=why, **back,
    )


def describe_verification(tool: ToolSpec) -> str:
    check = tool.verification
    if check is None:
        return ""
    return f"{check.says or check.expect} ({check.tool}, after {check.wait_s:g} s, {check.retries} retr{'y' if check.retries == 1 else 'ies'})"


def describe_rollback(tool: ToolSpec, params: dict[str, Any], catalogue: Catalogue) -> str:
    back = tool.rollback
    if back is None:
        return ""
    if back.irreversible:
        return f"irreversible: {back.irreversible}"
    filled = fill_check_params(back, params)  # type: ignore[arg-type]
    shown = ", ".join(f"{k}={v}" for k, v in filled.items() if v not in (None, ""))
    return f"{back.action}({shown})"


def shell_words(argv: list[str]) -> str:
    """argv as a shell line a person can read and paste: each word quoted as shlex does, except that a word holding
    single quotes (SQL) and nothing a shell expands inside double quotes is shown in double quotes."""
    import shlex

    words = []
    for word in argv:
        if "'" in word and not any(c in word for c in '"$`\\!'):
            words.append(f'"{word}"')
        else:
            words.append(shlex.quote(word))
    return " ".join(words)


def approval_line(action: PlannedAction) -> str:
    """The line an approval card shows for one action: where, and the exact argv."""
    where = f"on {action.host}: " if action.host else ""
    return f"{where}{shell_words(action.argv)}"
