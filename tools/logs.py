"""Compress logs to templates before any LLM or report sees them.

A million lines cannot go into a prompt, and most of them say the same few
things with different ids. `summarize_logs` streams lines through a template
miner (drain3's Drain, fed with shape-masked tokens, see tools/log_masking.py)
and returns a `LogDigest`: each template with its count, first and last seen,
level and a few redacted sample lines — errors first, then warnings, then by
count — cut to a token budget.

Beyond drain3's defaults (all measured on Loghub-2k by benchmarks/bench_logs.py):
- similarity counts only the template's constant tokens, so messages made
  mostly of values (`REPORT : 7007 5002 150089 240`) still group;
- a generalised token keeps its key (`user=<*>`, not `<*>`);
- a wildcard that only ever took a few word values (`VM Started|Paused|...`)
  is an enumeration, not a variable: such templates are split per value;
- templates equal after collapsing adjacent wildcards are merged.
Memory is bounded: no line is kept, clusters and tracked values are capped.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Callable, Iterable, Literal

import yaml
from drain3.drain import Drain, LogCluster
from pydantic import BaseModel, Field

from tools.log_masking import WILDCARD, ShapeMasker, parse_line
from tools.redact import mask_blocks, redact

LOGS_CONFIG = Path(__file__).resolve().parent.parent / "config" / "logs.yaml"
Level = Literal["error", "warn", "info", "debug", "unknown"]
LEVELS: tuple[Level, ...] = ("unknown", "debug", "info", "warn", "error")  # index = severity


class MinerSettings(BaseModel):
    similarity: float = 0.7
    depth: int = 4
    max_children: int = 100
    max_clusters: int = 5000
    enum_max_values: int = 4
    max_variants: int = 32
    token_cache: int = 200_000
    budget_tokens: int = 2000
    samples: int = 3
    sample_chars: int = 300


@lru_cache(maxsize=4)
def load_miner_settings(path: Path = LOGS_CONFIG) -> MinerSettings:
    """config/logs.yaml (sections `miner` and `digest`); defaults when absent."""
    if not path.exists():
        return MinerSettings()
    data = yaml.safe_load(path.read_text()) or {}
    return MinerSettings(**{**(data.get("miner") or {}), **(data.get("digest") or {})})


# ------------------------------------------------------------------ records


def estimate_tokens(text: str) -> int:
    """Tokens an LLM will count, estimated as characters / 4 (close for English and log text)."""
    return math.ceil(len(text) / 4)


class LogTemplate(BaseModel):
    id: str = Field(description="T1, T2, ... in digest order")
    template: str = Field(description="the message with variable parts as <*>")
    count: int
    first_seen: str = Field(description="timestamp from the line prefix when present, else 'line N'")
    last_seen: str
    first_line: int
    last_line: int
    level: Level = "unknown"
    samples: list[str] = Field(default_factory=list, description="up to 3 raw lines, redacted")


class LogDigest(BaseModel):
    source: str = ""
    total_lines: int = 0
    distinct_templates: int = 0
    templates: list[LogTemplate] = Field(default_factory=list)
    truncated: int = Field(0, description="templates cut to fit the budget")
    truncated_lines: int = Field(0, description="lines of the templates that were cut")
    other_lines: int = Field(0, description="lines not templated because the cluster cap was reached")
    budget_tokens: int = 2000
    input_chars: int = 0
    compression_ratio: float = Field(0.0, description="input characters / digest text characters")

    def to_text(self, budget_tokens: int | None = None) -> str:
        """The digest as text for a prompt or report, redacted, within `budget_tokens`
        (estimated as characters / 4); templates that do not fit are counted, not shown."""
        text, _ = _render(self, budget_tokens or self.budget_tokens)
        return text


# ------------------------------------------------------------------- mining


def _merge_token(old: str, new: str) -> str:
    """Generalise two different tokens, keeping a common `key=` / `key:` prefix."""
    if old == new:
        return old
    if old == WILDCARD or new == WILDCARD:
        return WILDCARD
    i, n = 0, min(len(old), len(new))
    while i < n and old[i] == new[i]:
        i += 1
    cut = max(old.rfind("=", 0, i), old.rfind(":", 0, i))
    return old[:cut + 1] + WILDCARD if cut >= 0 else WILDCARD


class _ShapeDrain(Drain):
    """drain3's Drain with similarity over constant tokens and key-keeping generalisation."""

    def get_seq_distance(self, seq1, seq2, include_params):  # seq1: template, seq2: message
        if not seq1:
            return 1.0, 0
        same = params = 0
        for a, b in zip(seq1, seq2):
            if a == WILDCARD:
                params += 1
            elif a == b:
                same += 1
        constants = len(seq1) - params
        if constants == 0:  # an all-wildcard template only takes all-wildcard messages
            return sum(1 for b in seq2 if b == WILDCARD) / len(seq1), params
        return same / constants, params

    def create_template(self, seq1, seq2):
        return [_merge_token(b, a) for a, b in zip(seq1, seq2)]

    def add_tokens(self, tokens: list[str], max_clusters: int) -> LogCluster | None:
        cluster = self.tree_search(self.root_node, tokens, self.sim_th, False)
        if cluster is None:
            if len(self.id_to_cluster) >= max_clusters:
                return None
            self.clusters_counter += 1
            cluster = LogCluster(tokens, self.clusters_counter)
            self.id_to_cluster[cluster.cluster_id] = cluster
            self.add_seq_to_prefix_tree(self.root_node, cluster)
            return cluster
        template = tuple(self.create_template(tokens, cluster.log_template_tokens))
        if template != cluster.log_template_tokens:
            cluster.log_template_tokens = template
        cluster.size += 1
        return cluster


