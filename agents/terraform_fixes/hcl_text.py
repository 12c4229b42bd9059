"""Surgical edits of HCL text: find a block, read or set one argument, add a block.

Fix templates change Terraform code the way a person would, touching only
the lines the fix needs, so the diff a reviewer reads is the fix and nothing
else (python-hcl2 can read HCL but re-serialising it would rewrite every
line). The scanner knows strings with `${...}` interpolations, comments and
heredocs, so braces inside them do not confuse it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class HclEditError(ValueError):
    """The text does not have the shape an edit expected."""


def _skip_string(text: str, i: int) -> int:
    """Index just past the string literal starting at text[i] == '"'."""
    i += 1
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if depth == 0 and c == '"':
            return i + 1
        if text.startswith("${", i) or text.startswith("%{", i):
            depth += 1
            i += 2
            continue
        if depth and c == "}":
            depth -= 1
        elif depth and c == '"':
            i = _skip_string(text, i)
            continue
        i += 1
    return i


def _skip_heredoc(text: str, i: int) -> int:
    m = re.match(r"<<-?([A-Za-z_][A-Za-z0-9_]*)\s*\n", text[i:])
    if not m:
        return i + 2
    marker = m.group(1)
    end = re.compile(rf"^\s*{re.escape(marker)}\s*$", re.M).search(text, i + m.end())
    return end.end() if end else len(text)


def _skip_comment(text: str, i: int) -> int:
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end < 0 else end + 2
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _is_comment(text: str, i: int) -> bool:
    return text[i] == "#" or text.startswith("//", i) or text.startswith("/*", i)


def _skip_inert(text: str, i: int) -> int | None:
    """Where a string, comment or heredoc starting at `i` ends; None when `i` is code."""
    if text[i] == '"':
        return _skip_string(text, i)
    if _is_comment(text, i):
        return _skip_comment(text, i)
    if text.startswith("<<", i):
        return _skip_heredoc(text, i)
    return None


def matching_close(text: str, open_index: int) -> int:
    """Index of the bracket that closes the one at `open_index` ({, [ or ()."""
    pairs = {"{": "}", "[": "]", "(": ")"}
    stack = [pairs[text[open_index]]]
    i = open_index + 1
    while i < len(text):
        c = text[i]
        after = _skip_inert(text, i)
        if after is not None:
            i = after
            continue
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if not stack or c != stack[-1]:
                raise HclEditError(f"unbalanced {c!r} at offset {i}")
            stack.pop()
            if not stack:
                return i
        i += 1
    raise HclEditError("unclosed block")


@dataclass(frozen=True)
class Span:
    """A block: `start` of its header line, `open` its {, `close` its }."""

    start: int
    open: int
    close: int
    kind: str
    labels: tuple[str, ...]

    def body(self, text: str) -> str:
        return text[self.open + 1:self.close]


_HEADER = re.compile(r'^([ \t]*)([A-Za-z_][A-Za-z0-9_-]*)((?:[ \t]+"[^"\n]*"|[ \t]+[A-Za-z_][A-Za-z0-9_-]*)*)[ \t]*\{', re.M)


def _top_level_positions(text: str, lo: int, hi: int) -> list[int]:
    """Offsets in text[lo:hi] that are at nesting depth 0 (outside strings and comments)."""
    out: list[int] = []
    i = lo
    while i < hi:
        c = text[i]
        after = _skip_inert(text, i)
        if after is not None:
            i = after
            continue
        if c in "{[(":
            i = matching_close(text, i) + 1
            continue
        out.append(i)
        i += 1
    return out


def blocks(text: str, kind: str | None = None, labels: tuple[str, ...] | None = None, within: Span | None = None) -> list[Span]:
    """Blocks at the top level of the file (or directly inside `within`), optionally by kind and leading labels."""
    lo, hi = (within.open + 1, within.close) if within else (0, len(text))
    allowed = set(_top_level_positions(text, lo, hi))
    out: list[Span] = []
    for m in _HEADER.finditer(text, lo, hi):
        start = m.start(2)
        if start not in allowed:
            continue
        block_kind = m.group(2)
        found = tuple(re.findall(r'"([^"\n]*)"|([A-Za-z_][A-Za-z0-9_-]*)', m.group(3) or ""))
        found_labels = tuple(a or b for a, b in found)
        if kind is not None and block_kind != kind:
            continue
        if labels is not None and found_labels[:len(labels)] != labels:
            continue
        open_index = m.end() - 1
        out.append(Span(start=m.start(), open=open_index, close=matching_close(text, open_index), kind=block_kind, labels=found_labels))
    return out


def block(text: str, kind: str, *labels: str) -> Span | None:
    found = blocks(text, kind, tuple(labels) if labels else None)
    return found[0] if found else None


_ATTR = re.compile(r"^([ \t]*)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*=(?!=)[ \t]*", re.M)


@dataclass(frozen=True)
class Attribute:
    name: str
    start: int  # start of the line
    value_start: int
    value_end: int  # exclusive
    indent: str

    def value(self, text: str) -> str:
        return text[self.value_start:self.value_end]


def _value_end(text: str, i: int) -> int:
    """End of an expression starting at i: through brackets, strings and heredocs, up to the end of its line."""
    while i < len(text):
        c = text[i]
        if c == "\n":
            return i
        if c == '"':
            i = _skip_string(text, i)
            continue
        if text.startswith("<<", i):
            i = _skip_heredoc(text, i)
            continue
        if c in "{[(":
            i = matching_close(text, i) + 1
            continue
        if _is_comment(text, i) and (c != "/" or text.startswith(("//", "/*"), i)):
            return i
        i += 1
    return i


def attributes(text: str, within: Span) -> dict[str, Attribute]:
    """Arguments set directly inside a block."""
    allowed = set(_top_level_positions(text, within.open + 1, within.close))
    out: dict[str, Attribute] = {}
    for m in _ATTR.finditer(text, within.open + 1, within.close):
        if m.start(2) not in allowed:
            continue
        end = _value_end(text, m.end())
        value_end = end
        while value_end > m.end() and text[value_end - 1] in " \t":
            value_end -= 1
        out.setdefault(m.group(2), Attribute(m.group(2), m.start(), m.end(), value_end, m.group(1)))
    return out


def attribute(text: str, within: Span, name: str) -> Attribute | None:
    return attributes(text, within).get(name)


def set_value(text: str, attr: Attribute, value: str) -> str:
    return text[:attr.value_start] + value + text[attr.value_end:]


def indent_of(text: str, span: Span) -> str:
    line_start = text.rfind("\n", 0, span.open) + 1
    return re.match(r"[ \t]*", text[line_start:]).group(0)


def insert_in_block(text: str, span: Span, snippet: str, *, blank_line: bool = True) -> str:
    """Insert `snippet` (unindented lines) as the last content of a block, indented one level deeper."""
    inner = indent_of(text, span) + "  "
    lines = [(inner + line) if line.strip() else "" for line in snippet.strip("\n").split("\n")]
    body = text[span.open + 1:span.close]
    before = text[:span.close].rstrip(" \t")
    if not before.endswith("\n"):
        before += "\n"
    separator = "\n" if blank_line and body.strip() else ""
    closing_indent = indent_of(text, span)
    return before + separator + "\n".join(lines) + "\n" + closing_indent + text[span.close:]


def append_block(text: str, snippet: str) -> str:
    """Append a top-level block at the end of a file, separated by a blank line."""
    body = text.rstrip("\n")
    return (body + "\n\n" if body else "") + snippet.strip("\n") + "\n"


def literal_number(value: str) -> int | None:
    value = value.strip()
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r'"-?\d+"', value):
        return int(value.strip('"'))
    return None


def literal_string(value: str) -> str | None:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"' and "${" not in value:
        return value[1:-1]
    return None


def resource_blocks(files: dict[str, str], rtype: str) -> list[tuple[str, Span]]:
    """(path, span) of every `resource "<rtype>"` block in the .tf files."""
    out: list[tuple[str, Span]] = []
    for path, text in sorted(files.items()):
        if path.endswith(".tf"):
            try:
                out += [(path, span) for span in blocks(text, "resource", (rtype,))]
            except HclEditError:
                continue
    return out
