"""The rollout engine: a release moves through the policy's steps, watched, and is promoted or rolled back.

Canary: the candidate gets each step's share of traffic (10 → 50 → 100 by
default), `count` successful analysis rounds at each step, then at least
`observe_after_last_step_seconds` at 100 %, then promotion (the candidate
becomes the only version; the old one is retired).

Blue-green: green is deployed beside blue with no traffic and must pass its
health checks first; traffic then shifts in steps; blue stays ready for
`retire_after_seconds` (analysis goes on) and is retired last.

At any point a failed analysis (or an analysis error, or a routing change
that cannot be verified) rolls back automatically to exactly what the
rollout replaced, and the rollback is verified. An inconclusive analysis
pauses the rollout where it is, for a person to decide.

The engine knows no router, provider or store in particular: it gets them.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from pydantic import BaseModel

from agents.delivery.analysis import AnalysisRun, Baseline, judge_round
from agents.delivery.clock import REAL_TIME, ScaledClock
from agents.delivery.rollback import roll_back
from tools.delivery_policy import DeliveryPolicy
from tools.deployment_records import AnalysisRound, DeploymentRecord, StageRecord, Strategy, utc_now
from tools.rollout_metrics import MetricsProvider
from tools.traffic.base import RouteSnapshot, RouterError, Share, TrafficRouter, plan_shares

MAX_ROUNDS_PER_COUNT = 10  # a stage that needs `count` good rounds gives up (pauses) after count × this


class Release(BaseModel):
    """What is being delivered, and by whom."""

    service: str
    version: str
    previous_version: str
    environment: str = "dev"
    strategy: Strategy = "canary"
    requested_by: str = ""
    thread_id: str | None = None


class _Stopped(Exception):
    """The rollout cannot go on: `kind` is rollback or pause."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def new_deployment_id() -> str:
    return f"D-{uuid.uuid4().hex[:10]}"


