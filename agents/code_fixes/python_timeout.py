"""missing_timeout, Python: `requests` calls without `timeout=` get one.

`requests` waits forever by default. The patch adds `timeout=(connect, read)`
(config/code_fixes.yaml) to each call on the module or on a `requests.Session`
in the target file that has neither `timeout=` nor `**kwargs` (which may
carry one).
"""

from __future__ import annotations

import ast

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix

NAME = "python_requests_timeout"
VERBS = {"get", "post", "put", "patch", "delete", "head", "options", "request"}


def _session_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called == "Session":
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """Character offset in the file of an ast (line, utf-8 byte column)."""
    before = sum(len(l) for l in lines[: lineno - 1])
    return before + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "replace"))


def _calls_without_timeout(tree: ast.Module) -> list[ast.Call]:
    clients = {"requests"} | _session_names(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in VERBS):
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id in clients):
            continue
        if any(k.arg is None or k.arg == "timeout" for k in node.keywords):
            continue
        found.append(node)
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def fix_requests_timeout(target: FixTarget, config: FixConfig) -> CodeFix:
    if not target.path.endswith(".py"):
        raise NoFix(f"{target.path} is not Python")
    try:
        tree = ast.parse(target.source)
    except SyntaxError as exc:
        raise NoFix(f"{target.path} does not parse as Python ({exc.msg}, line {exc.lineno})") from exc
    calls = _calls_without_timeout(tree)
    if not calls:
        raise NoFix(f"no `requests` call without a timeout in {target.path}")
    connect, read = config.get("missing_timeout", "python_requests_timeout", [3.05, 10])
    value = f"timeout=({connect}, {read})"
    lines = target.source.splitlines(keepends=True)
    text = target.source
    edits: list[tuple[int, str]] = []  # (offset, inserted text), applied back to front
    for call in calls:
        close = _offset(lines, call.end_lineno, call.end_col_offset) - 1
        if text[close] != ")":
            raise NoFix(f"cannot find the closing parenthesis of the call on line {call.lineno}")
        inner = text[:close].rstrip()
        has_args = bool(call.args or call.keywords)
        if call.lineno == call.end_lineno or text[text.rfind("\n", 0, close) + 1:close].strip():
            sep = "" if not has_args else " " if inner.endswith(",") else ", "
            edits.append((len(inner) if has_args else close, sep + value))
        else:  # a multi-line call whose ')' stands on its own line
            last_line = lines[call.end_lineno - 2]
            pad = last_line[: len(last_line) - len(last_line.lstrip())]
            if not inner.endswith(","):
                edits.append((len(inner), ","))
            edits.append((text.rfind("\n", 0, close) + 1, f"{pad}{value},\n"))
    after = text
    for at, piece in sorted(edits, reverse=True):
        after = after[:at] + piece + after[at:]
    where = ", ".join(f"line {c.lineno}" for c in calls)
    return CodeFix(
        template=NAME, path=target.path, before=text, after=after,
        title=f"Add a timeout to the `requests` call(s) in {target.path} ({where})",
        rationale=(f"`requests` waits forever unless given a timeout; each call now gives up after {connect} s "
                   f"to connect and {read} s between bytes, raising `requests.Timeout` (a `RequestException`) instead of "
                   "holding a worker."),
        lines=(calls[0].lineno, calls[-1].end_lineno + 1), language="python", preserves="insert", risk="low",
    )
