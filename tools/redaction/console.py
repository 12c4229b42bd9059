"""The console as an exit: everything a CLI command prints passes redaction.

`install()` wraps the process's stdout and stderr once, so every rich Console
and print() of every command (those written later included) is covered without
each remembering to redact. A write is redacted as one text: rich writes a
whole rendered print at a time, so a PEM key printed at once is masked as a
block. Terminal colour codes can split a secret; a write whose text, without
them, holds a secret is written without its colours, masked.
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

from tools.redaction.engine import Redactor

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class RedactingStream:
    """A text stream that redacts what is written to the stream it wraps."""

    def __init__(self, target: TextIO):
        self._target = target

    def write(self, text: str) -> int:
        if text:
            plain = _ANSI.sub("", text) if "\x1b" in text else text
            safe = Redactor().text(plain)
            if safe != plain:
                text = safe
        self._target.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, flush, encoding, buffer...
        return getattr(self._target, name)


def install() -> None:
    """Wrap sys.stdout and sys.stderr (idempotent)."""
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]
