"""Analyzers: evidence -> signals -> ranked root-cause candidates (see scoring.py).

Each analyzer reads one family of facts; `analyze` runs them all. They are
pure functions of the evidence and the situation, so a recorded run can be
re-analyzed and every candidate names the evidence it rests on.
"""

from __future__ import annotations

from typing import Callable

from agents.diagnosis.analyzers.base import EvidenceView, Signal, Situation
from agents.diagnosis.analyzers.compute import analyze_cpu, analyze_disk, analyze_io
from agents.diagnosis.analyzers.context import analyze_hints, analyze_incidents, analyze_terraform
from agents.diagnosis.analyzers.database import analyze_database
from agents.diagnosis.analyzers.kube_config import analyze_config_keys
from agents.diagnosis.analyzers.kube_network import analyze_kube_network
from agents.diagnosis.analyzers.kube_pods import analyze_kube_pods
from agents.diagnosis.analyzers.kube_workloads import analyze_kube_workloads
from agents.diagnosis.analyzers.memory import analyze_memory
from agents.diagnosis.analyzers.network import analyze_network
from agents.diagnosis.analyzers.network_path import analyze_network_path
from agents.diagnosis.analyzers.rds import analyze_rds
from agents.diagnosis.analyzers.rollout import analyze_rollout
from agents.diagnosis.analyzers.runtime import analyze_runtime
from agents.diagnosis.analyzers.scoring import Analysis, Scored, score
from agents.diagnosis.analyzers.text import analyze_text
from graphs.state import Evidence

ANALYZERS: tuple[Callable[[EvidenceView], list[Signal]], ...] = (
    analyze_text, analyze_memory, analyze_cpu, analyze_disk, analyze_io, analyze_database, analyze_network,
    analyze_runtime, analyze_kube_pods, analyze_kube_workloads, analyze_kube_network, analyze_rollout, analyze_config_keys, analyze_rds, analyze_network_path, analyze_terraform, analyze_hints,
    analyze_incidents,
)


def analyze(evidence: list[Evidence], situation: Situation | None = None) -> Analysis:
    """Run every analyzer; an analyzer that fails is skipped (its failure is not evidence)."""
    view = EvidenceView(evidence, situation)
    signals: list[Signal] = []
    failures: list[str] = []
    for analyzer in ANALYZERS:
        try:
            signals.extend(analyzer(view))
        except Exception as exc:  # one analyzer's bug must not cost the diagnosis
            failures.append(f"{analyzer.__name__} failed: {type(exc).__name__}: {exc}"[:300])
    analysis = score(_drop_counter_evidence_from_other_hosts(signals, {e.id: e.host for e in evidence}))
    analysis.failures = failures
    return analysis

def _drop_counter_evidence_from_other_hosts(signals: list[Signal], hosts: dict[str, str | None]) -> list[Signal]:
    """A healthy peer (web1 at 40% memory) does not argue against a sick host (web2 at 97%)."""
    positive_hosts: dict[str, set[str]] = {}
    for s in signals:
        host = hosts.get(s.evidence_id or "")
        if s.weight > 0 and s.direct and host:
            positive_hosts.setdefault(s.category, set()).add(host)
    kept = []
    for s in signals:
        host = hosts.get(s.evidence_id or "")
        if s.weight < 0 and host and positive_hosts.get(s.category) and host not in positive_hosts[s.category]:
            continue
        kept.append(s)
    return kept


__all__ = ["ANALYZERS", "Analysis", "EvidenceView", "Scored", "Signal", "Situation", "analyze"]