class _Group:
    """Counts for one (template, enumeration values) group."""

    __slots__ = ("count", "first_line", "last_line", "first_ts", "last_ts", "severity", "samples")

    def __init__(self, line_no: int, ts: str | None, severity: int, raw: str | None):
        self.count = 1
        self.first_line = self.last_line = line_no
        self.first_ts = self.last_ts = ts
        self.severity = severity
        self.samples = [raw] if raw is not None else []

    def absorb(self, other: "_Group", keep: int) -> None:
        first = self if self.first_line <= other.first_line else other
        last = other if other.last_line >= self.last_line else self
        self.first_line, self.first_ts = first.first_line, first.first_ts
        self.last_line, self.last_ts = last.last_line, last.last_ts
        self.count += other.count
        self.severity = max(self.severity, other.severity)
        self.samples = (self.samples + other.samples)[:keep]


class _ClusterValues:
    """Value combinations seen at a cluster's tracked token positions (`live`).
    Positions whose values turn out to be variables (too many, or masked) are dropped."""

    __slots__ = ("live", "getter", "groups")

    def __init__(self) -> None:
        self.live: tuple[int, ...] | None = None  # None: every position
        self.getter: Callable | None = None
        self.groups: dict[tuple, _Group] = {}

    def key(self, tokens: list[str]) -> tuple:
        if self.getter is None:
            return tuple(tokens)
        return self.getter(tokens)

    def prune(self, width: int, max_values: int, max_groups: int, keep_samples: int) -> None:
        live = self.live if self.live is not None else tuple(range(width))
        values = [set() for _ in live]
        for key in self.groups:
            for i, v in enumerate(key):
                values[i].add(v)
        keep = [i for i, vs in enumerate(values)
                if len(vs) == 1 or (len(vs) <= max_values and not any(WILDCARD in v for v in vs))]
        while keep and math.prod(len(values[i]) for i in keep) > max_groups:
            keep.remove(max(keep, key=lambda i: len(values[i])))
        if len(keep) == len(live):
            return
        groups: dict[tuple, _Group] = {}
        for key, group in self.groups.items():
            new_key = tuple(key[i] for i in keep)
            if new_key in groups:
                groups[new_key].absorb(group, keep_samples)
            else:
                groups[new_key] = group
        self.live = tuple(live[i] for i in keep)
        self.groups = groups
        if not self.live:
            self.getter = lambda tokens: ()
        elif len(self.live) == 1:
            only = self.live[0]
            self.getter = lambda tokens: (tokens[only],)
        else:
            self.getter = itemgetter(*self.live)


