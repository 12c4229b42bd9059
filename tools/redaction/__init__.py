"""Secret redaction: the last thing text passes before a model, a report, Slack, the widget, the audit log,
incident memory or the console.

- `redact(text)`: a text (a command's output, a prompt, a report), multi-line blocks included.
- `redact_lines(lines)`: lines that belong together (a log read as a list); a PEM key split across
  them is masked as a block. `Redactor().lines(iterable)` does the same lazily, for streams.
- `mask_blocks(lines)`: only the multi-line blocks, cheaply, for a stream whose output is redacted
  again where it leaves (the log digest).
- `redact_value(obj)`: dicts, lists and pydantic models, judging each value with its key.
- `find_secrets(text)`: the kinds found (for tests and audit notes).

Detection is detect-secrets' provider plugins (detector.py says why that library) plus our
own rules for what it misses: names (named.py, config/redaction.yaml), shapes (shapes.py)
and blocks across lines (blocks.py). Masking keeps the text around a secret so an operator
can still see *that* one was there.
"""

from __future__ import annotations

from typing import Iterable

from tools.redaction.config import load_config
from tools.redaction.engine import Redactor, RuleSet, default_rules, mask_blocks
from tools.redaction.values import redact_value

__all__ = ["MASK", "Redactor", "RuleSet", "find_secrets", "mask_blocks", "redact", "redact_lines", "redact_value"]

MASK = load_config().mask


def redact(text: str) -> str:
    """`text` with every secret masked."""
    if not text:
        return text
    return Redactor().text(text)


def redact_lines(lines: Iterable[str]) -> list[str]:
    """Consecutive lines, masked with multi-line blocks carried from one line to the next."""
    return list(Redactor().lines(lines))


def find_secrets(text: str) -> list[str]:
    """Names of the secret kinds present in `text`."""
    return default_rules().names_of(text or "")
