"""libcst helpers the Python templates share: functions with their lines, imports, loggers, blocks."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, PositionProvider

from agents.code_fixes.flow_python import dotted


@dataclass(frozen=True)
class PyFunction:
    node: cst.FunctionDef
    name: str  # qualified: Class.method, outer.inner
    start: int  # line of `def`
    end: int


class PyModule:
    """A parsed module with positions, so templates can name lines and functions."""

    def __init__(self, module: cst.Module):
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.module = self.wrapper.module
        self.positions = self.wrapper.resolve(PositionProvider)
        self.functions = self._functions()

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def end_line(self, node: cst.CSTNode) -> int:
        return self.positions[node].end.line

    def _functions(self) -> list[PyFunction]:
        found: list[PyFunction] = []
        outer = self

        class Visit(cst.CSTVisitor):
            def __init__(self) -> None:
                self.stack: list[str] = []

            def visit_ClassDef(self, node: cst.ClassDef) -> None:
                self.stack.append(node.name.value)

            def leave_ClassDef(self, node: cst.ClassDef) -> None:
                self.stack.pop()

            def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
                name = ".".join(self.stack + [node.name.value])
                found.append(PyFunction(node, name, outer.line(node.name), outer.end_line(node)))
                self.stack.append(node.name.value)

            def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
                self.stack.pop()

        self.module.visit(Visit())
        return found

    def function_of(self, node: cst.CSTNode) -> PyFunction | None:
        """The innermost function whose lines hold `node`."""
        line = self.line(node)
        holding = [f for f in self.functions if f.start <= line <= f.end]
        return min(holding, key=lambda f: f.end - f.start) if holding else None

    def function_named(self, name: str) -> PyFunction | None:
        return next((f for f in self.functions if f.name == name), None)

    def span(self, node: cst.CSTNode) -> tuple[str, int, int]:
        fn = self.function_of(node)
        if fn is None:
            return "<module>", 1, self.end_line(self.module)
        return fn.name, fn.start, fn.end


def own_statements(body: cst.BaseSuite) -> list[cst.BaseStatement]:
    return list(body.body) if isinstance(body, cst.IndentedBlock) else []


def imported_modules(module: cst.Module) -> dict[str, str]:
    """Local name -> module for `import x`, `import x as y` and `from a import b` (b -> a.b)."""
    names: dict[str, str] = {}
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    full = dotted(alias.name)
                    local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else full.split(".")[0]
                    names[local] = full if alias.asname else full.split(".")[0]
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar) and small.module is not None:
                base = dotted(small.module)
                for alias in small.names:
                    local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else alias.name.value
                    names[str(local)] = f"{base}.{dotted(alias.name)}"
    return names


def add_import(module: cst.Module, statement: str) -> cst.Module:
    """`statement` after the module's last top-level import (or its docstring), once."""
    new = cst.parse_statement(statement)
    if any(s.deep_equals(new) for s in module.body):
        return module
    body = list(module.body)
    at = 0
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], (cst.Import, cst.ImportFrom)):
            at = i + 1
        elif i == 0 and isinstance(stmt, cst.SimpleStatementLine) and m.matches(stmt.body[0], m.Expr(m.SimpleString())):
            at = 1
    body.insert(at, new)
    return module.with_changes(body=body)


def module_logger(module: cst.Module) -> str | None:
    """The name of a module-level `x = logging.getLogger(...)`, if there is one."""
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Assign):
            assign = stmt.body[0]
            value = assign.value
            if (isinstance(value, cst.Call) and dotted(value.func) in ("logging.getLogger", "getLogger", "structlog.get_logger")
                    and isinstance(assign.targets[0].target, cst.Name)):
                return assign.targets[0].target.value
    return None


def replace_node(module: cst.Module, old: cst.CSTNode, new: cst.CSTNode | cst.RemovalSentinel) -> cst.Module:
    """`module` with the node `old` (by identity) replaced."""

    class Swap(cst.CSTTransformer):
        def on_leave(self, original, updated):  # type: ignore[override]
            return new if original is old else updated

    return module.visit(Swap())


def code_of(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)
