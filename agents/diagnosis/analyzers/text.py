"""Text rules over every stream of lines, weighed by level, count and relevance.

A single INFO line that mentions a 429 is not a rate-limit incident; forty
ERROR lines of "Too many connections" in the service's own log are. Several
synonyms of one category in one stream count once (the strongest) plus a
little for the rest, so wording does not stack up.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.signals import RULES_BY_ID

LEVEL_FACTOR = {"error": 1.0, "unknown_error": 0.9, "warn": 0.85, "unknown": 0.8, "info": 0.6, "debug": 0.3}
# Rules the structured analyzers already read from these outputs (counting them here would count twice).
STRUCTURED = {
    "dmesg": {"oom_killer", "hung_task", "io_error", "crashloop", "killed_sigkill"},
    "unit": {"crashloop"},
}
# Streams the structured analyzers read whole: kubectl events and descriptions are weighed per object by what the
# request is about (kube_workloads.py), not as one stream where a noisy neighbour counts like the workload itself.
STRUCTURED_ORIGINS = ("kube",)
PER_STREAM_CAP = 3.5
STALE_HOURS_FOR_WORDS = 24


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def count_factor(count: int) -> float:
    """1 line: 0.8, 3 lines: ~1.0, 10+: ~1.15, capped."""
    return min(1.2, 0.8 + 0.15 * math.log2(max(count, 1)))


def analyze_text(view: EvidenceView) -> list[Signal]:
    signals: list[Signal] = []
    at = view.situation.trouble_began
    # An alert says when the trouble began: lines that ended well before it are background. A person asks when they
    # notice ("the reports didn't run last night"), so their words allow a day.
    told = view.situation.text and not view.situation.alert_name and view.situation.started_at is None
    window = timedelta(hours=STALE_HOURS_FOR_WORDS if told else 2)
    stale_before = _aware(at) - window if at is not None else None
    for stream in view.logs():
        if stream.origin in STRUCTURED_ORIGINS:
            continue
        skip = STRUCTURED.get(stream.origin, set())
        per_category: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
        for hit in stream.facts.hits:
            if hit.rule in skip:
                continue
            rule = RULES_BY_ID.get(hit.rule)
            if rule is None:
                continue
            level = max(LEVEL_FACTOR.get(hit.level, 0.8), 0.9) if rule.level_blind else LEVEL_FACTOR.get(hit.level, 0.8)
            weight = rule.weight * level * count_factor(hit.count) * stream.relevance
            if stale_before is not None and hit.last_at is not None and _aware(hit.last_at) < stale_before:
                weight *= 0.5  # over well before the incident began: background noise more likely than the cause
            sample = hit.sample.strip()
            reason = f"{rule.why}: {hit.count} line(s), e.g. \"{sample[:140]}\""
            per_category[rule.category].append((weight, reason, rule.finding))
        for category, items in per_category.items():
            items.sort(key=lambda x: -x[0])
            total = items[0][0] + 0.3 * sum(w for w, _, _ in items[1:])
            signals.append(Signal(
                category=category, weight=round(min(total, PER_STREAM_CAP), 3), evidence_id=stream.evidence_id,
                reason=items[0][1], direct=stream.origin != "alert", finding=items[0][2],
            ))
    return signals
