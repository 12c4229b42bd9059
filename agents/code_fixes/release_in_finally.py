"""connection_leak: a pooled connection released only on the success path is released in `finally`.

The shape every leak in this family shares: a function takes a connection
(`conn = pool.getconn()`, `const conn = await pool.getConnection()`), works,
and gives it back at the end of the same block; an early `throw`/`raise` or
a failing query skips the give-back. The patch wraps the work between the
two in `try` and moves the give-back to `finally`, nothing else. In Node,
when the work opened a transaction on that connection, a `catch` rolls it
back first (mysql2 and pg return a connection to the pool with its
transaction, and its row locks, still open); psycopg2's pool rolls back in
`putconn` itself.
"""

from __future__ import annotations

import ast
import re

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix
from agents.code_fixes.node_fetch_timeout import EXTENSIONS
from agents.code_fixes.source_text import balance_error, enclosing_open, indent_of, indent_unit, line_of, mask_code, matching_close

NAME = "release_in_finally"


# ------------------------------------------------------------------ python


def _acquired(stmt: ast.stmt, verbs: set[str]) -> tuple[str, str] | None:
    """(variable, pool expression) when `stmt` is `var = pool.<acquire>()`."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return None
    call = stmt.value
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in verbs:
        return stmt.targets[0].id, ast.unparse(call.func.value)
    return None


def _releases(stmt: ast.stmt, var: str, verbs: set[str]) -> bool:
    """Is `stmt` `pool.putconn(var)` or `var.close()` / `var.release()`?"""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Attribute)):
        return False
    call = stmt.value
    if call.func.attr not in verbs:
        return False
    on_var = isinstance(call.func.value, ast.Name) and call.func.value.id == var and not call.args
    takes_var = any(isinstance(a, ast.Name) and a.id == var for a in call.args)
    return on_var or takes_var


def _multiline_strings(nodes: list[ast.stmt]) -> bool:
    return any(isinstance(n, (ast.Constant, ast.JoinedStr)) and getattr(n, "end_lineno", n.lineno) > n.lineno
               for stmt in nodes for n in ast.walk(stmt))


def _python_fix(target: FixTarget, config: FixConfig) -> CodeFix:
    try:
        tree = ast.parse(target.source)
    except SyntaxError as exc:
        raise NoFix(f"{target.path} does not parse as Python ({exc.msg}, line {exc.lineno})") from exc
    acquire = set(config.get("connection_leak", "python_acquire", ["getconn"]))
    release = set(config.get("connection_leak", "python_release", ["putconn"]))
    candidates = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = fn.body
        for i, stmt in enumerate(body):
            got = _acquired(stmt, acquire)
            if got is None:
                continue
            end = next((j for j in range(i + 1, len(body)) if _releases(body[j], got[0], release)), None)
            if end is None or end == i + 1:
                continue
            candidates.append((fn, stmt, body[i + 1:end], body[end], got))
    if target.line is not None:
        near = [c for c in candidates if c[0].lineno <= target.line <= c[0].end_lineno]
        candidates = near or candidates
    if not candidates:
        raise NoFix(f"no connection in {target.path} that is taken and given back in the same block without `finally`")
    fn, acquire_stmt, work, release_stmt, (var, pool) = candidates[0]
    if _multiline_strings(work):
        raise NoFix(f"{fn.name} holds a multi-line string; re-indenting it would change its value")
    lines = target.source.splitlines(keepends=True)
    pad = indent_of(lines[acquire_stmt.lineno - 1])
    step = indent_unit(target.source)
    first = min([work[0].lineno] + [d.lineno for d in getattr(work[0], "decorator_list", [])])
    last = work[-1].end_lineno  # 1-based, inclusive
    body = [(step + l) if l.strip() else l for l in lines[first - 1:last]]
    rel_first, rel_last = release_stmt.lineno, release_stmt.end_lineno
    released = [step + l for l in lines[rel_first - 1:rel_last]]
    new = (lines[: first - 1] + [f"{pad}try:\n"] + body + lines[last:rel_first - 1]
           + [f"{pad}finally:\n"] + released + lines[rel_last:])
    after = "".join(new)
    return CodeFix(
        template=NAME, path=target.path, before=target.source, after=after,
        title=f"Give the connection back in `finally` in {target.path} ({fn.name})",
        rationale=(f"`{fn.name}` takes `{var}` from `{pool}` on line {acquire_stmt.lineno} and gives it back only on "
                   f"the success path (line {release_stmt.lineno}); an exception in between leaks it, and the pool "
                   "runs dry one failure at a time. The work now runs in `try` and the give-back in `finally`."),
        lines=(first, rel_last), language="python", preserves="insert", risk="medium",
    )


# -------------------------------------------------------------------- node


def _node_fix(target: FixTarget, config: FixConfig) -> CodeFix:
    text = target.source
    if (why := balance_error(text)) is not None:
        raise NoFix(f"{target.path} cannot be read safely without a parser ({why})")
    masked = mask_code(text)
    acquire = "|".join(map(re.escape, config.get("connection_leak", "node_acquire", ["getConnection"])))
    release = "|".join(map(re.escape, config.get("connection_leak", "node_release", ["release"])))
    pattern = re.compile(rf"^([ \t]*)(?:const|let|var)\s+([\w$]+)\s*=\s*await\s+([\w$.]+)\.(?:{acquire})\(\s*\)\s*;?[ \t]*$", re.M)
    lines = text.splitlines(keepends=True)
    candidates = []
    for m in pattern.finditer(masked):
        pad, var = m.group(1), m.group(2)
        opener = enclosing_open(masked, m.start())
        block_end = matching_close(masked, opener) if opener >= 0 else None
        if block_end is None:
            continue
        rel = re.compile(rf"^{re.escape(pad)}{re.escape(var)}\.(?:{release})\(\s*\)\s*;?[ \t]*$", re.M)
        r = rel.search(masked, m.end(), block_end)
        if r is None:
            continue
        depth = sum(1 if c in "([{" else -1 if c in ")]}" else 0 for c in masked[m.end():r.start()])
        if depth != 0:  # the give-back sits in a nested block: not the same-block shape
            continue
        candidates.append((m, r, block_end, pad, var, opener))
    if target.line is not None:  # prefer the block the diagnosis points into
        near = [c for c in candidates if line_of(text, c[5]) <= target.line <= line_of(text, c[2])]
        candidates = near or candidates
    if not candidates:
        raise NoFix(f"no connection in {target.path} that is taken and given back in the same block without `finally`")
    m, r, block_end, pad, var, opener = candidates[0]
    acquire_line, release_line, close_line = line_of(text, m.start()), line_of(text, r.start()), line_of(text, block_end)
    if text[text.rfind("\n", 0, block_end) + 1:block_end].strip():
        raise NoFix(f"the block holding `{var}` does not end on a line of its own")
    step = indent_unit(text)
    work = lines[acquire_line:release_line - 1]
    tail = lines[release_line:close_line - 1]  # after the give-back: moves into `try` (block scope)
    if not any(l.strip() for l in work):
        raise NoFix(f"nothing happens between taking and giving back `{var}`")
    indented = [(step + l) if l.strip() else l for l in work + tail]
    transaction = re.search(rf"\b{re.escape(var)}\.beginTransaction\s*\(|\b{re.escape(var)}\.query\(\s*['\"]BEGIN", "".join(work))
    catch = ([f"{pad}}} catch (err) {{\n", f"{pad}{step}await {var}.rollback();\n", f"{pad}{step}throw err;\n"]
             if transaction else [])
    new = (lines[:acquire_line] + [f"{pad}try {{\n"] + indented + catch + [f"{pad}}} finally {{\n"]
           + [step + lines[release_line - 1]] + [f"{pad}}}\n"] + lines[close_line - 1:])
    after = "".join(new)
    fn = re.search(r"function\s+([\w$]+)[^{]*$", masked[:opener])
    name = fn.group(1) if fn else f"line {acquire_line}"
    rollback = " and a failure rolls the open transaction back first" if transaction else ""
    return CodeFix(
        template=NAME, path=target.path, before=text, after=after,
        title=f"Release the connection in `finally` in {target.path} ({name})",
        rationale=(f"`{name}` takes `{var}` on line {acquire_line} and releases it only on the success path "
                   f"(line {release_line}); a throw in between (a rejected request, a failed query) leaks it and the "
                   f"pool drains one failure at a time. The work now runs in `try`, the release in `finally`{rollback}."),
        lines=(acquire_line + 1, close_line - 1), language="javascript", preserves="reorder", risk="medium",
    )


def fix_release_in_finally(target: FixTarget, config: FixConfig) -> CodeFix:
    if target.path.endswith(".py"):
        return _python_fix(target, config)
    if target.path.endswith(EXTENSIONS):
        return _node_fix(target, config)
    raise NoFix(f"no connection-release template for {target.path}'s language")
