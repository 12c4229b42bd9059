"""Log lines -> what happened when: rule hits, change markers, errors before and after.

The same scan serves every source of lines (CloudWatch, journald, `tail`,
`kubectl logs`, dmesg): analyzers need counts per rule, the first and last
occurrence, the levels, and the order of changes and errors, not the raw text.
Lines arrive already redacted.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Iterable

from pydantic import BaseModel

from agents.diagnosis.facts import Facts, ParserError
from agents.diagnosis.signals import CONFIG_MARKER, DEPLOY_MARKER, RULES_BY_ID, find_version, line_level, match_rules

MAX_LINES = 10_000  # the most recent lines of a longer window are scanned
MAX_ERRORS = 300
MAX_MARKERS = 20

_TS_PREFIX = re.compile(r"^\[?\d{4}-\d{2}-\d{2}[T ][\d:.,]+(?:Z|[+-]\d{2}:?\d{2})?\]?\s*|^\[[^\]]{10,40}\]\s*|^\w{3}\s+\d{1,2} [\d:]{8}\s+")
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d+))?\s?(Z|[+-]\d{2}:?\d{2})?")
_DMESG_T = re.compile(r"^\[(?:\w{3} )?(\w{3})\s+(\d{1,2}) (\d{2}:\d{2}:\d{2}) (\d{4})\]")
_SYSLOG = re.compile(r"^(\w{3})\s+(\d{1,2}) (\d{2}:\d{2}:\d{2})\b")
_MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
# key=value gauges in log lines (heap_used_mb=212, rss=1.2GB, pool.active: 31, "heap used 5.9GB"): series per key
_GAUGE = re.compile(
    r"\b((?:[a-z][a-z0-9_.-]{0,40}?)?(?:heap|rss|mem(?:ory)?|conn(?:ection)?s?|pool|active|fds?|open_files|threads|in_?flight|pending|queue)[a-z0-9_.-]{0,20})"
    r"(?:\s*[=:]\s*|\s+(?:used\s+|size\s+|at\s+)?)(\d+(?:\.\d+)?)\s*(kb|mb|gb|kib|mib|gib|k|m|g|b)?(?![\w.])", re.I)
# A JVM collection: "Pause Full (G1 Compaction Pause) 767M->729M(768M)", "[GC 402432K->331776K(786432K), 0.01 secs]":
# before -> after (heap size). What is left after a collection is the live set, the memory the program really needs.
_GC_HEAP = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)([KMG])B?->(\d+(?:\.\d+)?)([KMG])B?\((\d+(?:\.\d+)?)([KMG])B?\)")
GC_LIVE, GC_HEAP = "gc_live_set_mb", "gc_heap_size_mb"
_UNIT_TO_MB = {"b": 1 / 1048576, "k": 1 / 1024, "kb": 1 / 1024, "kib": 1 / 1024, "m": 1.0, "mb": 1.0, "mib": 1.0, "g": 1024.0, "gb": 1024.0, "gib": 1024.0}
MAX_SERIES_POINTS = 200
MAX_DURATIONS = 400
# request durations: "200 402ms", "took 1.2s", "duration=35.2 ms", "latency: 1870ms" (to ms)
_DURATION = re.compile(r"(?<![\w.:])(\d+(?:\.\d+)?)\s?ms\b|\b(?:took|duration|latency|elapsed|response_time|rt|completed in|finished in)[=: ]+"
                       r"(\d+(?:\.\d+)?)\s?(?:s|sec|secs|seconds)\b", re.I)
_VERSION_TAG = re.compile(r"(?<![\w.])v(\d+\.\d+\.\d+(?:-[\w.]+)?)(?![\w.])")  # "api v2.4.0 listening": a running version
# "review 4.2.0 listening on :3000", "orders-api 3.1.4 started in 2.1s": a process announcing its version as it starts
_STARTUP_VERSION = re.compile(
    r"(?<![\w.:/-])(\d+\.\d+\.\d+(?:-[\w.]+)?)(?![\w.:/])[^\n]{0,24}?\b(?:listening|started|starting|ready|serving|booted|up and running)\b", re.I)
LEVEL_RANK = {"error": 4, "unknown_error": 3, "warn": 3, "unknown": 2, "info": 1, "debug": 0}


def parse_timestamp(line: str, year: int | None = None) -> datetime | None:
    """ISO-8601 anywhere near the start, dmesg -T, or syslog (year from `year`, else this year). Naive times are taken as UTC."""
    head = line[:80]
    m = _ISO.search(head)
    if m:
        tz = m.group(4) or "+00:00"
        if tz == "Z":
            tz = "+00:00"
        elif ":" not in tz:
            tz = tz[:3] + ":" + tz[3:]
        frac = (m.group(3) or "0")[:6].ljust(6, "0")
        try:
            return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}.{frac}{tz}")
        except ValueError:
            return None
    m = _DMESG_T.match(head)
    if m and m.group(1) in _MONTHS:
        return datetime(int(m.group(4)), _MONTHS[m.group(1)], int(m.group(2)), *map(int, m.group(3).split(":")), tzinfo=timezone.utc)
    m = _SYSLOG.match(head)
    if m and m.group(1) in _MONTHS:
        return datetime(year or datetime.now(timezone.utc).year, _MONTHS[m.group(1)], int(m.group(2)), *map(int, m.group(3).split(":")), tzinfo=timezone.utc)
    return None


class RuleHit(BaseModel):
    rule: str
    category: str
    count: int
    first_i: int
    last_i: int
    first_at: datetime | None = None
    last_at: datetime | None = None
    level: str = "unknown"  # the most severe level among the matching lines
    sample: str = ""


class Marker(BaseModel):
    """A line that says something changed: a deploy (new version) or a configuration change."""

    i: int
    at: datetime | None = None
    kind: str  # deploy | config
    version: str | None = None
    text: str = ""


class ErrorLine(BaseModel):
    i: int
    at: datetime | None = None
    generic: bool = True  # no category rule explains it (a plain exception, a 500)


class LogFacts(Facts):
    parser: str = "log"
    total_lines: int
    levels: dict[str, int] = {}
    hits: list[RuleHit] = []
    markers: list[Marker] = []
    errors: list[ErrorLine] = []
    versions: list[str] = []  # distinct versions in the order they appear
    first_at: datetime | None = None
    last_at: datetime | None = None
    templates: list[dict] = []  # filled from tools.logs.summarize_logs by the collector
    series: dict[str, list[float]] = {}  # gauges logged as key=value, in line order (sizes in MB)
    skipped_lines: int = 0  # older lines beyond MAX_LINES, not scanned
    durations: list[tuple[int, float]] = []  # (line index, request duration in ms), for before/after comparisons

    def hit(self, rule: str) -> RuleHit | None:
        return next((h for h in self.hits if h.rule == rule), None)

    def summary(self) -> str:
        if not self.total_lines:
            return "no log lines"
        errors = self.levels.get("error", 0) + self.levels.get("unknown_error", 0)
        out = f"{self.total_lines} lines, {errors} error-like"
        if self.hits:
            top = sorted(self.hits, key=lambda h: -h.count)[:3]
            out += "; " + ", ".join(f"{RULES_BY_ID[h.rule].why} ({h.count}x)" for h in top)
        if self.markers:
            out += f"; {len(self.markers)} change marker(s)"
        return out


def scan_lines(lines: Iterable[str], *, year: int | None = None) -> LogFacts:
    """Scan lines (oldest first) into LogFacts; never raises on odd text."""
    hits: dict[str, RuleHit] = {}
    levels: dict[str, int] = {}
    markers: list[Marker] = []
    errors: list[ErrorLine] = []
    versions: list[str] = []
    first_at = last_at = None
    total = 0
    current_version: str | None = None
    series: dict[str, list[float]] = {}
    durations: list[tuple[int, float]] = []
    lines = list(lines)
    skipped = max(0, len(lines) - MAX_LINES)
    rule_cache: dict[str, list] = {}  # error storms repeat one message thousands of times
    for i, raw in enumerate(lines[skipped:], start=skipped):
        total += 1
        line = str(raw).rstrip()[:2000]
        if not line.strip():
            continue
        at = parse_timestamp(line, year)
        if at is not None:
            first_at = first_at or at
            last_at = at
        seen_at = at or last_at  # multi-line records (a slow-query entry, a stack trace) take the last timestamp seen
        level = line_level(line)
        levels[level] = levels.get(level, 0) + 1
        message = _TS_PREFIX.sub("", line, count=1)
        rules = rule_cache.get(message)
        if rules is None:
            rules = match_rules(message)
            if len(rule_cache) < 20_000:
                rule_cache[message] = rules
        for rule in rules:
            hit = hits.get(rule.id)
            if hit is None:
                hits[rule.id] = RuleHit(rule=rule.id, category=rule.category, count=1, first_i=i, last_i=i, first_at=seen_at, last_at=seen_at,
                                        level=level, sample=line[:300])
            else:
                hit.count += 1
                hit.last_i = i
                hit.last_at = seen_at or hit.last_at
                if LEVEL_RANK.get(level, 0) > LEVEL_RANK.get(hit.level, 0):
                    hit.level, hit.sample = level, line[:300]
        if level in ("error", "unknown_error") and len(errors) < MAX_ERRORS:
            errors.append(ErrorLine(i=i, at=at, generic=not rules))
        for m in _GAUGE.finditer(line[:1000]):
            key = m.group(1).lower().rstrip("._-")
            value = float(m.group(2)) * _UNIT_TO_MB.get((m.group(3) or "").lower(), 1.0)
            points = series.setdefault(key, [])
            if len(points) < MAX_SERIES_POINTS:
                points.append(round(value, 3))
        gc = _GC_HEAP.search(line[:600])
        if gc and len(series.get(GC_LIVE, [])) < MAX_SERIES_POINTS:
            series.setdefault(GC_LIVE, []).append(round(float(gc.group(3)) * _UNIT_TO_MB[gc.group(4).lower()], 3))
            series.setdefault(GC_HEAP, []).append(round(float(gc.group(5)) * _UNIT_TO_MB[gc.group(6).lower()], 3))
        if len(durations) < MAX_DURATIONS:
            d = _DURATION.search(line[:600])
            if d:
                durations.append((i, float(d.group(1)) if d.group(1) else float(d.group(2)) * 1000.0))
        deploy_words = DEPLOY_MARKER.search(line) is not None
        tagged = _VERSION_TAG.search(line) or _STARTUP_VERSION.search(line[:400])
        version = find_version(line) if deploy_words else (tagged.group(1) if tagged else None)
        changed = bool(version and current_version and version != current_version and not deploy_words)
        # The first version a stream names, announced at start-up after the stream had already been
        # running: a new process whose version the earlier lines never named, as after a rollout.
        started_new = bool(version and current_version is None and i > 0 and not deploy_words
                           and tagged is not None and tagged.re is _STARTUP_VERSION)
        if version:
            if version not in versions:
                versions.append(version)
            current_version = version
        if len(markers) < MAX_MARKERS and level not in ("error", "unknown_error"):
            if deploy_words or changed or started_new:
                markers.append(Marker(i=i, at=at, kind="deploy", version=version, text=line[:300]))
            elif CONFIG_MARKER.search(line):
                markers.append(Marker(i=i, at=at, kind="config", text=line[:300]))
    return LogFacts(
        total_lines=total + skipped, skipped_lines=skipped, levels=levels, hits=sorted(hits.values(), key=lambda h: h.first_i), markers=markers,
        errors=errors, versions=versions, first_at=first_at, last_at=last_at,
        series={k: v for k, v in series.items() if len(v) >= 3}, durations=durations,
    )


def growth(values: list[float]) -> tuple[float, float, int]:
    """(share of rising steps, max/min ratio, resets) of a gauge; a drop of 40% or more counts as a restart reset."""
    rising = falling = resets = 0
    for a, b in zip(values, values[1:]):
        if b > a:
            rising += 1
        elif a > 0 and b <= 0.6 * a:
            resets += 1
        elif b < a:
            falling += 1
    steps = rising + falling
    low = min(values) if values else 0.0
    ratio = (max(values) / low) if low > 0 else (float("inf") if values and max(values) > 0 else 1.0)
    return (rising / steps if steps else 0.0), ratio, resets


def parse_log_lines(text: str, *, command: str = "", stderr: str = "") -> LogFacts:
    """journalctl, tail, kubectl logs, docker logs: any text is lines, so only empty output fails."""
    printable = sum(1 for ch in (text or "")[:4000] if ch.isprintable() or ch in "\n\t")
    if text and printable < 0.7 * min(len(text), 4000):
        raise ParserError("binary data, not log lines")
    lines = [line for line in (text or "").splitlines() if line.strip() and not line.startswith("-- ")]
    if not lines and not re.search(r"^-- (No entries|Logs begin|Journal begins)", text or "", re.M):
        raise ParserError("no log lines")
    facts = scan_lines(lines)
    return facts.model_copy(update={"parser": "journal"})
