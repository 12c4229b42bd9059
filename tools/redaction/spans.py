"""Spans of text to mask, and the one function that masks them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Protocol

_TOKEN_LEFT = re.compile(r"[A-Za-z0-9_\-+/.~]")
_TOKEN_RIGHT = re.compile(r"[A-Za-z0-9_\-+/=.~]")


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    kind: str


Hits = list[tuple[int, int]]  # where a rule's trigger words are in the line (start, end)


class LineRule(Protocol):
    """A rule that finds secrets inside one line; it runs only when one of its triggers is in the line.

    `hits` says where those words are, so a rule can look there instead of scanning the whole line;
    None means "not known" (the rule scans)."""

    name: str
    triggers: tuple[str, ...]

    def spans(self, line: str, hits: Hits | None = None) -> Iterable[Span]: ...


@dataclass(frozen=True)
class ShapeRule:
    """A secret known by its shape: the groups of `pattern` (or the whole match) are masked."""

    name: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    groups: tuple[int | str, ...] = (0,)
    check: Callable[[re.Match[str]], bool] | None = None

    def spans(self, line: str, hits: Hits | None = None) -> Iterator[Span]:
        for m in self.pattern.finditer(line):
            if self.check is not None and not self.check(m):
                continue
            for g in self.groups:
                if m.group(g):
                    yield Span(m.start(g), m.end(g), self.name)


def unquote(start: int, end: int, text: str) -> tuple[int, int]:
    """The inside of a quoted value: `"x"` -> `x`, `\\"x\\"` -> `x`."""
    for quote in ('\\"', '"', "'", "`"):
        q = len(quote)
        if end - start >= 2 * q and text.startswith(quote, start) and text.endswith(quote, 0, end):
            return start + q, end - q
    return start, end


def whole_token(line: str, start: int, end: int) -> tuple[int, int]:
    """Grow a span to the token around it: a detector that matched 24 characters of a 99-character key must not leave 75."""
    while start > 0 and _TOKEN_LEFT.match(line[start - 1]):
        start -= 1
    while end < len(line) and _TOKEN_RIGHT.match(line[end]):
        end += 1
    return start, end


def apply(line: str, spans: Iterable[Span], mask: str) -> str:
    """`line` with every span replaced by `mask`; overlapping spans become one."""
    merged: list[list[int]] = []
    for s in sorted(spans):
        if s.end <= s.start:
            continue
        if merged and s.start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], s.end)
        else:
            merged.append([s.start, s.end])
    if not merged:
        return line
    out, pos = [], 0
    for start, end in merged:
        out += [line[pos:start], mask]
        pos = end
    out.append(line[pos:])
    return "".join(out)