class LogTemplateMiner:
    """Streaming template miner: feed lines one at a time; memory stays bounded
    (no line is stored; clusters, value combinations and caches are capped)."""

    def __init__(self, settings: MinerSettings | None = None):
        self.settings = s = settings or load_miner_settings()
        self._masker = ShapeMasker(cache_size=s.token_cache)
        self._drain = _ShapeDrain(sim_th=s.similarity, depth=s.depth, max_children=s.max_children,
                                  param_str=WILDCARD)
        self._values: dict[int, _ClusterValues] = {}
        self._seen: dict[tuple, int] = {}  # masked message -> cluster (skips the tree search)
        # samples are redacted when reported, then cut: keep enough that a secret is never cut in two
        self._sample_chars = s.sample_chars * 2
        self.total_lines = 0
        self.other_lines = 0

    def add(self, message: str, *, line_no: int | None = None, timestamp: str | None = None,
            severity: int = 0, raw: str | None = None) -> tuple[int, list[str]] | None:
        """Mine one message; returns (cluster id, masked tokens), or None over the cluster cap."""
        self.total_lines += 1
        line_no = self.total_lines if line_no is None else line_no
        tokens = self._masker.tokens(message)
        whole = tuple(tokens)
        cluster_id = self._seen.get(whole)
        if cluster_id is None:
            cluster = self._drain.add_tokens(tokens, self.settings.max_clusters)
            if cluster is None:
                self.other_lines += 1
                return None
            cluster_id = cluster.cluster_id
            if len(self._seen) >= self.settings.token_cache:
                self._seen.clear()
            self._seen[whole] = cluster_id
        values = self._values.get(cluster_id)
        if values is None:
            values = self._values[cluster_id] = _ClusterValues()
        key = whole if values.getter is None else values.getter(tokens)
        group = values.groups.get(key)
        if group is None:
            values.groups[key] = _Group(line_no, timestamp, severity,
                                        None if raw is None else raw[:self._sample_chars])
            if len(values.groups) > self.settings.max_variants:
                values.prune(len(tokens), self.settings.enum_max_values, self.settings.max_variants,
                             self.settings.samples)
        else:
            group.count += 1
            group.last_line, group.last_ts = line_no, timestamp
            if severity > group.severity:
                group.severity = severity
            if raw is not None:
                samples = group.samples
                if len(samples) < self.settings.samples:
                    samples.append(raw[:self._sample_chars])
                else:
                    # keep the first ones and the latest
                    samples[-1] = raw if len(raw) <= self._sample_chars else raw[:self._sample_chars]
        return cluster_id, tokens

    def _finish(self) -> None:
        s = self.settings
        for cluster_id, values in self._values.items():
            width = len(self._drain.id_to_cluster[cluster_id].log_template_tokens)
            values.prune(width, s.enum_max_values, s.max_variants, s.samples)

    def label(self, cluster_id: int, tokens: list[str]) -> str:
        """The final template text of a mined message (call after `groups()`)."""
        values = self._values[cluster_id]
        return _render_template(self._drain.id_to_cluster[cluster_id].log_template_tokens,
                                values.live, values.key(tokens))

    def groups(self) -> dict[str, _Group]:
        """Template text -> merged counts, after deciding which wildcards are enumerations."""
        self._finish()
        out: dict[str, _Group] = {}
        for cluster_id, values in self._values.items():
            template = self._drain.id_to_cluster[cluster_id].log_template_tokens
            for key, group in values.groups.items():
                text = _render_template(template, values.live, key)
                if text in out:
                    out[text].absorb(group, self.settings.samples)
                else:
                    out[text] = group
        return out


def _render_template(template: tuple[str, ...], live: tuple[int, ...] | None, key: tuple) -> str:
    """The cluster's template with enumeration values put back, adjacent wildcards collapsed."""
    tokens = list(template)
    for position, value in zip(range(len(tokens)) if live is None else live, key):
        tokens[position] = value
    out: list[str] = []
    for token in tokens:
        if not (token == WILDCARD and out and out[-1] == WILDCARD):
            out.append(token)
    return " ".join(out)


def mine_templates(messages: Iterable[str], settings: MinerSettings | None = None) -> list[int]:
    """Group messages (no timestamps or hosts, as Loghub's `Content`): one group id per
    message, equal ids for equal final templates. Keeps every message's tokens: for
    evaluation on small sets, not for streams."""
    miner = LogTemplateMiner(settings)
    mined = [miner.add(message) for message in messages]
    miner.groups()
    ids: dict[str, int] = {}
    labels = []
    for item in mined:
        label = "" if item is None else miner.label(*item)
        labels.append(ids.setdefault(label, len(ids)))
    return labels


