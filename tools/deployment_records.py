"""What the deployments store keeps about one delivery: stages, analysis, outcome, rollbacks.

Shared by the rollout engine (which writes them), the store (which keeps
them beside the checkpoints) and every door (which lists them), so the CLI,
Slack and the widget show the same facts.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Strategy = Literal["canary", "blue_green"]
DeploymentStatus = Literal["running", "paused", "promoted", "rolled_back", "rollback_failed", "failed"]
MeasurementPhase = Literal["successful", "failed", "inconclusive", "error", "skipped"]
ACTIVE_STATUSES = ("running", "paused")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Measurement(_Record):
    """One metric judged once: the canary's value, the baseline it was compared with, and the verdict."""

    metric: str
    phase: MeasurementPhase
    value: float | None = None
    baseline: float | None = None
    limit: str = ""
    detail: str = ""


class AnalysisRound(_Record):
    stage: str
    at: datetime
    seconds: float = 0.0  # the interval's length, in policy time
    measurements: list[Measurement] = Field(default_factory=list)

    @property
    def phase(self) -> MeasurementPhase:
        phases = {m.phase for m in self.measurements}
        for worst in ("failed", "error", "inconclusive"):
            if worst in phases:
                return worst  # type: ignore[return-value]
        return "successful"


class StageRecord(_Record):
    name: str  # "10 %", "1 of 3 hosts", "deploy green", "observe", "promote", "retire blue"
    percent: int | None = None
    status: Literal["running", "passed", "failed", "paused", "error"] = "running"
    started_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None
    detail: str = ""
    verification: str = ""  # what the router read back after the change


class RollbackRecord(_Record):
    trigger: Literal["automatic", "manual"]
    reason: str
    requested_by: str = "cloud-doctor"
    approved_by: list[str] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None
    seconds: float | None = None  # wall-clock time to restore and verify
    verified: bool = False
    detail: str = ""


class DeploymentRecord(_Record):
    id: str
    service: str
    environment: str = "dev"
    strategy: Strategy = "canary"
    version: str
    previous_version: str
    router: dict[str, Any] = Field(default_factory=dict)  # the router's config: enough to rebuild it for a rollback
    snapshot: dict[str, Any] = Field(default_factory=dict)  # what the rollout replaced (RouteSnapshot)
    status: DeploymentStatus = "running"
    stage: str = ""
    stages: list[StageRecord] = Field(default_factory=list)
    analysis: list[AnalysisRound] = Field(default_factory=list)
    rollbacks: list[RollbackRecord] = Field(default_factory=list)
    outcome_detail: str = ""
    requested_by: str = ""
    thread_id: str | None = None  # the run that delivered it, where there is one
    time_scale: float = 1.0  # analysis time ran this many times faster than the clock (demo, tests)
    started_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def verified(self) -> bool:
        """Promoted and verified, or rolled back and the rollback verified."""
        if self.status == "rolled_back":
            return bool(self.rollbacks) and self.rollbacks[-1].verified
        if self.status == "promoted":
            return bool(self.stages) and self.stages[-1].status == "passed" and bool(self.stages[-1].verification)
        return False


class DeploymentStatistics(_Record):
    deployments: int = 0
    active: int = 0
    finished: int = 0
    promoted: int = 0
    rolled_back: int = 0
    rollback_failed: int = 0
    failed: int = 0
    rollbacks: int = 0
    automatic_rollbacks: int = 0
    manual_rollbacks: int = 0
    verified_rollbacks: int = 0
    success_rate: float | None = None  # promoted / finished
    rollback_seconds_mean: float | None = None
    rollback_seconds_median: float | None = None
    rollback_seconds_max: float | None = None
