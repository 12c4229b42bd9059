"""Judging a rollout's metrics, with Argo Rollouts / Flagger semantics, as pure functions.

One round = every metric measured once over one interval. Each measurement
is successful, failed, inconclusive, an error (the provider failed) or
skipped (this provider cannot measure it here, said plainly):

- no data (no requests reached the canary in the interval) is a failure;
- a provider error is never a success;
- too few requests to judge (fewer than `min_requests`, more than none) is inconclusive;
- the canary is judged against absolute limits *and* against the stable
  baseline measured over the same interval (or the last one that had traffic).

Across rounds (`AnalysisRun`), per metric: the analysis fails when a metric's
failed measurements exceed `failure_limit` (health checks: when
`consecutive_failures` fail in a row), it ends in error when provider errors
in a row exceed `consecutive_error_limit`, and it is inconclusive — the
rollout pauses for a person — when inconclusive measurements exceed
`inconclusive_limit`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tools.delivery_policy import AnalysisPolicy
from tools.deployment_records import Measurement
from tools.rollout_metrics import IntervalReadings, MetricReading

RunPhase = Literal["running", "failed", "error", "inconclusive"]


class Baseline(BaseModel):
    """The stable version's latest values that had enough traffic to mean something."""

    error_rate: float | None = None
    response_time: float | None = None

    def update(self, readings: IntervalReadings, min_requests: int) -> None:
        for metric in ("error_rate", "response_time"):
            reading = readings.get("stable", metric)
            if reading.error is None and reading.value is not None and (reading.requests or 0) >= min_requests:
                setattr(self, metric, reading.value)


def _pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def _unusable(reading: MetricReading, *, traffic_expected: bool) -> Measurement | None:
    """The verdict when the reading has no usable value: error, skipped, no data or too little data."""
    if reading.error is not None:
        return Measurement(metric=reading.metric, phase="error", detail=f"provider error: {reading.error}")
    if not reading.supported:
        return Measurement(metric=reading.metric, phase="skipped", detail=f"skipped: {reading.detail}")
    if reading.value is None:
        if not traffic_expected:
            return Measurement(metric=reading.metric, phase="skipped", detail="skipped: the candidate has no traffic at this stage")
        return Measurement(metric=reading.metric, phase="failed", detail=f"no data: {reading.detail or 'no values'}")
    return None


def _traffic_sample(reading: MetricReading, reference: float | None, policy: AnalysisPolicy, traffic_expected: bool,
                    shown: str) -> tuple[Measurement | None, dict]:
    """A traffic metric's common checks: unusable readings, then too few requests to judge.
    Returns a final verdict, or None and the fields of the measurement still to judge."""
    verdict = _unusable(reading, traffic_expected=traffic_expected)
    if verdict is not None:
        return verdict.model_copy(update={"limit": shown}), {}
    base = dict(metric=reading.metric, value=reading.value or 0.0, baseline=reference, limit=shown)
    if (reading.requests or 0) < policy.min_requests:
        return Measurement(**base, phase="inconclusive",
                           detail=f"{reading.requests} requests is too few to judge (min_requests {policy.min_requests})"), base
    return None, base


def judge_error_rate(reading: MetricReading, baseline: Baseline, policy: AnalysisPolicy, traffic_expected: bool) -> Measurement:
    limit = policy.metrics.error_rate
    shown = f"≤ {_pct(limit.max)}" + (f" and ≤ baseline × {1 + limit.max_over_baseline:g}" if limit.max_over_baseline is not None else "")
    verdict, base = _traffic_sample(reading, baseline.error_rate, policy, traffic_expected, shown)
    if verdict is not None:
        return verdict
    value = base["value"]
    if value > limit.max:
        return Measurement(**base, phase="failed", detail=f"{_pct(value)} errors > {_pct(limit.max)} ({reading.detail})")
    if limit.max_over_baseline is not None and baseline.error_rate is not None and value > baseline.error_rate * (1 + limit.max_over_baseline):
        return Measurement(**base, phase="failed",
                           detail=f"{_pct(value)} errors vs {_pct(baseline.error_rate)} on stable (> +{limit.max_over_baseline * 100:g} %)")
    return Measurement(**base, phase="successful", detail=f"{_pct(value)} errors ({reading.detail})")


