"""The `delivery` section of config/policy.yaml: rollout steps, analysis thresholds, rollback triggers.

Typed here so a wrong key fails when the policy is loaded, not halfway through
a rollout. The defaults are the operations guide's values; the shipped
policy.yaml spells them out so an operator sees what they are.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Steps(_Strict):
    steps: list[int] = Field(default_factory=lambda: [10, 50, 100])  # percent of traffic, or of hosts/pods

    @field_validator("steps")
    @classmethod
    def _increasing_to_100(cls, steps: list[int]) -> list[int]:
        if not steps or steps[-1] != 100 or any(not 0 < s <= 100 for s in steps) or steps != sorted(set(steps)):
            raise ValueError("steps must be increasing percentages ending at 100, e.g. [10, 50, 100]")
        return steps


class CanaryPolicy(_Steps):
    pass


class BlueGreenPolicy(_Steps):
    retire_after_seconds: float = Field(default=300.0, ge=0)  # blue stays ready (analysis goes on) this long after green takes all


class ErrorRateLimit(_Strict):
    max: float = 0.01  # fraction of requests answered 5xx (or not at all)
    max_over_baseline: float | None = None  # optional: canary > baseline × (1 + this) fails too


class ResponseTimeLimit(_Strict):
    quantile: float = Field(default=0.99, gt=0, lt=1)
    max_ms: float = 500.0
    max_over_baseline: float = 0.20  # 20 % slower than the stable baseline fails
    # A relative limit over a few milliseconds judges noise: the canary must also be this much slower.
    baseline_tolerance_ms: float = 50.0


class HealthCheckLimit(_Strict):
    consecutive_failures: int = Field(default=3, ge=1)


class UtilisationLimit(_Strict):
    max: float = Field(default=0.85, gt=0, le=1)  # fraction of one core (CPU) or of the memory limit


class ReleaseMetrics(_Strict):
    error_rate: ErrorRateLimit = Field(default_factory=ErrorRateLimit)
    response_time: ResponseTimeLimit = Field(default_factory=ResponseTimeLimit)
    health: HealthCheckLimit = Field(default_factory=HealthCheckLimit)
    cpu: UtilisationLimit = Field(default_factory=UtilisationLimit)
    memory: UtilisationLimit = Field(default_factory=UtilisationLimit)


class AnalysisPolicy(_Strict):
    """Argo Rollouts / Flagger semantics: see agents/delivery/analysis.py for how each number is used."""

    interval_seconds: float = Field(default=60.0, gt=0)
    count: int = Field(default=3, ge=1)  # successful measurement rounds needed at each step
    failure_limit: int = Field(default=0, ge=0)  # a metric fails when its failed measurements exceed this
    consecutive_error_limit: int = Field(default=4, ge=0)  # provider errors in a row beyond this end the analysis
    inconclusive_limit: int = Field(default=0, ge=0)  # inconclusive measurements beyond this pause for a person
    min_requests: int = Field(default=20, ge=1)  # fewer requests in an interval (but some) is inconclusive
    observe_after_last_step_seconds: float = Field(default=300.0, ge=0)
    metrics: ReleaseMetrics = Field(default_factory=ReleaseMetrics)


class SustainedCondition(_Strict):
    """A condition that triggers a rollback when it holds for `for_seconds`, or `consecutive` checks in a row."""

    for_seconds: float | None = None
    consecutive: int | None = None


class HealthTrigger(SustainedCondition):
    for_seconds: float | None = 300.0
    consecutive: int | None = 3


class CostTrigger(SustainedCondition):
    max_ratio_to_baseline: float = 2.0  # above 200 % of the baseline
    for_seconds: float | None = 3600.0


class ErrorRateTrigger(SustainedCondition):
    max_increase_over_baseline: float = 0.5  # +50 %
    for_seconds: float | None = 600.0


class InfrastructureTriggers(_Strict):
    health_check: HealthTrigger = Field(default_factory=HealthTrigger)
    cost: CostTrigger = Field(default_factory=CostTrigger)
    error_rate: ErrorRateTrigger = Field(default_factory=ErrorRateTrigger)


class DeliveryPolicy(_Strict):
    canary: CanaryPolicy = Field(default_factory=CanaryPolicy)
    blue_green: BlueGreenPolicy = Field(default_factory=BlueGreenPolicy)
    analysis: AnalysisPolicy = Field(default_factory=AnalysisPolicy)
    infrastructure_rollback: InfrastructureTriggers = Field(default_factory=InfrastructureTriggers)
