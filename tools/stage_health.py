"""Was an environment healthy long enough? The stage gate's verdict, a pure function of metric points and time.

Staged delivery (config/stages.yaml) applies a change to one environment, then
waits until that environment has stayed healthy for `healthy_for_minutes`
since the change before the next environment's change is put to its
approvers. "Healthy" means every point of every configured metric inside the
window stays within its limit; a breach fails the gate at once (the rollout
stops there); no points at all is a failure unless the configuration says to
wait (Flagger: "no values found" is a failure).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphs.errors import ConfigError


class MetricLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str  # "{project}-{env}-api.error_rate"
    max: float | None = None
    min: float | None = None


class HealthCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    expect_status: int = 200


class StageHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metrics: list[MetricLimit] = Field(default_factory=list)
    checks: list[HealthCheck] = Field(default_factory=list)
    no_data: Literal["fail", "wait"] = "fail"


class GateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    healthy_for_minutes: float = Field(60, ge=0)


class StagesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: list[str] = Field(default_factory=lambda: ["dev", "staging", "prod"])
    gates: dict[str, GateSettings] = Field(default_factory=dict)
    health: StageHealth = Field(default_factory=StageHealth)

    def healthy_for(self, environment: str) -> timedelta:
        gate = self.gates.get(environment) or GateSettings()
        return timedelta(minutes=gate.healthy_for_minutes)


def load_stages_config(config_dir: str | Path) -> StagesConfig:
    path = Path(config_dir) / "stages.yaml"
    if not path.is_file():
        return StagesConfig()
    try:
        return StagesConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: {str(exc).splitlines()[0]}") from None


class GateVerdict(BaseModel):
    status: Literal["passed", "waiting", "failed"]
    detail: str
    not_before: datetime | None = None
    lines: list[str] = Field(default_factory=list)


def _time(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _breach(limit: MetricLimit, value: float) -> str | None:
    if limit.max is not None and value > limit.max:
        return f"{value:g} > {limit.max:g}"
    if limit.min is not None and value < limit.min:
        return f"{value:g} < {limit.min:g}"
    return None


def judge_metrics(series: dict[str, list[tuple[str, float]]], limits: list[MetricLimit], *, since: datetime, now: datetime,
                  healthy_for: timedelta, no_data: str = "fail") -> GateVerdict:
    """The gate's verdict on metric points (name -> [(iso time, value)]) for the window since the change.

    `limits` carry the metric names already filled in. Failed beats waiting beats passed."""
    since, now = _time(since), _time(now)
    not_before = since + healthy_for
    elapsed = now - since
    lines: list[str] = []
    failures: list[str] = []
    missing: list[str] = []
    for limit in limits:
        points = [(_time(t), float(v)) for t, v in series.get(limit.name) or [] if since <= _time(t) <= now]
        if not points:
            missing.append(limit.name)
            lines.append(f"{limit.name}: no points since {since:%H:%M} UTC")
            continue
        worst = max(points, key=lambda p: p[1]) if limit.max is not None else min(points, key=lambda p: p[1])
        breach = next(((t, v, b) for t, v in points if (b := _breach(limit, v))), None)
        bound = f"≤ {limit.max:g}" if limit.max is not None else f"≥ {limit.min:g}"
        if breach is not None:
            t, _, text = breach
            failures.append(f"{limit.name} {text} at {t:%H:%M} UTC")
            lines.append(f"{limit.name}: {text} at {t:%H:%M} UTC (limit {bound})")
        else:
            lines.append(f"{limit.name}: {len(points)} points {points[0][0]:%H:%M}–{points[-1][0]:%H:%M} UTC, "
                         f"worst {worst[1]:g} ({bound})")
    if failures:
        return GateVerdict(status="failed", detail="unhealthy: " + "; ".join(failures), lines=lines)
    if missing and (no_data == "fail") and elapsed >= healthy_for:
        return GateVerdict(status="failed", detail="no data for " + ", ".join(missing) + " (no data is not health)", lines=lines)
    minutes = healthy_for.total_seconds() / 60
    if elapsed < healthy_for or missing:
        left = max(timedelta(0), not_before - now)
        why = f"healthy so far, {elapsed.total_seconds() / 60:.0f} of {minutes:g} minutes" if not missing else \
            "waiting for data for " + ", ".join(missing)
        return GateVerdict(status="waiting", detail=f"{why}; check again after {not_before:%Y-%m-%d %H:%M} UTC"
                           + (f" (in {left.total_seconds() / 60:.0f} min)" if left else ""), not_before=not_before, lines=lines)
    return GateVerdict(status="passed", detail=f"healthy for {elapsed.total_seconds() / 60:.0f} minutes (≥ {minutes:g})", lines=lines)


__all__ = ["GateVerdict", "HealthCheck", "MetricLimit", "StageHealth", "StagesConfig", "judge_metrics", "load_stages_config"]
