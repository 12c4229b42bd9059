"""missing_timeout, Node: `fetch(...)` without an abort signal gets one.

Node's fetch (undici) has no overall deadline, and an Agent built with
`headersTimeout: 0` / `bodyTimeout: 0` waits forever. The patch gives each
call in the target file that has no `signal` an
`AbortSignal.timeout(ms)` (config/code_fixes.yaml); the call then rejects
with a TimeoutError, which the caller's error path already sees as a failure.
"""

from __future__ import annotations

import re

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix
from agents.code_fixes.source_text import balance_error, indent_of, line_of, mask_code, matching_close, split_top_level

NAME = "node_fetch_timeout"
EXTENSIONS = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts")
FETCH = re.compile(r"(?<![\w$.])fetch\s*\(")


def fix_fetch_timeout(target: FixTarget, config: FixConfig) -> CodeFix:
    if not target.path.endswith(EXTENSIONS):
        raise NoFix(f"{target.path} is not JavaScript or TypeScript")
    text = target.source
    if (why := balance_error(text)) is not None:
        raise NoFix(f"{target.path} cannot be read safely without a parser ({why})")
    masked = mask_code(text)
    ms = int(config.get("missing_timeout", "node_fetch_timeout_ms", 10000))
    signal = f"signal: AbortSignal.timeout({ms})"
    edits: list[tuple[int, str]] = []
    touched: list[int] = []
    for match in FETCH.finditer(masked):
        open_at = match.end() - 1
        close = matching_close(masked, open_at)
        if close is None:
            continue
        args = split_top_level(text, masked, open_at + 1, close)
        if not args or len(args) > 2 or re.search(r"\bsignal\b", masked[open_at:close]):
            continue
        touched.append(line_of(text, match.start()))
        if len(args) == 1:
            end = args[0][1]
            while text[end - 1].isspace():
                end -= 1
            edits.append((end, f", {{ {signal} }}"))
            continue
        a, b = args[1]
        option = masked[a:b].strip()
        start = a + (len(masked[a:b]) - len(masked[a:b].lstrip()))
        if option.startswith("{"):
            brace_close = matching_close(masked, start)
            body = masked[start + 1:brace_close]
            if not body.strip():
                edits.append((start + 1, f" {signal} "))
            elif "\n" in body[: len(body) - len(body.lstrip())]:  # one property a line
                first_prop = start + 1 + len(body) - len(body.lstrip())
                line_start = text.rfind("\n", 0, first_prop) + 1
                pad = indent_of(text[line_start:first_prop + 1])
                edits.append((line_start, f"{pad}{signal},\n"))
            else:
                edits.append((start + 1 + len(body) - len(body.lstrip()), f"{signal}, "))
        elif re.fullmatch(r"[\w$.]+", option):
            edits.append((start, "{ ..."))
            edits.append((start + len(option), f", {signal} }}"))
        else:
            touched.pop()
    if not edits:
        raise NoFix(f"no `fetch(...)` call without a signal in {target.path}")
    after = text
    for at, piece in sorted(edits, reverse=True):
        after = after[:at] + piece + after[at:]
    last = max(line_of(text, at) for at, _ in edits)
    where = ", ".join(f"line {n}" for n in touched)
    return CodeFix(
        template=NAME, path=target.path, before=text, after=after,
        title=f"Give the fetch call(s) in {target.path} ({where}) a {ms} ms deadline",
        rationale=(f"fetch has no overall deadline of its own; `AbortSignal.timeout({ms})` makes a call that hangs "
                   "reject with a TimeoutError after that long instead of holding the request and a socket."),
        lines=(min(touched), last), language="javascript", preserves="insert", risk="low",
    )
