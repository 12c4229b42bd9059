"""When an infrastructure change must be rolled back: conditions that hold long enough, as pure functions.

The policy's `delivery.infrastructure_rollback` names three triggers (the
infrastructure conventions): health checks failing for 5 minutes or 3 in a
row, cost above 200 % of the baseline for an hour, the error rate 50 % above
its baseline for 10 minutes. Each is "a condition that holds for N seconds,
or for N checks in a row", judged over time-stamped observations. A missing
health check counts as a failed one (no data is never good news); missing
cost or error data breaks a run of breaches rather than extending it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from tools.delivery_policy import InfrastructureTriggers, SustainedCondition


class Observation(BaseModel):
    at: datetime
    value: float | None  # None: no data at that time


class TriggerVerdict(BaseModel):
    trigger: str
    fired: bool
    detail: str


def held(breaches: list[tuple[datetime, bool]], condition: SustainedCondition) -> tuple[bool, str]:
    """Did the breach hold for `for_seconds` (continuously, up to the latest check) or `consecutive` checks in a row?"""
    run: list[datetime] = []
    for at, breached in sorted(breaches):
        run = [*run, at] if breached else []
    if not run:
        return False, "not breached at the latest check"
    if condition.consecutive is not None and len(run) >= condition.consecutive:
        return True, f"{len(run)} checks in a row (limit {condition.consecutive})"
    span = (run[-1] - run[0]).total_seconds()
    if condition.for_seconds is not None and span >= condition.for_seconds:
        return True, f"for {span:.0f} s (limit {condition.for_seconds:.0f} s)"
    return False, f"breached for {span:.0f} s, {len(run)} check(s) in a row: not long enough yet"


def judge_infrastructure(triggers: InfrastructureTriggers, *, health: list[Observation], cost_ratio: list[Observation],
                         error_rate: list[Observation], baseline_error_rate: float | None) -> list[TriggerVerdict]:
    """Each trigger's verdict over the observations since the change (health: 1 healthy, 0 failing)."""
    verdicts: list[TriggerVerdict] = []
    fired, detail = held([(o.at, o.value is None or o.value < 1.0) for o in health], triggers.health_check)
    verdicts.append(TriggerVerdict(trigger="health_check", fired=fired, detail=f"health checks failing: {detail}"))
    limit = triggers.cost.max_ratio_to_baseline
    fired, detail = held([(o.at, o.value is not None and o.value > limit) for o in cost_ratio], triggers.cost)
    verdicts.append(TriggerVerdict(trigger="cost", fired=fired, detail=f"cost above {limit:.0%} of the baseline: {detail}"))
    if baseline_error_rate is None:
        verdicts.append(TriggerVerdict(trigger="error_rate", fired=False,
                                       detail="error rate: skipped, no baseline error rate was measured before the change"))
    else:
        ceiling = baseline_error_rate * (1 + triggers.error_rate.max_increase_over_baseline)
        fired, detail = held([(o.at, o.value is not None and o.value > ceiling) for o in error_rate], triggers.error_rate)
        verdicts.append(TriggerVerdict(trigger="error_rate", fired=fired, detail=(
            f"error rate above {ceiling:.2%} (baseline {baseline_error_rate:.2%} "
            f"+{triggers.error_rate.max_increase_over_baseline:.0%}): {detail}")))
    return verdicts
