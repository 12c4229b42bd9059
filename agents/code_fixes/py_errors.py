"""dependency_failure, Python: a network or database call with no error handling gets the handling the code implies.

A call through requests, httpx, aiohttp, urllib, sqlite3, psycopg2 or
pymysql that no `try` guards lets the library's exception escape as an
unhandled error (a 500, a dead worker). The patch wraps the function's work
from that call on in `try`/`except <the library's error>` and handles it the
way the surrounding code already does, in this order:
1. the function already returns a failure value (`None`, `[]`, ...) on
   another path: log (when the module has a logger) and return it;
2. the module defines an exception class it raises: raise it, chained;
3. the module has a logger: log the failure and re-raise.
With none of these, nothing says how a failure should look, and no patch is
offered.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix, Site, choose_sites
from agents.code_fixes.flow_python import dotted, unwrap_await
from agents.code_fixes.py_timeout import VERBS, _Clients, resolve
from agents.code_fixes.python_tree import PyFunction, PyModule, code_of, imported_modules, module_logger, replace_node
from agents.code_fixes.syntax import parse_python_or_refuse

NAME = "python_error_handling"
DB_METHODS = {"execute", "executemany", "fetchone", "fetchall", "fetchmany", "commit", "cursor"}
FAILURE_VALUES = m.Name("None") | m.List(elements=[]) | m.Dict(elements=[]) | m.Tuple(elements=[]) | m.Name("False") \
    | m.Integer("0") | m.SimpleString()


def _library(call: cst.Call, imports: dict[str, str], clients: _Clients, errors: dict[str, str]) -> str | None:
    """The library a call goes through, when it is one whose failures this template knows."""
    func = dotted(call.func)
    if not func:
        return None
    receiver, _, verb = func.rpartition(".")
    full = resolve(func, imports)
    for lib in sorted(errors, key=len, reverse=True):
        if full.startswith(lib + ".") and lib in imports.values():
            return lib
    if verb in VERBS and receiver in clients.requests:
        return "requests"
    if verb in VERBS and receiver in clients.httpx:
        return "httpx"
    if verb in DB_METHODS:
        for lib in ("sqlite3", "psycopg2", "pymysql"):
            if lib in imports.values():
                return lib
    return None


def _guarded_calls(module: cst.Module) -> set[int]:
    guarded: set[int] = set()
    for node in m.findall(module, m.Try() | m.TryStar()):
        if node.handlers:  # type: ignore[union-attr]
            guarded |= {id(c) for c in m.findall(node.body, m.Call())}  # type: ignore[union-attr]
    return guarded


def _own_error_class(module: cst.Module) -> str | None:
    """An exception class the module defines (no custom __init__) and raises somewhere."""
    raised = {dotted(unwrap_await(r.exc).func) for r in m.findall(module, m.Raise(exc=m.Call()))}  # type: ignore[union-attr]
    for cls in module.body:
        if not isinstance(cls, cst.ClassDef) or cls.name.value not in raised:
            continue
        bases = {dotted(b.value) for b in cls.bases}
        has_init = any(isinstance(s, cst.FunctionDef) and s.name.value == "__init__" for s in m.findall(cls, m.FunctionDef()))
        if not has_init and any(b.endswith(("Error", "Exception")) for b in bases):
            return cls.name.value
    return None


def _own_failure_value(fn: cst.FunctionDef) -> str | None:
    returns = [r for r in m.findall(fn.body, m.Return()) if r.value is not None]  # type: ignore[union-attr]
    for ret in returns[:-1] if len(returns) > 1 else []:
        if m.matches(ret.value, FAILURE_VALUES):  # type: ignore[union-attr]
            return code_of(ret.value)  # type: ignore[union-attr, arg-type]
    return None


def _handler(fn: PyFunction, module: cst.Module, types: list[str]) -> tuple[str, str]:
    """(the except clause as code, how it was chosen)."""
    caught = types[0] if len(types) == 1 else f"({', '.join(types)})"
    log = module_logger(module)
    short = fn.name.rsplit(".", 1)[-1]
    value = _own_failure_value(fn.node)
    if value is not None:
        logged = f"    {log}.warning(\"{short} failed: %s\", exc)\n" if log else ""
        return (f"except {caught} as exc:\n{logged}    return {value}\n",
                f"returns the failure value the function already returns on another path (`{value}`)")
    if (cls := _own_error_class(module)) is not None:
        return (f"except {caught} as exc:\n    raise {cls}(f\"{short} failed: {{exc}}\") from exc\n",
                f"raises the module's own `{cls}`, chained to the library's error")
    if log:
        return f"except {caught}:\n    {log}.exception(\"{short} failed\")\n    raise\n", f"logs the failure with `{log}` and re-raises it"
    raise NoFix(f"nothing in {fn.name}'s module says how a failure should be handled (no handler of this error "
                "elsewhere, no exception class of its own, no failure value, no logger); a person should decide")


def fix_python_errors(target: FixTarget, config: FixConfig) -> CodeFix:
    errors: dict[str, str] = config.get("dependency_failure", "python_errors", {"requests": "requests.RequestException"})
    module = parse_python_or_refuse(target.path, target.source)
    mod = PyModule(module)
    imports = imported_modules(mod.module)
    clients = _Clients(imports)
    mod.module.visit(clients)
    guarded = _guarded_calls(mod.module)
    sites = []
    for fn in mod.functions:
        body = fn.node.body
        if not isinstance(body, cst.IndentedBlock):
            continue
        for index, stmt in enumerate(body.body):
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            calls = [(c, lib) for c in m.findall(stmt, m.Call())
                     if id(c) not in guarded and (lib := _library(c, imports, clients, errors))]  # type: ignore[arg-type]
            if calls:
                sites.append(Site(fn.name, fn.start, fn.end, mod.line(calls[0][0]), (fn, index, calls)))
                break
    chosen = choose_sites(sites, target.line, "network or database call without error handling", target.path)
    fn, index, calls = chosen[0].data
    # every library called in the wrapped statements, not only the first call's
    work = list(fn.node.body.body[index:])
    libs = sorted({lib for stmt in work for c in m.findall(stmt, m.Call())
                   if id(c) not in guarded and (lib := _library(c, imports, clients, errors))})  # type: ignore[arg-type]
    types = [errors[lib] for lib in libs]
    for t in types:
        if t.split(".")[0] not in imports:
            raise NoFix(f"`{t}` is not importable by that name in {target.path}; a person should write the handler")
    clause, how = _handler(fn, mod.module, types)
    template = cst.parse_statement(f"try:\n    pass\n{clause}")
    leading = work[0].leading_lines
    work[0] = work[0].with_changes(leading_lines=())
    guarded_try = template.with_changes(body=cst.IndentedBlock(body=work), leading_lines=leading)  # type: ignore[union-attr]
    new_body = fn.node.body.with_changes(body=list(fn.node.body.body[:index]) + [guarded_try])
    after = replace_node(mod.module, fn.node.body, new_body).code
    first = mod.line(fn.node.body.body[index])
    return CodeFix(
        template=NAME, path=target.path, before=target.source, after=after,
        title=f"Handle a failed {', '.join(libs)} call in {target.path} ({fn.name})",
        rationale=(f"`{fn.name}` calls {', '.join(libs)} on line {chosen[0].line} with nothing to catch "
                   f"`{'`, `'.join(types)}`: a failed call escapes as an unhandled error. The work from line {first} "
                   f"now runs in `try`, and the handler {how}."),
        lines=(first, fn.end), language="python", function=fn.name, risk="medium",
    )