def judge_response_time(reading: MetricReading, baseline: Baseline, policy: AnalysisPolicy, traffic_expected: bool) -> Measurement:
    limit = policy.metrics.response_time
    shown = f"≤ {limit.max_ms:g} ms and ≤ baseline + {limit.max_over_baseline * 100:g} %"
    verdict, base = _traffic_sample(reading, baseline.response_time, policy, traffic_expected, shown)
    if verdict is not None:
        return verdict
    value = base["value"]
    if value > limit.max_ms:
        return Measurement(**base, phase="failed", detail=f"{reading.detail}: {value:.0f} ms > {limit.max_ms:g} ms")
    ref = baseline.response_time
    if ref is not None and value > ref * (1 + limit.max_over_baseline) and value - ref > limit.baseline_tolerance_ms:
        return Measurement(**base, phase="failed",
                           detail=f"{reading.detail}: {value:.0f} ms vs {ref:.0f} ms on stable (> +{limit.max_over_baseline * 100:g} %)")
    compared = f" vs {ref:.0f} ms on stable" if ref is not None else " (no stable baseline yet: absolute limit only)"
    return Measurement(**base, phase="successful", detail=f"{reading.detail}: {value:.0f} ms{compared}")


def judge_utilisation(reading: MetricReading, maximum: float) -> Measurement:
    verdict = _unusable(reading, traffic_expected=True)
    shown = f"≤ {maximum * 100:g} %"
    if verdict is not None:
        return verdict.model_copy(update={"limit": shown})
    value = reading.value or 0.0
    phase = "failed" if value > maximum else "successful"
    return Measurement(metric=reading.metric, phase=phase, value=value, limit=shown,
                       detail=f"{value * 100:.1f} % ({reading.detail})")


def judge_health(reading: MetricReading, consecutive: int) -> Measurement:
    shown = f"fewer than {consecutive} failed checks in a row"
    verdict = _unusable(reading, traffic_expected=True)
    if verdict is not None:
        return verdict.model_copy(update={"limit": shown})
    ok = (reading.value or 0.0) >= 1.0
    return Measurement(metric="health", phase="successful" if ok else "failed", value=reading.value, limit=shown,
                       detail=reading.detail)


def judge_round(readings: IntervalReadings, baseline: Baseline, policy: AnalysisPolicy, *,
                candidate_has_traffic: bool) -> list[Measurement]:
    """Every metric of the canary judged once; the baseline is updated from this interval's stable readings first."""
    baseline.update(readings, policy.min_requests)
    metrics = policy.metrics
    return [
        judge_error_rate(readings.get("canary", "error_rate"), baseline, policy, candidate_has_traffic),
        judge_response_time(readings.get("canary", "response_time"), baseline, policy, candidate_has_traffic),
        judge_health(readings.get("canary", "health"), metrics.health.consecutive_failures),
        judge_utilisation(readings.get("canary", "cpu"), metrics.cpu.max),
        judge_utilisation(readings.get("canary", "memory"), metrics.memory.max),
    ]


class MetricTally(BaseModel):
    successful: int = 0
    failed: int = 0
    failed_in_a_row: int = 0
    errors_in_a_row: int = 0
    inconclusive: int = 0


class AnalysisRun(BaseModel):
    """The running verdict over every round of one rollout (Argo's AnalysisRun, background analysis)."""

    policy: AnalysisPolicy
    tallies: dict[str, MetricTally] = Field(default_factory=dict)
    phase: RunPhase = "running"
    reason: str = ""

    def record(self, measurements: list[Measurement]) -> RunPhase:
        for m in measurements:
            tally = self.tallies.setdefault(m.metric, MetricTally())
            if m.phase == "error":
                tally.errors_in_a_row += 1
                continue
            if m.phase == "skipped":
                continue
            tally.errors_in_a_row = 0
            if m.phase == "failed":
                tally.failed += 1
                tally.failed_in_a_row += 1
            else:
                tally.failed_in_a_row = 0
            if m.phase == "successful":
                tally.successful += 1
            if m.phase == "inconclusive":
                tally.inconclusive += 1
        self.phase, self.reason = self._judge(measurements)
        return self.phase

    def _judge(self, latest: list[Measurement]) -> tuple[RunPhase, str]:
        detail = {m.metric: m.detail for m in latest}
        health_limit = self.policy.metrics.health.consecutive_failures
        for metric, tally in self.tallies.items():
            if metric == "health":
                if tally.failed_in_a_row >= health_limit:
                    return "failed", f"health: {tally.failed_in_a_row} failed checks in a row ({detail.get(metric, '')})"
            elif tally.failed > self.policy.failure_limit:
                return "failed", (f"{metric}: {tally.failed} failed measurement(s) > failure_limit {self.policy.failure_limit} "
                                  f"({detail.get(metric, '')})")
        for metric, tally in self.tallies.items():
            if tally.errors_in_a_row > self.policy.consecutive_error_limit:
                return "error", (f"{metric}: {tally.errors_in_a_row} provider errors in a row > consecutive_error_limit "
                                 f"{self.policy.consecutive_error_limit} ({detail.get(metric, '')})")
        for metric, tally in self.tallies.items():
            if tally.inconclusive > self.policy.inconclusive_limit:
                return "inconclusive", (f"{metric}: {tally.inconclusive} inconclusive measurement(s) > inconclusive_limit "
                                        f"{self.policy.inconclusive_limit} ({detail.get(metric, '')})")
        return "running", ""
