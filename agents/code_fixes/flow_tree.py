"""JavaScript, TypeScript and Go functions as flow steps (flow.py), read from tree-sitter trees."""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from agents.code_fixes.flow import Step
from agents.code_fixes.syntax import FUNCTION_TYPES, callee_parts, line_of, text_of, unwrap_await, walk

CALLS = {"call_expression", "new_expression", "await_expression"}
JS_LOOPS = {"for_statement", "for_in_statement", "while_statement", "do_statement"}
JS_DECLARATIONS = {"lexical_declaration", "variable_declaration"}


@dataclass(frozen=True)
class TreeResource:
    """The resource in one function: its variable, the calls that take it and the calls that give it back."""

    variable: str
    acquire: frozenset[str]
    release: frozenset[str]

    def acquiring_call(self, value: Node | None) -> Node | None:
        value = unwrap_await(value)
        if value is not None and value.type == "call_expression" and callee_parts(value)[1] in self.acquire:
            return value
        return None

    def is_release_call(self, call: Node) -> bool:
        obj, name = callee_parts(call)
        if name not in self.release:
            return False
        if obj == self.variable or obj.startswith(self.variable + "."):  # conn.release(), resp.Body.Close()
            return True
        args = call.child_by_field_name("arguments")
        return args is not None and any(a.type == "identifier" and text_of(a) == self.variable for a in args.named_children)

    def release_calls(self, node: Node) -> list[Node]:
        return [n for n in _own_nodes(node) if n.type == "call_expression" and self.is_release_call(n)]


def _own_nodes(node: Node):
    """Nodes under `node` that are not inside a nested function."""
    yield node
    for child in node.children:
        if child.type in FUNCTION_TYPES:
            continue
        yield from _own_nodes(child)


def may_raise(node: Node | None) -> bool:
    return node is not None and any(n.type in CALLS for n in _own_nodes(node))


def declared_value(stmt: Node, variable: str) -> Node | None:
    """The value `variable` gets in `const variable = value` (JS) or `variable, err := value` (Go)."""
    if stmt.type in JS_DECLARATIONS:
        for d in stmt.named_children:
            name = d.child_by_field_name("name")
            if d.type == "variable_declarator" and name is not None and text_of(name) == variable:
                return d.child_by_field_name("value")
    if stmt.type == "expression_statement" and stmt.named_children and stmt.named_children[0].type == "assignment_expression":
        assign = stmt.named_children[0]
        if text_of(assign.child_by_field_name("left")) == variable:
            return assign.child_by_field_name("right")
    if stmt.type in ("short_var_declaration", "assignment_statement"):
        left, right = stmt.child_by_field_name("left"), stmt.child_by_field_name("right")
        names = [text_of(n) for n in left.named_children] if left is not None else []
        if names and names[0] == variable and right is not None and right.named_children:
            return right.named_children[0]
    return None


def go_error_variable(stmt: Node) -> str | None:
    """`err` in `x, err := ...`."""
    left = stmt.child_by_field_name("left")
    names = [text_of(n) for n in left.named_children] if left is not None else []
    return names[1] if len(names) > 1 else None


def is_error_check(stmt: Node, err: str) -> bool:
    """`if err != nil { ... }` (Go)."""
    cond = stmt.child_by_field_name("condition") if stmt.type == "if_statement" else None
    return cond is not None and text_of(cond).replace(" ", "") == f"{err}!=nil"


