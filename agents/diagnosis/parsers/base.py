"""Parser helpers, re-exported from agents.diagnosis.facts (which imports nothing of the parsers)."""

from agents.diagnosis.facts import (  # noqa: F401
    ClientError,
    Facts,
    ParseFailure,
    ParserError,
    nonblank_lines,
    size_to_mb,
    split_columns,
    to_float,
    to_int,
)
