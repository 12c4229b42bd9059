"""Syntax trees for the templates: libcst for Python, tree-sitter for JavaScript, TypeScript and Go.

A tree-sitter template patches by byte ranges taken from tree nodes (`Edit`),
never by matching text; `apply_edits` refuses edits that overlap. A file the
parser reports errors in is one the templates leave alone, and a patched file
must parse without errors (validate.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import libcst
from tree_sitter import Language as TSLanguage
from tree_sitter import Node, Parser, Tree

from agents.code_fixes.base import Language, NoFix

EXTENSIONS: dict[str, Language] = {
    ".py": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go",
}
FUNCTION_TYPES = {
    "function_declaration", "function_expression", "arrow_function", "method_definition",
    "generator_function_declaration", "generator_function", "func_literal", "method_declaration",
}


def language_of(path: str) -> Language | None:
    dot = path.rfind(".")
    return EXTENSIONS.get(path[dot:].lower()) if dot >= 0 else None


@lru_cache(maxsize=None)
def ts_language(language: Language) -> TSLanguage:
    if language == "javascript":
        import tree_sitter_javascript as grammar

        return TSLanguage(grammar.language())
    if language in ("typescript", "tsx"):
        import tree_sitter_typescript as grammar

        return TSLanguage(grammar.language_typescript() if language == "typescript" else grammar.language_tsx())
    if language == "go":
        import tree_sitter_go as grammar

        return TSLanguage(grammar.language())
    raise ValueError(f"no tree-sitter grammar for {language}")


def parse_tree(language: Language, text: str) -> Tree:
    return Parser(ts_language(language)).parse(text.encode("utf-8"))


def first_error(node: Node) -> Node | None:
    """The first ERROR or MISSING node under `node`, or None."""
    if not node.has_error:
        return None
    for child in node.children:
        if child.type == "ERROR" or child.is_missing:
            return child
        found = first_error(child)
        if found is not None:
            return found
    return node


def syntax_error(language: Language, text: str) -> str | None:
    """Why `text` does not parse as `language`, or None when it does."""
    if language == "python":
        try:
            libcst.parse_module(text)
        except libcst.ParserSyntaxError as exc:
            return f"{exc.message} on line {exc.raw_line}"
        return None
    bad = first_error(parse_tree(language, text).root_node)
    if bad is None:
        return None
    kind = f"missing {bad.type}" if bad.is_missing else "unexpected code"
    return f"{kind} on line {bad.start_point[0] + 1}"


def parse_or_refuse(language: Language, path: str, text: str) -> Tree:
    tree = parse_tree(language, text)
    bad = first_error(tree.root_node)
    if bad is not None:
        raise NoFix(f"{path} does not parse as {language} (line {bad.start_point[0] + 1}); it is left alone")
    return tree


def parse_python_or_refuse(path: str, text: str) -> libcst.Module:
    try:
        return libcst.parse_module(text)
    except libcst.ParserSyntaxError as exc:
        raise NoFix(f"{path} does not parse as Python ({exc.message}, line {exc.raw_line})") from exc


# ------------------------------------------------------------------ nodes


def walk(node: Node) -> Iterator[Node]:
    """`node` and every node under it, in source order."""
    yield node
    for child in node.children:
        yield from walk(child)


def text_of(node: Node) -> str:
    return (node.text or b"").decode("utf-8")


def line_of(node: Node) -> int:
    return node.start_point[0] + 1


def end_line_of(node: Node) -> int:
    return node.end_point[0] + 1


def enclosing(node: Node, types: set[str] | frozenset[str]) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type not in types:
        parent = parent.parent
    return parent


def enclosing_function(node: Node) -> Node | None:
    return enclosing(node, FUNCTION_TYPES)


def function_name(fn: Node | None) -> str:
    """A readable name: the declared name, or the variable/property/call an anonymous function is given to."""
    if fn is None:
        return "<module>"
    name = fn.child_by_field_name("name")
    if name is not None:
        return text_of(name)
    parent = fn.parent
    if parent is not None and parent.type in ("variable_declarator", "pair", "assignment_expression"):
        key = parent.child_by_field_name("name") or parent.child_by_field_name("key") or parent.child_by_field_name("left")
        if key is not None:
            return text_of(key)
    if parent is not None and parent.type == "arguments":
        call = parent.parent
        if call is not None and call.type == "call_expression":
            callee = text_of(call.child_by_field_name("function"))
            first = parent.named_children[0] if parent.named_children else None
            route = f" {text_of(first)}" if first is not None and first.type == "string" else ""
            return f"{callee}{route} handler"
    return f"function at line {line_of(fn)}"


def function_span(fn: Node | None, tree_end_line: int) -> tuple[str, int, int]:
    if fn is None:
        return "<module>", 1, tree_end_line
    return function_name(fn), line_of(fn), end_line_of(fn)


def callee_parts(call: Node) -> tuple[str, str]:
    """(object text, method name) of `obj.method(...)`, ("", name) of `name(...)`, ("", "") otherwise."""
    fn = call.child_by_field_name("function")
    if fn is None:
        return "", ""
    if fn.type in ("member_expression", "selector_expression"):
        obj = fn.child_by_field_name("object") or fn.child_by_field_name("operand")
        prop = fn.child_by_field_name("property") or fn.child_by_field_name("field")
        return text_of(obj) if obj is not None else "", text_of(prop) if prop is not None else ""
    if fn.type == "identifier":
        return "", text_of(fn)
    return "", ""


def unwrap_await(node: Node | None) -> Node | None:
    while node is not None and node.type in ("await_expression", "parenthesized_expression", "non_null_expression",
                                             "as_expression"):
        node = node.named_children[0] if node.named_children else None
    return node


# ------------------------------------------------------------------ edits


@dataclass(frozen=True)
class Edit:
    """Replace bytes [start, end) of the source with `text` (start == end inserts)."""

    start: int
    end: int
    text: str


def apply_edits(source: str, edits: list[Edit]) -> str:
    data = source.encode("utf-8")
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for a, b in zip(ordered, ordered[1:]):
        if b.start < a.end:
            raise NoFix("the template's edits overlap; not patching")
    for e in reversed(ordered):
        data = data[: e.start] + e.text.encode("utf-8") + data[e.end:]
    return data.decode("utf-8")


def line_start(source: bytes, byte: int) -> int:
    return source.rfind(b"\n", 0, byte) + 1


def line_end(source: bytes, byte: int) -> int:
    """The byte just after the newline that ends the line holding `byte` (or the end of the file)."""
    at = source.find(b"\n", byte)
    return len(source) if at < 0 else at + 1


def indent_at(source: bytes, byte: int) -> str:
    start = line_start(source, byte)
    line = source[start:byte].decode("utf-8")
    return line[: len(line) - len(line.lstrip())]


def alone_on_its_lines(source: bytes, node: Node) -> bool:
    """Nothing but blanks shares the lines the node stands on (a trailing `;` or comment counts as its own)."""
    before = source[line_start(source, node.start_byte):node.start_byte]
    after = source[node.end_byte:line_end(source, node.end_byte)].strip()
    return not before.strip() and after in (b"", b";")


def indent_unit(text: str) -> str:
    """The file's indentation step: two or four spaces, or a tab."""
    lines = text.splitlines()
    if any(l.startswith("\t") for l in lines):
        return "\t"
    widths = sorted({len(l) - len(l.lstrip(" ")) for l in lines if l.strip() and l.startswith(" ")})
    return " " * (widths[0] if widths and widths[0] in (2, 4) else 4)


def reindent(block: str, step: str) -> str:
    """Each non-blank line of `block` one step deeper."""
    return "".join(step + l if l.strip() else l for l in block.splitlines(keepends=True))
