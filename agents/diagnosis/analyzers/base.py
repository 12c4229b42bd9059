"""What analyzers read and write: the situation, typed views of the evidence, and signals.

An analyzer is a pure function `EvidenceView -> list[Signal]`. A signal says
"this evidence supports (or, with a negative weight, argues against) this
category, this much, because ...". Scoring (scoring.py) adds them up.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterator, TypeVar

from pydantic import BaseModel, Field

from agents.diagnosis.parsers import facts_of
from agents.diagnosis.parsers.base import Facts
from agents.diagnosis.timeline import LogFacts
from graphs.state import Evidence

F = TypeVar("F", bound=Facts)


# Label values of scrape jobs, not workloads: a `job` label from Prometheus names who scraped, not what broke.
SCRAPE_JOBS = re.compile(r"kube-state-metrics|kubelet|node-exporter|prometheus|cadvisor|apiserver|blackbox|kube-dns|coredns", re.I)


class Signal(BaseModel):
    category: str
    weight: float
    evidence_id: str | None = None
    reason: str
    direct: bool = True  # False for hints: alert wording, similar past incidents
    finding: str = ""  # a refinement of the category with its own remedy (config/remedies.yaml `findings`), e.g. probe_misconfigured


class Situation(BaseModel):
    """What the request says, for relevance and time comparisons."""

    alert_name: str = ""
    summary: str = ""
    text: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    at: datetime | None = None
    started_at: datetime | None = None  # when the alert says the trouble began
    observed_at: datetime | None = None  # when the evidence was read (the recording's time, else now): kubectl AGEs count back from it
    environment: str = "dev"
    db_max_connections: int | None = None  # from the infrastructure spec, when known
    subjects: dict[str, Any] = Field(default_factory=dict)  # what the words name: namespace, workload, pod, job, deployment, others

    @property
    def trouble_began(self) -> datetime | None:
        return self.started_at or self.at

    @property
    def read_at(self) -> datetime | None:
        return self.observed_at or self.at

    @property
    def words(self) -> str:
        return " ".join([self.alert_name, self.summary, self.text, " ".join(f"{k}={v}" for k, v in self.labels.items())])

    @property
    def names(self) -> set[str]:
        """Service, unit, host names the request is about (lower case)."""
        keys = ("service", "unit", "job", "app", "container", "deployment", "host", "instance", "pod", "namespace", "db", "database")
        out = set()
        for key in keys:
            value = self.labels.get(key)
            if value and not (key == "job" and SCRAPE_JOBS.search(value)):
                out.add(value.lower().split(":")[0])
        if not any(self.labels.get(k) for k in ("service", "app", "deployment", "pod", "container", "job")):
            out |= {v for k, v in self.subjects.items() if k not in ("namespace", "others") and isinstance(v, str)}  # a question names what labels would
            out |= set(self.subjects.get("others") or [])
        return out

    @property
    def namespace(self) -> str | None:
        return self.labels.get("namespace") or self.labels.get("kubernetes_namespace") or self.subjects.get("namespace")


class LogView(BaseModel):
    """A stream of lines from some evidence, with how much it bears on this request."""

    evidence_id: str
    facts: LogFacts
    relevance: float = 1.0  # 1 for the service's own logs, lower for other sources, lowest for the alert text
    origin: str = "log"  # log | journal | dmesg | unit | kube | stderr | alert


class EvidenceView:
    """Typed access to evidence; parses each Evidence's facts once."""

    def __init__(self, evidence: list[Evidence], situation: Situation | None = None):
        self.evidence = evidence
        self.situation = situation or Situation()
        self._typed: dict[str, Facts | None] = {e.id: facts_of(e.facts) if e.ok else None for e in evidence}
        self._logs: list[LogView] | None = None

    def get(self, evidence_id: str) -> Evidence | None:
        return next((e for e in self.evidence if e.id == evidence_id), None)

    def facts(self, model: type[F]) -> Iterator[tuple[Evidence, F]]:
        for e in self.evidence:
            typed = self._typed.get(e.id)
            if isinstance(typed, model):
                yield e, typed

    def first(self, model: type[F]) -> tuple[Evidence, F] | tuple[None, None]:
        return next(iter(self.facts(model)), (None, None))

    def related(self, e: Evidence) -> bool:
        """Does this evidence concern the service or host the request is about? (True when we cannot tell.)"""
        names = self.situation.names
        if not names:
            return True
        haystack = (e.source + " " + (e.host or "")).lower()
        return any(n and n in haystack for n in names)

    def logs(self) -> list[LogView]:
        """Every stream of lines: log sources, journal/log commands, and the lines inside dmesg, systemctl, kubectl outputs."""
        if self._logs is None:
            self._logs = self._collect_logs()
        return self._logs

    def _collect_logs(self) -> list[LogView]:
        views: list[LogView] = []
        any_related = any(self.related(e) for e in self.evidence if e.kind == "log")
        for e in self.evidence:
            typed = self._typed.get(e.id)
            if e.kind == "log" and isinstance(typed, LogFacts):
                relevance = 1.0 if (self.related(e) or not any_related) else 0.6
                views.append(LogView(evidence_id=e.id, facts=typed, relevance=relevance, origin="log"))
            elif e.kind == "command" and isinstance(typed, LogFacts):
                views.append(LogView(evidence_id=e.id, facts=typed, origin="journal"))
            elif e.kind == "command" and typed is not None and isinstance(getattr(typed, "log", None), LogFacts):
                origin = {"dmesg": "dmesg", "systemctl_status": "unit"}.get(typed.parser, "kube")
                views.append(LogView(evidence_id=e.id, facts=typed.log, origin=origin))
            stderr_log = e.facts.get("stderr_log") if e.facts else None
            if stderr_log:
                try:
                    views.append(LogView(evidence_id=e.id, facts=LogFacts.model_validate(stderr_log), origin="stderr"))
                except Exception:
                    pass
            if e.kind == "alert" and e.facts.get("log"):
                try:
                    views.append(LogView(evidence_id=e.id, facts=LogFacts.model_validate(e.facts["log"]), relevance=0.35, origin="alert"))
                except Exception:
                    pass
        return views

    def hits(self, rule: str) -> list[tuple[LogView, int]]:
        """(view, count) for every stream where a text rule matched."""
        out = []
        for view in self.logs():
            hit = view.facts.hit(rule)
            if hit is not None and view.origin != "alert":
                out.append((view, hit.count))
        return out
