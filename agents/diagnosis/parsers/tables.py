"""Tables as database clients and kubectl print them: boxed, tab-separated, psql-aligned, vertical, space-aligned."""

from __future__ import annotations

import re

from agents.diagnosis.parsers.base import ParserError


def _split_boxed(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _offsets(header: str) -> list[tuple[str, int]]:
    """Column names and start offsets of a space-aligned header (names may hold single spaces)."""
    return [(m.group(0).strip(), m.start()) for m in re.finditer(r"\S+(?: \S+)*", header)]


def parse_table(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """Headers (as printed) and rows. Raises ParserError when no table shape is found."""
    lines = [line.rstrip("\n") for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise ParserError("empty output")
    # mysql -E / \G and psql \x: "*** 1. row ***" / "-[ RECORD 1 ]-" blocks of "name: value" / "name | value"
    if any(re.match(r"^\*+ \d+\. row \*+$", line.strip()) or re.match(r"^-\[ RECORD \d+ \]", line.strip()) for line in lines):
        rows: list[dict[str, str]] = []
        headers: list[str] = []
        for line in lines:
            if re.match(r"^\*+ \d+\. row \*+$", line.strip()) or re.match(r"^-\[ RECORD \d+ \]", line.strip()):
                rows.append({})
                continue
            if not rows:
                continue
            m = re.match(r"^\s*([^:|]+?)\s*[:|]\s?(.*)$", line)
            if m:
                key = m.group(1).strip()
                rows[-1][key] = m.group(2).strip()
                if key not in headers:
                    headers.append(key)
        return headers, rows
    # boxed: +----+ borders, | separated
    if lines[0].lstrip().startswith("+-") or (lines[0].lstrip().startswith("|") and len(lines) > 1):
        body = [line for line in lines if line.lstrip().startswith("|")]
        if len(body) < 1:
            raise ParserError("a box border but no | rows")
        headers = _split_boxed(body[0])
        rows = [dict(zip(headers, _split_boxed(line))) for line in body[1:]]
        return headers, rows
    # psql aligned: header " a | b ", separator "---+---", "(N rows)"
    sep = next((i for i, line in enumerate(lines) if re.match(r"^[-+\s]+$", line) and "-" in line), None)
    if sep is not None and sep >= 1:
        header_line = lines[sep - 1]
        if "|" in header_line or "+" in lines[sep] or any(re.match(r"^\(\d+ rows?\)$", line.strip()) for line in lines):
            headers = [h.strip() for h in header_line.split("|")]
            rows = []
            for line in lines[sep + 1:]:
                if re.match(r"^\(\d+ rows?\)$", line.strip()):
                    break
                cells = [c.strip() for c in line.split("|")]
                if len(cells) >= len(headers):
                    cells = cells[: len(headers) - 1] + ["|".join(cells[len(headers) - 1:]).strip()]
                    rows.append(dict(zip(headers, cells)))
            return headers, rows
    # tab separated (mysql batch mode)
    if "\t" in lines[0]:
        headers = lines[0].split("\t")
        rows = []
        for line in lines[1:]:
            cells = line.split("\t")
            rows.append(dict(zip(headers, cells + [""] * (len(headers) - len(cells)))))
        return headers, rows
    # space aligned: slice rows at the header's column offsets, the last column takes the rest
    cols = _offsets(lines[0])
    if len(cols) < 2:  # single-space separated: split on whitespace, the last column takes the rest
        headers = lines[0].split()
        if len(headers) < 2:
            raise ParserError("no recognisable table header")
        return headers, [dict(zip(headers, line.split(None, len(headers) - 1))) for line in lines[1:]]
    headers = [name for name, _ in cols]
    rows = []
    for line in lines[1:]:
        if set(line.strip()) <= set("-+= "):
            continue
        split2 = [c for c in re.split(r"\t|\s{2,}", line.strip())]
        if len(split2) == len(headers):
            rows.append(dict(zip(headers, split2)))
            continue
        row = {}
        for k, (name, start) in enumerate(cols):
            end = cols[k + 1][1] if k + 1 < len(cols) else None
            row[name] = (line[start:end] if end is not None else line[start:]).strip()
        rows.append(row)
    return headers, rows