class TreeFlow:
    """Reads a JS/TS or Go function body into steps for one resource."""

    def __init__(self, resource: TreeResource, language: str):
        self.r = resource
        self.go = language == "go"

    def statements(self, nodes: list[Node]) -> list[Step]:
        steps: list[Step] = []
        pending_err: str | None = None
        for stmt in nodes:
            if stmt.type == "comment":
                continue
            if pending_err is not None and is_error_check(stmt, pending_err):
                steps.append(self.error_check(stmt))
                pending_err = None
                continue
            pending_err = None
            steps.extend(self.statement(stmt))
            if self.go and steps and steps[-1].kind == "acquire":
                pending_err = go_error_variable(stmt)
        return steps

    def error_check(self, stmt: Node) -> Step:
        """The arm of `if err != nil` right after the acquire runs without the resource."""
        arms = [[Step("undo_acquire")] + self.block(stmt.child_by_field_name("consequence"))]
        alternative = stmt.child_by_field_name("alternative")
        arms.append(self.block(alternative) if alternative is not None else [])
        return Step("branch", line=line_of(stmt), arms=arms)

    def block(self, node: Node | None) -> list[Step]:
        if node is None:
            return []
        if node.type in ("statement_block", "block", "statement_list", "else_clause", "finally_clause"):
            children = [c for c in node.named_children]
            if len(children) == 1 and children[0].type in ("statement_list", "statement_block", "block"):
                return self.block(children[0])
            return self.statements(children)
        return self.statement(node)

    def statement(self, s: Node) -> list[Step]:
        t, line = s.type, line_of(s)
        if t in ("statement_block", "block", "statement_list"):
            return self.block(s)
        if t in JS_DECLARATIONS or t in ("short_var_declaration", "assignment_statement", "expression_statement"):
            if self.r.acquiring_call(declared_value(s, self.r.variable)) is not None:
                return [Step("acquire", line=line)]
        if t == "return_statement":
            pre = [Step("release", line=line)] if self.r.release_calls(s) else []
            value = s.named_children[0] if s.named_children else None
            return pre + [Step("return", line=line, may_raise=not self.go and may_raise(value))]
        if t == "throw_statement":
            return [Step("raise", line=line)]
        if t == "break_statement":
            return [Step("break", line=line)]
        if t == "continue_statement":
            return [Step("continue", line=line)]
        if t == "if_statement":
            arms = [self.block(s.child_by_field_name("consequence"))]
            alternative = s.child_by_field_name("alternative")
            arms.append(self.block(alternative) if alternative is not None else [])
            cond = s.child_by_field_name("condition")
            head = self.block(s.child_by_field_name("initializer")) if self.go else []
            return head + [Step("branch", line=line, may_raise=not self.go and may_raise(cond), arms=arms)]
        if t in JS_LOOPS or t == "for_statement":
            return [Step("loop", line=line, body=self.block(s.child_by_field_name("body")))]
        if t == "try_statement":
            handler = s.child_by_field_name("handler")
            final = s.child_by_field_name("finalizer")
            return [Step("try", line=line, body=self.block(s.child_by_field_name("body")),
                         handlers=[self.block(handler.child_by_field_name("body"))] if handler is not None else [],
                         catches_all=handler is not None,
                         final=self.block(final.child_by_field_name("body") or final) if final is not None else [])]
        if t in ("switch_statement", "expression_switch_statement", "type_switch_statement", "select_statement"):
            cases = [c for c in walk(s) if c.type in ("switch_case", "switch_default", "expression_case",
                                                      "default_case", "type_case", "communication_case")
                     and c.parent is not None and (c.parent == s or c.parent.parent == s)]
            arms = [self.statements([n for n in c.named_children if n.type not in ("expression_list", "string", "identifier",
                                                                                    "number", "member_expression")])
                    for c in cases]
            has_default = any(c.type in ("switch_default", "default_case") for c in cases)
            return [Step("branch", line=line, may_raise=False, arms=arms + ([] if has_default else [[]]))]
        if t == "defer_statement":
            call = s.named_children[0] if s.named_children else None
            body = [Step("release", line=line)] if call is not None and self.r.release_calls(s) else [Step("plain")]
            return [Step("defer", line=line, body=body)]
        if t in FUNCTION_TYPES or t in ("function_declaration", "class_declaration"):
            return [Step("plain", line=line)]
        if self.r.release_calls(s):
            return [Step("release", line=line)]
        return [Step("plain", line=line, may_raise=not self.go and may_raise(s))]


def function_steps(fn: Node, resource: TreeResource, language: str) -> list[Step]:
    body = fn.child_by_field_name("body")
    if body is None:
        return []
    if body.type not in ("statement_block", "block"):  # an arrow function with an expression body
        return [Step("plain", may_raise=True)]
    return TreeFlow(resource, language).block(body)