# ------------------------------------------------------------------- digest


def summarize_logs(lines: Iterable[str], budget_tokens: int = 2000, source: str = "",
                   settings: MinerSettings | None = None) -> LogDigest:
    """Stream `lines` (raw log lines, any length of input) into a redacted digest that fits
    `budget_tokens`. Timestamps and levels are read from common line prefixes."""
    miner = LogTemplateMiner(settings)
    s = miner.settings
    chars = 0
    line_no = 0
    for raw in mask_blocks(lines):  # a PEM key split over lines is masked as a block; samples are redacted when shown
        line_no += 1
        raw = raw.rstrip("\r\n")
        if not raw.strip():
            continue
        chars += len(raw) + 1
        ts, severity, message = parse_line(raw)
        miner.add(message, line_no=line_no, timestamp=ts, severity=severity, raw=raw)
    groups = miner.groups()
    rank = {4: 0, 3: 1}  # errors, then warnings, then everything else by count
    ordered = sorted(groups.items(), key=lambda kv: (rank.get(kv[1].severity, 2), -kv[1].count, kv[1].first_line))
    templates = [
        LogTemplate(
            id=f"T{i}", template=_clean(text, s.sample_chars) or "(empty message)", count=g.count,
            first_seen=g.first_ts or f"line {g.first_line}", last_seen=g.last_ts or f"line {g.last_line}",
            first_line=g.first_line, last_line=g.last_line, level=LEVELS[g.severity],
            samples=[_clean(x, s.sample_chars) for x in g.samples])
        for i, (text, g) in enumerate(ordered, 1)
    ]
    digest = LogDigest(source=source, total_lines=miner.total_lines, distinct_templates=len(templates),
                       templates=templates, other_lines=miner.other_lines, budget_tokens=budget_tokens,
                       input_chars=chars)
    text, shown = _render(digest, budget_tokens)
    digest.truncated = len(templates) - shown
    digest.truncated_lines = sum(t.count for t in templates[shown:])
    digest.templates = templates[:shown]
    digest.compression_ratio = round(chars / max(len(text), 1), 1)
    return digest


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str, limit: int) -> str:
    """Redacted, control characters (terminal escapes) replaced, cut to `limit` characters.
    Redaction sees twice the kept length, so a secret that straddles the cut is still masked."""
    text = _CONTROL.sub("\ufffd", redact(text[:limit * 2]))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _entry(t: LogTemplate, samples: int) -> str:
    seen = t.first_seen if t.first_seen == t.last_seen else f"{t.first_seen} .. {t.last_seen}"
    lines = [f"{t.id} [{t.level}] x{t.count} ({seen}): {t.template}"]
    lines += [f"    e.g. {x}" for x in t.samples[:samples]]
    return "\n".join(lines)


def _render(digest: LogDigest, budget_tokens: int) -> tuple[str, int]:
    """Text within the budget and how many templates it shows. Templates go in digest
    order; one that does not fit with its samples is tried with fewer, then the rest is cut."""
    budget_chars = budget_tokens * 4
    total = max(digest.distinct_templates, len(digest.templates))
    head = f"logs {digest.source or '(input)'}: {digest.total_lines} lines -> {total} templates"
    if digest.other_lines:
        head += f", {digest.other_lines} lines over the template cap"
    parts = [redact(head)]
    used = len(parts[0])
    footer_room = len(f"\n... {total} more templates ({digest.total_lines} lines) cut to fit {budget_tokens} tokens")
    shown = 0
    for t in digest.templates:
        for samples in sorted({len(t.samples), min(len(t.samples), 1), 0}, reverse=True):
            entry = redact(_entry(t, samples))
            if used + 1 + len(entry) + footer_room <= budget_chars:
                break
        else:
            break
        parts.append(entry)
        used += 1 + len(entry)
        shown += 1
    if total > shown:
        lines = digest.truncated_lines + sum(t.count for t in digest.templates[shown:])
        parts.append(f"... {total - shown} more templates ({lines} lines) cut to fit {budget_tokens} tokens")
    text = "\n".join(parts)
    if len(text) > budget_chars:  # a budget too small for even the header
        text = text[:max(budget_chars - 1, 0)] + "…"
    return text, shown
