"""detect-secrets' provider plugins as one more source of spans.

Why detect-secrets (Yelp, `detect-secrets` on PyPI) and not another detector:
- it is the most used secret scanner on PyPI, Apache-2.0, pure Python with two
  small dependencies, and its plugins are plain classes with a documented
  `analyze_string` that we can call per line in-process;
- `bc-detect-secrets` (Prisma Cloud's fork, released monthly for checkov) has
  the same API but fewer plugins (no GitLab, OpenAI, PyPI or Telegram) and
  regexes tuned for source files, with file-name filters; `detect-secrets-plus`
  is a reformatted copy; both install the same `detect_secrets` module, so a
  deployment can swap to the fork by changing the pin, nothing else;
- Kingfisher (MongoDB, Rust, 700+ rules) compiles its rules in ~10 s per
  process and missed an AWS key pair in a quick check; betterleaks-py (gitleaks'
  rules through a Go shared library) is a one-person beta binding of 29 MB;
  credsweeper needs pandas and an ML model; ggshield needs GitGuardian's API,
  which this product must never call.
What detect-secrets does not do is measured in tests/fixtures/secrets and
covered by our own rules (shapes.py, named.py, blocks.py). Its entropy and
keyword plugins are not used: on log lines they flag every word (they are
made for source files with a baseline); names are judged by named.py instead.
Each plugin is slow per call (~5 µs per line and plugin), so it runs only on
lines holding one of its trigger words (config/redaction.yaml `detector`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator

from tools.redaction.spans import Hits, Span, whole_token

log = logging.getLogger(__name__)


@dataclass
class PluginRule:
    """One detect-secrets plugin behind the same interface as our own rules."""

    name: str
    triggers: tuple[str, ...]
    plugin: Any

    def spans(self, line: str, hits: Hits | None = None) -> Iterator[Span]:
        for secret in set(self.plugin.analyze_string(line)):
            if not secret or len(secret) < 6:
                continue
            start = line.find(secret)
            while start != -1:
                yield Span(*whole_token(line, start, start + len(secret)), self.name)
                start = line.find(secret, start + len(secret))


def plugin_rules(wanted: dict[str, list[str]]) -> list[PluginRule]:
    """The configured plugins that this detect-secrets provides (a fork may lack some)."""
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    except ImportError:  # pragma: no cover - the dependency is declared; say so once if it is missing
        log.warning("detect-secrets is not installed: provider formats are found by Cloud Doctor's own rules only")
        return []
    by_name = {cls.__name__: cls for cls in get_mapping_from_secret_type_to_class().values()}
    rules = []
    for name, triggers in wanted.items():
        cls = by_name.get(name)
        if cls is None:
            log.info("detect-secrets has no plugin %s; skipped", name)
            continue
        rules.append(PluginRule(f"detect-secrets:{name}", tuple(t.lower() for t in triggers), cls()))
    return rules