class Rollout:
    def __init__(self, release: Release, router: TrafficRouter, provider: MetricsProvider, policy: DeliveryPolicy, *,
                 clock: ScaledClock = REAL_TIME, store: Any = None, on_event: Callable[[str], None] | None = None,
                 deployment_id: str | None = None):
        self.release, self.router, self.provider, self.policy = release, router, provider, policy
        self.clock, self.store = clock, store
        self.on_event = on_event or (lambda text: None)
        self.analysis = AnalysisRun(policy=policy.analysis)
        self.baseline = Baseline()
        self.record = DeploymentRecord(
            id=deployment_id or new_deployment_id(), service=release.service, environment=release.environment,
            strategy=release.strategy, version=release.version, previous_version=release.previous_version,
            router=router.config(), requested_by=release.requested_by, thread_id=release.thread_id, time_scale=clock.scale,
        )

    # ------------------------------------------------------------ helpers

    def _save(self) -> None:
        self.record.updated_at = utc_now()
        if self.store is not None:
            self.store.save(self.record)

    def _say(self, text: str) -> None:
        self.on_event(f"{self.record.id} {self.release.service} {self.release.version}: {text}")

    def _stage(self, name: str, percent: int | None = None) -> StageRecord:
        stage = StageRecord(name=name, percent=percent)
        self.record.stages.append(stage)
        self.record.stage = name
        self._save()
        return stage

    def _finish(self, stage: StageRecord, status: str, detail: str = "") -> None:
        stage.status = status  # type: ignore[assignment]
        stage.finished_at = utc_now()
        stage.detail = detail or stage.detail
        self._save()

    async def _round(self, stage: StageRecord, *, candidate_has_traffic: bool) -> AnalysisRound:
        interval = self.policy.analysis.interval_seconds
        await self.provider.begin_interval()
        await self.clock.sleep(interval)
        readings = await self.provider.end_interval(self.policy.analysis.metrics.response_time.quantile)
        measurements = judge_round(readings, self.baseline, self.policy.analysis, candidate_has_traffic=candidate_has_traffic)
        analysis_round = AnalysisRound(stage=stage.name, at=utc_now(), seconds=round(self.clock.policy_seconds(readings.seconds), 1),
                                       measurements=measurements)
        self.record.analysis.append(analysis_round)
        phase = self.analysis.record(measurements)
        shown = "; ".join(f"{m.metric} {m.phase}" + (f" ({m.detail})" if m.phase != "successful" and m.phase != "skipped" else "")
                          for m in measurements if m.phase != "skipped")
        self._say(f"[{stage.name}] analysis round: {analysis_round.phase}: {shown}")
        self._save()
        if phase in ("failed", "error"):
            raise _Stopped("rollback", f"analysis {phase} at {stage.name}: {self.analysis.reason}")
        if phase == "inconclusive":
            raise _Stopped("pause", f"analysis inconclusive at {stage.name}: {self.analysis.reason}")
        return analysis_round

    async def _analyse_until_count(self, stage: StageRecord, *, candidate_has_traffic: bool = True) -> None:
        needed = self.policy.analysis.count
        good = 0
        for _ in range(needed * MAX_ROUNDS_PER_COUNT):
            if (await self._round(stage, candidate_has_traffic=candidate_has_traffic)).phase == "successful":
                good += 1
                if good >= needed:
                    return
        raise _Stopped("pause", f"{stage.name}: fewer than {needed} successful analysis rounds in "
                                f"{needed * MAX_ROUNDS_PER_COUNT}; a person must decide")

    async def _analyse_for(self, stage: StageRecord, policy_seconds: float) -> None:
        """Rounds until `policy_seconds` of policy time have been observed (at least one round)."""
        observed = 0.0
        while True:
            analysis_round = await self._round(stage, candidate_has_traffic=True)
            observed += max(analysis_round.seconds, self.policy.analysis.interval_seconds)
            if observed >= policy_seconds:
                return

    # --------------------------------------------------------------- steps

    async def _shift(self, share: Share) -> StageRecord:
        stage = self._stage(share.label, share.percent)
        self._say(f"shifting: {self.release.version} gets {share.label}")
        await self.router.shift(share)
        check = await self.router.verify_shift(share)
        stage.verification = check.detail
        if not check.verified:
            self._finish(stage, "failed", f"routing not verified: {check.detail}")
            raise _Stopped("rollback", f"the {share.label} routing could not be verified: {check.detail}")
        self._say(f"[{share.label}] routing verified: {check.detail}")
        return stage

    async def _deploy_green(self) -> None:
        stage = self._stage(f"deploy green ({self.release.version}, no traffic)", 0)
        self._say("green is deployed beside blue with no traffic; health checks first")
        await self._analyse_until_count(stage, candidate_has_traffic=False)
        self._finish(stage, "passed", f"{self.policy.analysis.count} healthy rounds with no traffic")

    async def _promote(self) -> None:
        name = "retire blue" if self.release.strategy == "blue_green" else "promote"
        stage = self._stage(name, 100)
        await self.router.promote()
        check = await self.router.verify_promoted()
        stage.verification = check.detail
        if not check.verified:
            self._finish(stage, "failed", f"promotion not verified: {check.detail}")
            raise _Stopped("rollback", f"the promotion could not be verified: {check.detail}")
        self._finish(stage, "passed", f"{self.release.version} is the only version; {self.release.previous_version} retired")
        self._say(f"[{name}] verified: {check.detail}")

    async def run(self) -> DeploymentRecord:
        """Deliver the release; returns its record (also saved to the store at every stage)."""
        try:
            snapshot: RouteSnapshot = await self.router.snapshot()
        except RouterError as exc:
            self.record.status, self.record.outcome_detail = "failed", f"nothing changed: cannot read the routing: {exc}"
            self.record.finished_at = utc_now()
            self._save()
            return self.record
        self.record.snapshot = snapshot.model_dump(mode="json")
        self._save()
        strategy = self.policy.blue_green if self.release.strategy == "blue_green" else self.policy.canary
        shares = plan_shares(strategy.steps, self.router.unit, self.router.total_units())
        self._say(f"{self.release.strategy} from {self.release.previous_version}: steps "
                  f"{' → '.join(s.label for s in shares)}; replacing {snapshot.summary}")
        try:
            if self.release.strategy == "blue_green":
                await self._deploy_green()
            for share in shares:
                stage = await self._shift(share)
                await self._analyse_until_count(stage)
                self._finish(stage, "passed", f"{self.policy.analysis.count} successful analysis rounds")
            hold = self.policy.analysis.observe_after_last_step_seconds
            if self.release.strategy == "blue_green":
                hold = max(hold, self.policy.blue_green.retire_after_seconds)
            stage = self._stage(f"observe at 100 % for {hold:g} s", 100)
            await self._analyse_for(stage, hold)
            self._finish(stage, "passed", f"observed {hold:g} s at 100 % without failure")
            await self._promote()
        except _Stopped as stop:
            current = self.record.stages[-1] if self.record.stages else None
            if current is not None and current.status == "running":
                self._finish(current, "paused" if stop.kind == "pause" else "failed", stop.reason)
            if stop.kind == "pause":
                self.record.status, self.record.outcome_detail = "paused", (
                    f"paused for a person: {stop.reason}. Roll back with `cloud-doctor rollback {self.record.id} --reason ...`")
                self._say(self.record.outcome_detail)
                self._save()
                return self.record
            self._say(f"rolling back: {stop.reason}")
            rollback = await roll_back(self.router, self.record, trigger="automatic", reason=stop.reason, store=self.store)
            self._say(f"rollback {'verified' if rollback.verified else 'NOT verified'}: {rollback.detail}")
            return self.record
        except RouterError as exc:
            current = self.record.stages[-1] if self.record.stages else None
            if current is not None and current.status == "running":
                self._finish(current, "error", str(exc))
            self._say(f"rolling back: the router failed: {exc}")
            await roll_back(self.router, self.record, trigger="automatic", reason=f"router error: {exc}", store=self.store)
            return self.record
        self.record.status = "promoted"
        self.record.outcome_detail = f"{self.release.version} promoted after {len(self.record.analysis)} analysis rounds"
        self.record.finished_at = utc_now()
        self._save()
        self._say(self.record.outcome_detail)
        return self.record


async def run_rollout(release: Release, router: TrafficRouter, provider: MetricsProvider, policy: DeliveryPolicy, *,
                      clock: ScaledClock = REAL_TIME, store: Any = None, on_event: Callable[[str], None] | None = None,
                      deployment_id: str | None = None) -> DeploymentRecord:
    """Deliver `release` through `router`, judged by `provider`'s metrics under `policy`."""
    return await Rollout(release, router, provider, policy, clock=clock, store=store, on_event=on_event,
                         deployment_id=deployment_id).run()
