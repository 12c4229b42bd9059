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
from tools.redaction.spans import Hits, LineRule, Span, apply

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

    def triggered(self, low: str) -> tuple[dict[int, Hits], bool]:
        """(rule index -> where its words are in `low`, whether a multi-line block may start here)."""
        hits: dict[int, Hits] = {}
        block = False
        for end, (word, rule_ids) in self._automaton.iter(low):
            where = (end - len(word) + 1, end + 1)
            for i in rule_ids:
                hits.setdefault(i, []).append(where)
            block = block or word in _BLOCK_TRIGGERS or bool(rule_ids)
        return hits, block

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
    hits, maybe_block = rules.triggered(low)
    spans: list[Span] = []
    if maybe_block or state.active:
        spans += state.spans(line, low)
    same_length = len(low) == len(line)  # lower() can change a string's length; positions are then unknown
    for i in sorted(hits):
        spans += rules.rules[i].spans(line, hits[i] if same_length else None)
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


def mask_blocks(lines: Iterable[str], rules: RuleSet | None = None) -> Iterator[str]:
    """Only the multi-line blocks (PEM keys, Secret data, env name/value pairs) masked, for a stream whose
    every line is too many to redact one by one but whose output is redacted again where it leaves
    (the log digest redacts each template and sample it shows). A line is looked at only when it
    can open a block or one is open: a few substring tests per line.
    """
    rules = rules or default_rules()
    state = BlockState(rules.judge)
    mask = rules.mask
    for raw in lines:
        if state.active or "-----BEGIN" in raw or "ata" in raw or "name" in raw:
            newline = raw.endswith("\n")
            line = raw[:-1] if newline else raw
            spans = state.spans(line, line.lower())
            if spans:
                raw = apply(line, spans, mask) + ("\n" if newline else "")
        yield raw
