"""What every parser returns: typed facts, or a ParseFailure that says why.

Parsers are pure functions `text -> Facts`. The registry wraps each one so
that any exception (garbage in, a format we have not seen) becomes a
`ParseFailure` instead of reaching the graph.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict


class ParserError(ValueError):
    """The text is not the output this parser reads (raised inside parsers only)."""


class Facts(BaseModel):
    """Base of every parser's result. `ok` is False only for ParseFailure."""

    model_config = ConfigDict(extra="ignore")
    parser: str
    ok: bool = True

    def summary(self) -> str:
        return f"{self.parser}: parsed"


class ParseFailure(Facts):
    ok: bool = False
    error: str = ""

    def summary(self) -> str:
        return f"{self.parser}: could not read the output ({self.error})"


class ClientError(BaseModel):
    """An error a client printed instead of a result (mysql ERROR 1040, psql FATAL, curl: (28))."""

    code: str = ""
    message: str = ""


_NUM = re.compile(r"^-?\d+(?:[.,]\d+)?$")
_SIZE = re.compile(r"^(-?\d+(?:[.,]\d+)?)\s*([KMGTPE]?)(i?)(B?)$", re.I)
_UNIT_MB = {"": 1.0, "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2, "P": 1024.0**3, "E": 1024.0**4}


def to_float(token: str | None) -> float | None:
    """A number from a table cell: '12.5', '12,5', '-' (None), '84%' (84)."""
    if token is None:
        return None
    token = token.strip().rstrip("%")
    if not token or token in {"-", "NULL", "null", "<none>", "n/a"}:
        return None
    token = token.replace(",", ".") if token.count(",") == 1 and "." not in token else token.replace(",", "")
    try:
        return float(token)
    except ValueError:
        return None


def to_int(token: str | None) -> int | None:
    value = to_float(token)
    return int(value) if value is not None else None


def size_to_mb(token: str | None, default_unit: str = "M") -> float | None:
    """'7.6Gi', '512M', '8.1G', '6537216' (in `default_unit`) -> MiB."""
    if token is None:
        return None
    token = token.strip()
    if token in {"", "-", "0"}:
        return 0.0 if token == "0" else None
    m = _SIZE.match(token)
    if not m:
        return None
    number = float(m.group(1).replace(",", "."))
    unit = m.group(2).upper()
    if not unit:
        if m.group(4):  # plain "B"
            return number / 1024 / 1024
        unit = default_unit.upper()
        if unit == "B":
            return number / 1024 / 1024
    return number * _UNIT_MB[unit]


def nonblank_lines(text: str) -> list[str]:
    return [line.rstrip() for line in (text or "").splitlines() if line.strip()]


def split_columns(line: str) -> list[str]:
    """Columns separated by two or more spaces or a tab (kubectl, psql-free tables)."""
    return [part for part in re.split(r"\t|\s{2,}", line.strip()) if part != ""]
