"""Signals -> ranked root-cause candidates with normalised confidences, or `unknown`.

Per category: contributions per evidence are summed (one piece of evidence
cannot count twice through several signals beyond a cap), then evidence is
added with diminishing weight (corroboration helps, repetition less so).
Causes absorb part of the symptoms they explain (a leak explains pool
exhaustion; a bad config explains a crash loop). A category wins only with
direct evidence; otherwise the answer is `unknown`.
"""

from __future__ import annotations

import math
from collections import defaultdict

from pydantic import BaseModel

from agents.diagnosis.analyzers.base import Signal
from graphs.state import RootCauseCandidate

PER_EVIDENCE_CAP = 4.0
DIMINISHING = (1.0, 0.8, 0.6, 0.5, 0.4)
UNKNOWN_MASS = 1.5  # the weight of "none of the above" in the normalisation
MIN_DIRECT = 1.5  # direct support a winner needs
MIN_TOTAL = 1.8

# cause -> {symptom: how strong the cause must be relative to the symptom to absorb it}.
# Pure symptoms (a crash loop, pool exhaustion, failing calls) yield to a cause half as strong;
# categories that are causes in their own right yield only to a cause at least as strong.
SYMPTOM, PEER = 0.5, 1.0
EXPLAINS: dict[str, dict[str, float]] = {
    "connection_leak": {"db_connection_exhaustion": SYMPTOM, "dependency_failure": SYMPTOM},
    "db_slow_query": {"db_connection_exhaustion": SYMPTOM},
    "memory_leak": {"service_crashloop": SYMPTOM, "memory_pressure": PEER},
    "memory_pressure": {"service_crashloop": SYMPTOM},
    "config_error": {"service_crashloop": SYMPTOM, "dependency_failure": SYMPTOM},  # a wrong port or selector on the path
    "bad_deploy": {"service_crashloop": SYMPTOM},
    "missing_timeout": {"dependency_failure": SYMPTOM},
    "dns_failure": {"dependency_failure": SYMPTOM, "db_unreachable": PEER},
    "network_unreachable": {"db_unreachable": PEER, "dependency_failure": SYMPTOM},
    "certificate_expired": {"dependency_failure": SYMPTOM, "service_crashloop": SYMPTOM},
    "disk_full": {"service_crashloop": SYMPTOM, "db_unreachable": PEER},
    "inode_exhaustion": {"service_crashloop": SYMPTOM, "disk_full": PEER},
    "disk_io_bottleneck": {"cpu_saturation": PEER, "db_slow_query": PEER},  # queries wait on a starved volume
    "permission_denied": {"service_crashloop": SYMPTOM},
    "rate_limited": {"dependency_failure": SYMPTOM},
    "db_unreachable": {"dependency_failure": SYMPTOM},
    "db_connection_exhaustion": {"dependency_failure": SYMPTOM},
    "capacity_exhausted": {"service_crashloop": SYMPTOM},
    "image_pull_failure": {"bad_deploy": PEER, "service_crashloop": SYMPTOM},
    "cpu_saturation": {"service_crashloop": SYMPTOM},
    "dependency_failure": {"service_crashloop": SYMPTOM},
}
for _cause in ("dns_failure", "network_unreachable", "db_unreachable", "db_connection_exhaustion", "missing_timeout"):
    EXPLAINS[_cause].setdefault("service_crashloop", SYMPTOM)  # a process that exits because what it needs is unreachable


class Scored(BaseModel):
    category: str
    score: float
    direct: float
    confidence: float = 0.0
    evidence: list[tuple[str, float]] = []  # (evidence id, contribution), strongest first
    reasons: list[str] = []  # from direct evidence, strongest first
    hints: list[str] = []  # from the request's wording and past incidents
    findings: list[str] = []  # refinements the strongest direct signals name (config/remedies.yaml `findings`), strongest first


class Analysis(BaseModel):
    ranked: list[Scored]
    winner: str  # a category, or "unknown"
    confidence: float
    signals: list[Signal]
    failures: list[str] = []  # analyzers that raised (a bug to report, not evidence)

    def candidates(self, limit: int = 5) -> list[RootCauseCandidate]:
        return [
            RootCauseCandidate(category=s.category, confidence=round(s.confidence, 3),
                               evidence_ids=[eid for eid, _ in s.evidence[:6]], reasoning="; ".join((s.reasons or s.hints)[:3])[:600])
            for s in self.ranked[:limit]
        ]

    def get(self, category: str) -> Scored | None:
        return next((s for s in self.ranked if s.category == category), None)


