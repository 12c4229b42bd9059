"""connection_leak, Python: a connection, file or socket that some path does not give back.

Finds, with the control-flow check (flow.py), a function where some path
takes the resource (`conn = pool.getconn()`, `conn = sqlite3.connect(...)`,
`f = open(...)`, `s = socket.create_connection(...)`) and does not give it
back exactly once. The patch puts the work after the take in `try` and the
give-back in `finally` (a file opened with `open` gets a `with` block
instead); every give-back that sat on some paths inside that work is removed,
so no path gives the resource back twice (psycopg2's pool raises
`PoolError: trying to put unkeyed connection` on a second `putconn`). Work
after the last give-back at the block's own level stays after the `finally`,
so the connection is not held longer than before.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix, ReleaseFlow, Site, choose_sites
from agents.code_fixes.flow import check_flow
from agents.code_fixes.flow_python import Resource, dotted, function_steps, unwrap_await
from agents.code_fixes.python_tree import PyFunction, PyModule, code_of, replace_node
from agents.code_fixes.syntax import parse_python_or_refuse

NAME = "python_release"
WITH_CALLS = {"open"}


@dataclass(frozen=True)
class Acquired:
    fn: PyFunction
    block: cst.IndentedBlock
    index: int  # of the acquiring statement in block.body
    variable: str
    resource: Resource
    give_back: str  # the statement that gives it back, as code


def _how_released(call: cst.Call, var: str, config: FixConfig) -> tuple[frozenset[str], str] | None:
    """(acquire names, give-back statement) when `call` takes a resource."""
    pools: dict[str, str] = config.get("connection_leak", "python_pool_calls",
                                       {"getconn": "{pool}.putconn({var})"})
    connects = set(config.get("connection_leak", "python_connect_calls", ["sqlite3.connect"]))
    name = dotted(call.func)
    if isinstance(call.func, cst.Attribute) and call.func.attr.value in pools and name not in connects:
        verb = call.func.attr.value
        return frozenset({verb}), pools[verb].format(pool=code_of(call.func.value), var=var)
    if name in connects or name in WITH_CALLS:
        return frozenset({name.rsplit(".", 1)[-1]}), f"{var}.close()"
    return None


def _release_names(config: FixConfig) -> frozenset[str]:
    pools: dict[str, str] = config.get("connection_leak", "python_pool_calls", {"getconn": "{pool}.putconn({var})"})
    names = {template.split("(")[0].rsplit(".", 1)[-1] for template in pools.values()}
    return frozenset(names | {"close"})


def _acquisitions(mod: PyModule, config: FixConfig) -> list[Acquired]:
    found: list[Acquired] = []
    releases = _release_names(config)
    for fn in mod.functions:
        for block in m.findall(fn.node.body, m.IndentedBlock()):
            if mod.function_of(block) is not fn and block is not fn.node.body:
                continue  # a nested function's block: checked with that function
            for i, stmt in enumerate(block.body):  # type: ignore[attr-defined]
                if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
                    continue
                small = stmt.body[0]
                if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
                    continue
                var = small.targets[0].target.value
                call = unwrap_await(small.value)
                how = _how_released(call, var, config) if isinstance(call, cst.Call) else None
                if how is None:
                    continue
                resource = Resource(var, how[0], releases)
                found.append(Acquired(fn, block, i, var, resource,  # type: ignore[arg-type]
                                      ("await " if isinstance(small.value, cst.Await) and "{pool}" in how[1] else "") + how[1]))
    return found


def _escapes(statements: list[cst.BaseStatement], var: str) -> str | None:
    """Why the resource leaves the function's hands (returned, stored, re-bound), or None."""
    for stmt in statements:
        for ret in m.findall(stmt, m.Return(value=m.Name(var)) | m.Yield(value=m.Name(var))):
            return f"`{var}` is handed to the caller"
        for assign in m.findall(stmt, m.Assign()):
            if m.matches(assign.value, m.Name(var)):  # type: ignore[union-attr]
                return f"`{var}` is stored elsewhere"
            for t in assign.targets:  # type: ignore[union-attr]
                if m.matches(t.target, m.Name(var)):
                    return f"`{var}` is bound again"
    return None


