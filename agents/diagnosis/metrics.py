"""A recorded or fetched metric series reduced to what analyzers ask: level, growth, jumps."""

from __future__ import annotations

from datetime import datetime

from agents.diagnosis.facts import Facts
from agents.diagnosis.timeline import parse_timestamp


class MetricFacts(Facts):
    parser: str = "metric"
    name: str
    points: int
    first: float
    last: float
    min: float
    max: float
    growth: float  # last / first (first clamped away from zero)
    rising_fraction: float  # share of steps that go up
    first_at: datetime | None = None
    last_at: datetime | None = None
    jump_at: datetime | None = None  # first point at 3x the early baseline, when there is one
    largest_rise_share: float = 0.0  # the biggest single rise as a share of max - min: near 1 is a step, not a trend

    @property
    def stepped(self) -> bool:
        """Rose once and stayed (a bigger workload, a new release): not the slow climb of a leak."""
        return self.points >= 4 and self.largest_rise_share >= 0.7

    def summary(self) -> str:
        trend = "rising" if self.rising_fraction >= 0.7 and self.growth >= 1.2 else "falling" if self.growth <= 0.8 else "flat"
        out = f"{self.name}: {self.first:g} -> {self.last:g} over {self.points} points ({trend}, max {self.max:g})"
        if self.jump_at:
            out += f", jumped at {self.jump_at.isoformat()}"
        return out


def summarize_series(name: str, series: list[tuple[str, float]] | list[list]) -> MetricFacts | None:
    points = [(str(p[0]), float(p[1])) for p in series if isinstance(p, (list, tuple)) and len(p) >= 2]
    if not points:
        return None
    values = [v for _, v in points]
    steps = list(zip(values, values[1:]))
    rising = sum(1 for a, b in steps if b > a) / len(steps) if steps else 0.0
    first = values[0]
    growth = values[-1] / first if abs(first) > 1e-9 else (float("inf") if values[-1] > 0 else 1.0)
    baseline = sorted(values[: max(1, len(values) // 3)])[max(0, len(values) // 6 - 1)] if values else 0.0
    jump_at = None
    for ts, value in points[1:]:
        if value >= 3 * max(baseline, 1e-6) and value - baseline > 0:
            jump_at = parse_timestamp(ts)
            break
    spread = max(values) - min(values)
    largest_rise = max((b - a for a, b in steps), default=0.0)
    return MetricFacts(
        largest_rise_share=round(largest_rise / spread, 3) if spread > 0 else 0.0,
        name=name, points=len(points), first=first, last=values[-1], min=min(values), max=max(values),
        growth=round(min(growth, 1e6), 3), rising_fraction=round(rising, 2),
        first_at=parse_timestamp(points[0][0]), last_at=parse_timestamp(points[-1][0]), jump_at=jump_at,
    )