def score(signals: list[Signal]) -> Analysis:
    by_cat: dict[str, dict[str | None, list[Signal]]] = defaultdict(lambda: defaultdict(list))
    for s in signals:
        by_cat[s.category][s.evidence_id].append(s)
    raw: dict[str, Scored] = {}
    for category, per_evidence in by_cat.items():
        contributions: list[tuple[str | None, float]] = []
        negatives = 0.0
        direct = 0.0
        reasons: list[tuple[float, str]] = []
        hints: list[tuple[float, str]] = []
        findings: list[tuple[float, str]] = []
        for eid, sigs in per_evidence.items():
            pos = sum(s.weight for s in sigs if s.weight > 0)
            neg = sum(s.weight for s in sigs if s.weight < 0)
            negatives += neg
            if pos > 0:
                contributions.append((eid, min(pos, PER_EVIDENCE_CAP)))
                direct += min(sum(s.weight for s in sigs if s.weight > 0 and s.direct), PER_EVIDENCE_CAP)
            for s in sigs:
                if s.weight > 0:
                    (reasons if s.direct else hints).append((s.weight, s.reason))
                    if s.finding and s.direct:
                        findings.append((s.weight, s.finding))
        contributions.sort(key=lambda c: -c[1])
        total = sum(c * DIMINISHING[min(k, len(DIMINISHING) - 1)] for k, (_, c) in enumerate(contributions)) + negatives
        reasons.sort(key=lambda r: -r[0])
        hints.sort(key=lambda r: -r[0])
        raw[category] = Scored(
            category=category, score=max(total, 0.0), direct=max(direct + min(negatives, 0.0), 0.0),
            evidence=[(eid, round(c, 3)) for eid, c in contributions if eid is not None],
            reasons=[r for _, r in reasons], hints=[r for _, r in hints],
            findings=list(dict.fromkeys(f for _, f in sorted(findings, key=lambda f: -f[0]))),
        )
    # causes absorb part of the symptoms they explain
    adjusted = {c: s.score for c, s in raw.items()}
    for cause, symptoms in EXPLAINS.items():
        cause_scored = raw.get(cause)
        if cause_scored is None or cause_scored.direct < MIN_DIRECT:
            continue
        for symptom, ratio in symptoms.items():
            sym = raw.get(symptom)
            if sym is None or sym.score <= 0 or cause_scored.score < ratio * min(sym.score, sym.direct or sym.score):
                continue  # the symptom's own evidence decides, not the words of the alert that named it
            transfer = 0.5 * sym.score
            adjusted[cause] += transfer
            adjusted[symptom] -= transfer
            cause_scored.reasons.append(f"explains the {symptom.replace('_', ' ')} signs")
            own = {eid for eid, _ in cause_scored.evidence}
            cause_scored.evidence += [(eid, round(0.5 * c, 3)) for eid, c in sym.evidence if eid not in own]
            cause_scored.evidence.sort(key=lambda ec: -ec[1])
    for category, value in adjusted.items():
        raw[category].score = round(max(value, 0.0), 3)
    ranked = sorted((s for s in raw.values() if s.score > 0), key=lambda s: (-s.score, -s.direct, s.category))
    mass = sum(s.score for s in ranked) + UNKNOWN_MASS
    for s in ranked:
        s.confidence = round(s.score / mass, 3)
    top = ranked[0] if ranked else None
    if top is None or top.direct < MIN_DIRECT or top.score < MIN_TOTAL:
        return Analysis(ranked=ranked, winner="unknown", confidence=round(UNKNOWN_MASS / mass, 3), signals=signals)
    return Analysis(ranked=ranked, winner=top.category, confidence=winner_confidence(ranked), signals=signals)


MARGIN_MIDPOINT = 0.5  # a lead of one hint's weight is a coin toss
DIRECT_FULL = 2.0  # direct support below this (but above MIN_DIRECT) lowers the confidence


def winner_confidence(ranked: list[Scored]) -> float:
    """How sure the winner is: a logistic of its lead over the runner-up, lowered when its own direct support is thin.

    The share of all the mass (each candidate's `confidence`) understates a clear winner: weak hints and the
    symptoms the winner explains spread mass without competing with it. What competes is the runner-up: a lead
    of one decisive signal (~2.5) reads as ~0.9, a lead of a hint as a coin toss. The shape was chosen, not fitted
    (the development set is all right answers); `cloud-doctor eval` prints how well it holds (ECE)."""
    top = ranked[0]
    second = ranked[1].score if len(ranked) > 1 else 0.0
    lead = 1.0 / (1.0 + math.exp(-(top.score - second - MARGIN_MIDPOINT)))
    return round(lead * min(1.0, top.direct / DIRECT_FULL), 3)
