"""Reading C-family source (JavaScript, TypeScript, Go) without a parser.

No tree-sitter in this environment, so the templates work on a *masked* copy
of the text: strings, template literals and comments become spaces (newlines
kept), so brackets and names found in the mask are code. Regex literals are
not recognised; a file whose brackets do not balance under this reading is
one the templates leave alone.
"""

from __future__ import annotations

PAIRS = {")": "(", "]": "[", "}": "{"}


def mask_code(text: str) -> str:
    """`text` with string, template-literal and comment contents blanked, same length and lines."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif c in "'\"":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "`":
            j, depth = i + 1, 0
            while j < n:
                if text[j] == "\\":
                    j += 2
                    continue
                if depth == 0 and text[j] == "`":
                    break
                if text.startswith("${", j):
                    depth += 1
                    j += 2
                    continue
                if depth and text[j] == "}":
                    depth -= 1
                elif depth and text[j] == "{":
                    depth += 1
                j += 1
            blank(i, j + 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def balance_error(text: str) -> str | None:
    """Why the brackets of `text` do not balance, or None when they do."""
    masked = mask_code(text)
    stack: list[tuple[str, int]] = []
    for i, c in enumerate(masked):
        if c in "([{":
            stack.append((c, i))
        elif c in PAIRS:
            if not stack or stack[-1][0] != PAIRS[c]:
                return f"unexpected '{c}' on line {text.count(chr(10), 0, i) + 1}"
            stack.pop()
    if stack:
        c, i = stack[-1]
        return f"'{c}' opened on line {text.count(chr(10), 0, i) + 1} is never closed"
    return None


def matching_close(masked: str, open_at: int) -> int | None:
    """Index of the bracket closing the one at `open_at`, in masked text."""
    depth = 0
    for i in range(open_at, len(masked)):
        c = masked[i]
        if c in "([{":
            depth += 1
        elif c in PAIRS:
            depth -= 1
            if depth == 0:
                return i
    return None


def enclosing_open(masked: str, index: int, bracket: str = "{") -> int:
    """Index of the innermost `bracket` still open at `index`, or -1 (top level)."""
    depth = 0
    for i in range(index - 1, -1, -1):
        c = masked[i]
        if c in PAIRS:
            depth += 1
        elif c in "([{":
            if depth == 0:
                return i if c == bracket else -1
            depth -= 1
    return -1


def split_top_level(text: str, masked: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the comma-separated items in text[start:end] (an argument list's inside)."""
    spans, depth, begin = [], 0, start
    for i in range(start, end):
        c = masked[i]
        if c in "([{":
            depth += 1
        elif c in PAIRS:
            depth -= 1
        elif c == "," and depth == 0:
            spans.append((begin, i))
            begin = i + 1
    spans.append((begin, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]  # a string argument is blank in the mask


def line_of(text: str, index: int) -> int:
    """1-based line number of a character index."""
    return text.count("\n", 0, index) + 1


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def indent_unit(text: str) -> str:
    """The file's indentation step: two or four spaces, or a tab."""
    widths = sorted({len(indent_of(l)) for l in text.splitlines() if l.strip() and l.startswith(" ")})
    if any(l.startswith("\t") for l in text.splitlines()):
        return "\t"
    return " " * (widths[0] if widths and widths[0] in (2, 4) else 4)
