"""`cloud-doctor redact FILE|-`: what a model would be shown of a file, before one is connected.

The text passes the same redaction as every prompt, report and message
(tools/redaction), line by line as a stream, so a multi-line key is masked as
a block and a large log needs no more memory than one line. What was masked
is counted on standard error, so the output itself stays exactly the text.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Iterable, Iterator, TextIO

from graphs.errors import UserInputError
from tools.redaction import MASK, Redactor


def redact_command(source: str, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Write `source` (a path, or `-` for standard input) redacted to `out`; returns the number of masks."""
    out, err = out or sys.stdout, err or sys.stderr
    masks = 0
    for line in Redactor().lines(_read(source)):
        masks += line.count(MASK)
        out.write(line)
    out.flush()
    err.write(f"{masks} secret(s) masked as {MASK}\n" if masks else "no secret found\n")
    return masks


def _read(source: str) -> Iterable[str]:
    if source == "-":
        return _decoded(sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin, "standard input")
    path = Path(source)
    if not path.exists():
        raise UserInputError(f"{source}: no such file (give a file, or - for standard input)")
    if path.is_dir():
        raise UserInputError(f"{source}: is a folder; give a file, or - for standard input")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UserInputError(f"{source}: cannot read ({exc.strerror})") from None
    return _decoded(handle, source)


def _decoded(handle, name: str) -> Iterator[str]:
    with handle if name != "standard input" else nullcontext(handle):
        for number, raw in enumerate(handle, 1):
            if isinstance(raw, str):
                yield raw
                continue
            if b"\x00" in raw:
                raise UserInputError(f"{name}: line {number} is binary (a NUL byte); redact text files only")
            yield raw.decode("utf-8", errors="replace")
