"""The redactor: which rules a line needs, in what order, and the state between lines.

One Aho-Corasick pass over a line (pyahocorasick) finds the trigger words of
every rule at once; a line with none, outside a multi-line block, is returned
untouched without running a single regular expression. That keeps redaction
cheap enough to run on every log line and every command output.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Iterator

import ahocorasick

from tools.redaction.blocks import BlockState
from tools.redaction.config import RedactionConfig, load_config
from tools.redaction.detector import plugin_rules
from tools.redaction.named import named_rules
from tools.redaction.names import NameJudge
from tools.redaction.shapes import SHAPES
from tools.redaction.spans import LineRule, Span, apply

_BLOCK_TRIGGERS = ("-----begin", "data")


class RuleSet:
    """Every rule, indexed by its trigger words."""

    def __init__(self, config: RedactionConfig, rules: list[LineRule] | None = None):
        """All rules of `config`, or only `rules` (to measure a part alone)."""
        self.config = config
        self.mask = config.mask
        self.judge = NameJudge(config)
        self.rules: list[LineRule] = rules if rules is not None else [
            *SHAPES, *named_rules(config, self.judge), *plugin_rules(config.detector)]
        self._automaton = ahocorasick.Automaton()
        by_word: dict[str, set[int]] = {}
        for i, rule in enumerate(self.rules):
            for word in rule.triggers:
                by_word.setdefault(word.lower(), set()).add(i)
        for word in _BLOCK_TRIGGERS:
            by_word.setdefault(word, set())
        for word, ids in by_word.items():
            self._automaton.add_word(word, (word, frozenset(ids)))
        self._automaton.make_automaton()

    def triggered(self, low: str) -> tuple[set[int], bool]:
        """(indexes of the rules whose words are in `low`, whether a block may start here)."""
        ids: set[int] = set()
        block = False
        for _, (word, rule_ids) in self._automaton.iter(low):
            ids |= rule_ids
            block = block or word in _BLOCK_TRIGGERS or bool(rule_ids)
        return ids, block

    def names_of(self, text: str) -> list[str]:
        """The kinds of secret found in `text`, in rule order (for tests and audit notes)."""
        found: dict[str, None] = {}
        state = BlockState(self.judge)
        for line in text.split("\n"):
            for span in _line_spans(self, state, line):
                found.setdefault(span.kind, None)
        return list(found)


def _line_spans(rules: RuleSet, state: BlockState, line: str) -> list[Span]:
    low = line.lower()
    ids, maybe_block = rules.triggered(low)
    spans: list[Span] = []
    if maybe_block or state.active:
        spans += state.spans(line, low)
    for i in sorted(ids):
        spans += rules.rules[i].spans(line)
    return spans


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    return RuleSet(load_config())


class Redactor:
    """Redacts lines in order, carrying multi-line blocks from one line to the next.

    Use one Redactor per stream (a log file, a command's output); `redact_text`
    and `redact_lines` in `tools.redaction` make one for you.
    """

    def __init__(self, rules: RuleSet | None = None):
        self.rules = rules or default_rules()
        self.state = BlockState(self.rules.judge)

    def line(self, line: str) -> str:
        """One line (without its newline), masked."""
        spans = _line_spans(self.rules, self.state, line)
        return apply(line, spans, self.rules.mask) if spans else line

    def lines(self, lines: Iterable[str]) -> Iterator[str]:
        """Each line masked, in order; keeps a line's own trailing newline if it has one."""
        for raw in lines:
            if "\n" in raw.rstrip("\n") or "\r" in raw:
                yield self.text(raw)
            elif raw.endswith("\n"):
                yield self.line(raw[:-1]) + "\n"
            else:
                yield self.line(raw)

    def text(self, text: str) -> str:
        """A whole text, masked line by line with the state carried across lines."""
        if not text:
            return text
        low = text.lower()
        ids, maybe_block = self.rules.triggered(low)
        if not ids and not maybe_block and not self.state.active:
            return text
        parts = text.split("\n")
        return "\n".join(self.line(p) for p in parts)
