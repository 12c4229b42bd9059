"""Python functions as flow steps (flow.py), read from libcst trees."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from agents.code_fixes.flow import Step

CATCH_ALL = {"Exception", "BaseException"}


def dotted(node: cst.BaseExpression) -> str:
    """`a.b.c` for a Name/Attribute chain, else ""."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def unwrap_await(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.expression if isinstance(node, cst.Await) else node


@dataclass(frozen=True)
class Resource:
    """How the resource is named, taken and given back in one function."""

    variable: str
    acquire: frozenset[str]  # method or function names (`getconn`, `connect`, `open`)
    release: frozenset[str]  # method names (`putconn`, `close`, `release`)

    def acquires(self, value: cst.BaseExpression | None) -> bool:
        value = unwrap_await(value) if value is not None else None
        if not isinstance(value, cst.Call):
            return False
        name = dotted(value.func).rsplit(".", 1)[-1] if dotted(value.func) else ""
        if not name and isinstance(value.func, cst.Attribute):
            name = value.func.attr.value
        return name in self.acquire

    def is_release_call(self, call: cst.Call) -> bool:
        if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in self.release:
            return False
        on_var = m.matches(call.func.value, m.Name(self.variable)) and not call.args
        takes_var = any(m.matches(a.value, m.Name(self.variable)) for a in call.args)
        return on_var or takes_var

    def releases_in(self, node: cst.CSTNode) -> bool:
        return any(self.is_release_call(c) for c in _calls(node))


def _calls(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Collect(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

        def visit_FunctionDef(self, _: cst.FunctionDef) -> bool:
            return False

        def visit_Lambda(self, _: cst.Lambda) -> bool:
            return False

    node.visit(Collect())
    return found


def may_raise(node: cst.CSTNode) -> bool:
    return bool(_calls(node)) or bool(m.findall(node, m.Subscript() | m.Await()))


def assigned_value(stmt: cst.BaseSmallStatement, variable: str) -> cst.BaseExpression | None:
    """The value of `variable = value` / `variable: T = value`, else None."""
    if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and m.matches(stmt.targets[0].target, m.Name(variable)):
        return stmt.value
    if isinstance(stmt, cst.AnnAssign) and m.matches(stmt.target, m.Name(variable)):
        return stmt.value
    return None


class PythonFlow:
    """Reads a function body into steps for one resource."""

    def __init__(self, resource: Resource):
        self.r = resource

    def block(self, body: cst.BaseSuite | None) -> list[Step]:
        if body is None:
            return []
        if isinstance(body, cst.SimpleStatementSuite):
            return [s for small in body.body for s in self.small(small)]
        return [s for stmt in body.body for s in self.statement(stmt)]

    def small(self, stmt: cst.BaseSmallStatement) -> list[Step]:
        if isinstance(stmt, cst.Return):
            steps = [Step("release")] if stmt.value is not None and self.r.releases_in(stmt.value) else []
            return steps + [Step("return", may_raise=stmt.value is not None and may_raise(stmt.value))]
        if isinstance(stmt, cst.Raise):
            return [Step("raise")]
        if isinstance(stmt, cst.Break):
            return [Step("break")]
        if isinstance(stmt, cst.Continue):
            return [Step("continue")]
        if self.r.acquires(assigned_value(stmt, self.r.variable)):
            return [Step("acquire")]
        if self.r.releases_in(stmt):
            return [Step("release")]
        return [Step("plain", may_raise=may_raise(stmt))]

    def statement(self, stmt: cst.BaseStatement) -> list[Step]:
        if isinstance(stmt, cst.SimpleStatementLine):
            return [s for small in stmt.body for s in self.small(small)]
        if isinstance(stmt, cst.If):
            arms = [self.block(stmt.body)]
            orelse = stmt.orelse
            if isinstance(orelse, cst.If):
                arms.append(self.statement(orelse))
            elif isinstance(orelse, cst.Else):
                arms.append(self.block(orelse.body))
            else:
                arms.append([])
            return [Step("branch", may_raise=may_raise(stmt.test), arms=arms)]
        if isinstance(stmt, (cst.For, cst.While)):
            cond = stmt.iter if isinstance(stmt, cst.For) else stmt.test
            return [Step("loop", may_raise=may_raise(cond), body=self.block(stmt.body))]
        if isinstance(stmt, (cst.Try, cst.TryStar)):
            handlers = [self.block(h.body) for h in stmt.handlers]
            catches_all = any(h.type is None or dotted(h.type) in CATCH_ALL for h in stmt.handlers)
            return [Step("try", body=self.block(stmt.body), handlers=handlers, catches_all=catches_all,
                         orelse=self.block(stmt.orelse.body) if stmt.orelse else [],
                         final=self.block(stmt.finalbody.body) if stmt.finalbody else [])]
        if isinstance(stmt, cst.With):
            return self.with_statement(stmt)
        if isinstance(stmt, cst.Match):
            arms = [self.block(case.body) for case in stmt.cases] + [[]]
            return [Step("branch", may_raise=may_raise(stmt.subject), arms=arms)]
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            return [Step("plain")]
        return [Step("plain", may_raise=may_raise(stmt))]

    def with_statement(self, stmt: cst.With) -> list[Step]:
        """`with acquire() as var:` takes and gives back; `with closing(var):` gives back at the end."""
        before: list[Step] = []
        closes = False
        for item in stmt.items:
            target = item.asname.name if item.asname else None
            if m.matches(target, m.Name(self.r.variable)) and self.r.acquires(item.item):
                before.append(Step("acquire"))
                closes = True
            elif (isinstance(item.item, cst.Call) and dotted(item.item.func).rsplit(".", 1)[-1] == "closing"
                  and any(m.matches(a.value, m.Name(self.r.variable)) for a in item.item.args)):
                closes = True
            elif may_raise(item.item):
                before.append(Step("plain", may_raise=True))
        body = self.block(stmt.body)
        if closes:
            return before + [Step("try", body=body, final=[Step("release")])]
        return before + [Step("try", body=body)]


def function_steps(fn: cst.FunctionDef, resource: Resource) -> list[Step]:
    return PythonFlow(resource).block(fn.body)
