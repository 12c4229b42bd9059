"""`cloud-doctor rollout demo`: a good version promoted and a faulty one rolled back, for real, in seconds.

Everything is local and real: the sample service (v1 stable, v2 good, v3
faulty: a share of its requests fail) behind our own nginx on 127.0.0.1,
a bounded load generator for traffic, the Prometheus scrape provider for the
analysis, and the shipped policy's steps and thresholds. Only time is
scaled (the policy's 60 s interval takes about 2 s), and the output says so.
"""

from __future__ import annotations

import time
from typing import Callable

from pydantic import BaseModel, Field

from agents.delivery.clock import ScaledClock
from agents.delivery.rollout import Release, run_rollout
from agents.delivery.stage import LocalStage
from tools.delivery_policy import DeliveryPolicy
from tools.deployment_records import AnalysisRound, DeploymentRecord, RollbackRecord, StageRecord
from tools.traffic.loadgen import LoadGenerator, LoadReport

SERVICE = "sample-service"
FAULTY_ERROR_RATE = 0.25


class DemoRollout(BaseModel):
    deployment_id: str
    version: str
    previous_version: str
    strategy: str
    steps: list[StageRecord]
    outcome: str  # promoted | rolled_back | paused | rollback_failed | failed
    verified: bool
    detail: str
    analysis: list[AnalysisRound] = Field(default_factory=list)
    rollback: RollbackRecord | None = None

    @classmethod
    def of(cls, record: DeploymentRecord) -> "DemoRollout":
        return cls(deployment_id=record.id, version=record.version, previous_version=record.previous_version,
                   strategy=record.strategy, steps=record.stages, outcome=record.status, verified=record.verified,
                   detail=record.outcome_detail, analysis=record.analysis,
                   rollback=record.rollbacks[-1] if record.rollbacks else None)


class DemoResult(BaseModel):
    rollouts: list[DemoRollout] = Field(default_factory=list)
    seconds: float = 0.0
    time_scale: float = 1.0
    load: LoadReport = Field(default_factory=LoadReport)

    @property
    def as_expected(self) -> bool:
        """The good version promoted and the faulty one rolled back, both verified."""
        outcomes = [(r.outcome, r.verified) for r in self.rollouts]
        return outcomes == [("promoted", True), ("rolled_back", True)]


async def run_demo(policy: DeliveryPolicy, *, store: object = None, scale: float = 0.025, rate_per_s: float = 220.0,
                   on_event: Callable[[str], None] | None = None) -> DemoResult:
    """Roll out v2 (good, canary) and then v3 (faulty, blue-green) on a local stage; nothing is left running."""
    say = on_event or (lambda text: None)
    clock = ScaledClock(scale)
    started = time.monotonic()
    result = DemoResult(time_scale=scale)
    with LocalStage("v1") as stage:
        say(f"stage: v1 on {stage.stable.url} behind nginx at {stage.url} (time ×{1 / scale:.0f}: the policy's "
            f"{policy.analysis.interval_seconds:g} s interval takes {policy.analysis.interval_seconds * scale:.1f} s)")
        load = LoadGenerator(stage.url, rate_per_s=rate_per_s, max_seconds=55.0, max_requests=int(rate_per_s * 55)).start()
        try:
            good = stage.start_version("v2")
            say("v2 (good) started beside v1; canary rollout")
            record = await run_rollout(Release(service=SERVICE, version="v2", previous_version="v1", strategy="canary",
                                               requested_by="rollout demo"),
                                       stage.router(good), stage.provider(good), policy, clock=clock, store=store, on_event=say)
            result.rollouts.append(DemoRollout.of(record))
            if record.status == "promoted":
                stage.promoted(good)
            faulty = stage.start_version("v3", error_rate=FAULTY_ERROR_RATE)
            say(f"v3 (faulty: {FAULTY_ERROR_RATE:.0%} of its requests fail) started beside {stage.stable.version}; blue-green rollout")
            record = await run_rollout(Release(service=SERVICE, version="v3", previous_version=stage.stable.version,
                                               strategy="blue_green", requested_by="rollout demo"),
                                       stage.router(faulty), stage.provider(faulty), policy, clock=clock, store=store, on_event=say)
            result.rollouts.append(DemoRollout.of(record))
        finally:
            result.load = await load.stop()
    result.seconds = round(time.monotonic() - started, 2)
    return result