class _DropReleases(cst.CSTTransformer):
    """Removes statements that give the resource back; a block left empty gets `pass`."""

    def __init__(self, resource: Resource):
        self.resource = resource
        self.dropped: list[str] = []

    def leave_SimpleStatementLine(self, original, updated):  # type: ignore[override]
        kept = [s for s in updated.body if not (isinstance(s, cst.Expr) and isinstance(unwrap_await(s.value), cst.Call)
                                                and self.resource.is_release_call(unwrap_await(s.value)))]  # type: ignore[arg-type]
        if len(kept) == len(updated.body):
            return updated
        self.dropped.append(code_of(original).strip())
        if not kept:
            return cst.RemoveFromParent()
        return updated.with_changes(body=kept)

    def leave_IndentedBlock(self, original, updated):  # type: ignore[override]
        if not updated.body:
            return updated.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def _is_release_line(stmt: cst.BaseStatement, resource: Resource) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
            and isinstance(unwrap_await(stmt.body[0].value), cst.Call)
            and resource.is_release_call(unwrap_await(stmt.body[0].value)))  # type: ignore[arg-type]


def _patched_block(site: Acquired) -> tuple[cst.IndentedBlock, list[str], cst.BaseStatement]:
    body = list(site.block.body)
    acquire, rest = body[site.index], body[site.index + 1:]
    last = max((i for i, s in enumerate(rest) if _is_release_line(s, site.resource)), default=None)
    work, after = (rest[:last], rest[last + 1:]) if last is not None else (rest, [])
    if why := _escapes(work, site.variable):
        raise NoFix(f"{site.fn.name}: {why}; giving it back here would break the caller")
    dropper = _DropReleases(site.resource)
    work = [s.visit(dropper) for s in work]
    work = [s for s in work if not isinstance(s, cst.RemovalSentinel)]
    if not work:
        raise NoFix(f"{site.fn.name}: nothing happens between taking and giving back `{site.variable}`")
    moved = list(dropper.dropped)
    small = acquire.body[0]  # type: ignore[attr-defined]
    call = unwrap_await(small.value)
    if dotted(call.func) in WITH_CALLS:
        with_stmt = cst.With(items=[cst.WithItem(item=call, asname=cst.AsName(name=cst.Name(site.variable)))],
                             body=cst.IndentedBlock(body=work), leading_lines=acquire.leading_lines)
        new_body = body[:site.index] + [with_stmt] + after
        moved.append(code_of(acquire).strip())
        if last is not None:
            moved.append(code_of(rest[last]).strip())
    else:
        give_back = rest[last] if last is not None else cst.parse_statement(site.give_back)
        guarded = cst.Try(body=cst.IndentedBlock(body=work),
                          finalbody=cst.Finally(body=cst.IndentedBlock(body=[give_back.with_changes(leading_lines=())])))
        new_body = body[:site.index + 1] + [guarded] + after
    return site.block.with_changes(body=new_body), moved, acquire


def fix_python_release(target: FixTarget, config: FixConfig) -> CodeFix:
    module = parse_python_or_refuse(target.path, target.source)
    mod = PyModule(module)
    sites: list[Site] = []
    for acq in _acquisitions(mod, config):
        verdict = check_flow(function_steps(acq.fn.node, acq.resource), acq.variable)
        if not verdict.ok:
            line = mod.line(acq.block.body[acq.index])
            sites.append(Site(acq.fn.name, acq.fn.start, acq.fn.end, line, (acq, verdict.details)))
    chosen = choose_sites(sites, target.line, "connection, file or socket that some path does not give back", target.path)
    acq, problem = chosen[0].data
    new_block, moved, acquire_stmt = _patched_block(acq)
    folded = [line for line in moved if line != code_of(acquire_stmt).strip()]
    after = replace_node(mod.module, acq.block, new_block).code
    first = chosen[0].line
    return CodeFix(
        template=NAME, path=target.path, before=target.source, after=after,
        title=f"Give `{acq.variable}` back exactly once in {target.path} ({acq.fn.name})",
        rationale=(f"`{acq.fn.name}` takes `{acq.variable}` on line {first}, and {problem}. The work now runs in "
                   + ("a `with` block, which closes it on every way out" if dotted(unwrap_await(acquire_stmt.body[0].value).func) in WITH_CALLS  # type: ignore[attr-defined]
                      else f"`try` and `{acq.give_back}` runs once in `finally`")
                   + (f"; the give-backs that sat on some paths ({'; '.join(folded)}) are folded into it, so no path "
                      "gives it back twice" if folded else "") + "."),
        lines=(first, acq.fn.end), language="python", function=acq.fn.name, moved=tuple(moved),
        flow=ReleaseFlow(acq.fn.start, acq.variable, tuple(acq.resource.acquire), tuple(acq.resource.release)),
        risk="medium",
    )
