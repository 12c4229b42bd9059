"""Where a rollout's analysis gets its numbers: a provider interface and a Prometheus scrape provider.

A provider measures each role ("canary", "stable") over one interval:
error rate, a response-time quantile, CPU and memory use, and a health
check. It returns readings, never verdicts (agents/delivery/analysis.py
judges them). A reading says plainly when there was no data (no requests in
the interval), when the provider cannot measure that metric at all
(`supported=False`, shown as skipped), and when the provider failed
(`error`): a failed read is never a value.

`PrometheusScrapeProvider` reads the services' own `/metrics` endpoints in
the Prometheus text format at the start and the end of each interval and
works from the differences, as Prometheus' `rate()` and
`histogram_quantile()` would. A provider for a Prometheus server (PromQL)
or CloudWatch fits the same interface.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from typing import Literal, Protocol, runtime_checkable

from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

Role = Literal["canary", "stable"]
METRICS = ("error_rate", "response_time", "cpu", "memory", "health")
SCRAPE_TIMEOUT_S = 3.0
HEALTH_TIMEOUT_S = 2.0


class MetricReading(BaseModel):
    """One metric of one role over one interval."""

    metric: str
    role: Role
    value: float | None = None  # None: no data in the interval
    requests: int | None = None  # the sample size, where the metric has one
    supported: bool = True  # False: this provider cannot measure it here (the check is skipped, and says so)
    error: str | None = None  # the provider failed: never a value
    detail: str = ""


class IntervalReadings(BaseModel):
    readings: list[MetricReading] = Field(default_factory=list)
    seconds: float = 0.0

    def get(self, role: Role, metric: str) -> MetricReading:
        for reading in self.readings:
            if reading.role == role and reading.metric == metric:
                return reading
        return MetricReading(metric=metric, role=role, supported=False, detail="not measured by this provider")


@runtime_checkable
class MetricsProvider(Protocol):
    name: str

    async def begin_interval(self) -> None:
        """Mark the start of an interval (a scrape provider reads its counters here)."""

    async def end_interval(self, quantile: float) -> IntervalReadings:
        """Readings for every role and metric over the interval since `begin_interval`."""


class ScrapeTarget(BaseModel):
    metrics_url: str
    health_url: str | None = None


class _Scrape(BaseModel):
    at: float
    samples: dict[str, list[tuple[dict[str, str], float]]]  # sample name -> (labels, value)


def parse_prometheus_text(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return samples


def _get(url: str, timeout: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _sum(scrape: _Scrape, name: str, match: dict[str, str] | None = None, *, code_class: str | None = None) -> float:
    total = 0.0
    for labels, value in scrape.samples.get(name, []):
        if match and any(labels.get(k) != v for k, v in match.items()):
            continue
        if code_class and not labels.get("code", "").startswith(code_class):
            continue
        total += value
    return total


def _delta(before: float, after: float) -> float:
    """A counter's increase; a counter that went down restarted from zero (Prometheus' rule)."""
    return after - before if after >= before else after


def histogram_quantile(quantile: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (upper bound, count) buckets; None without observations."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = quantile * total
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                finite = [b for b, _ in buckets if b != float("inf")]
                return finite[-1] if finite else None
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return buckets[-1][0]


class PrometheusScrapeProvider:
    """Scrapes each instance's `/metrics` (and probes its health URL) at both ends of an interval."""

    name = "prometheus-scrape"

    def __init__(self, targets: dict[Role, list[ScrapeTarget]]):
        self.targets = targets
        self._start: dict[str, _Scrape | str] = {}
        self._started_at = 0.0

    async def _scrape(self, target: ScrapeTarget) -> _Scrape | str:
        try:
            status, text = await asyncio.to_thread(_get, target.metrics_url, SCRAPE_TIMEOUT_S)
        except OSError as exc:
            return f"scrape of {target.metrics_url} failed: {getattr(exc, 'reason', exc)}"
        if status != 200:
            return f"scrape of {target.metrics_url} answered HTTP {status}"
        try:
            return _Scrape(at=time.monotonic(), samples=parse_prometheus_text(text))
        except ValueError as exc:
            return f"{target.metrics_url} is not Prometheus text: {exc}"

    async def begin_interval(self) -> None:
        self._started_at = time.monotonic()
        scrapes = await asyncio.gather(*(self._scrape(t) for ts in self.targets.values() for t in ts))
        urls = [t.metrics_url for ts in self.targets.values() for t in ts]
        self._start = dict(zip(urls, scrapes))

    async def end_interval(self, quantile: float) -> IntervalReadings:
        readings: list[MetricReading] = []
        for role, targets in self.targets.items():
            ends = await asyncio.gather(*(self._scrape(t) for t in targets))
            readings += self._role_readings(role, targets, list(ends), quantile)
            readings.append(await self._health(role, targets))
        return IntervalReadings(readings=readings, seconds=round(time.monotonic() - self._started_at, 3))

    def _role_readings(self, role: Role, targets: list[ScrapeTarget], ends: list[_Scrape | str],
                       quantile: float) -> list[MetricReading]:
        pairs: list[tuple[_Scrape, _Scrape]] = []
        for target, end in zip(targets, ends):
            start = self._start.get(target.metrics_url)
            problem = next((x for x in (start, end) if isinstance(x, str)), None)
            if start is None:
                problem = f"{target.metrics_url} was not scraped at the start of the interval"
            if problem:
                return [MetricReading(metric=m, role=role, error=problem) for m in METRICS if m != "health"]
            pairs.append((start, end))  # type: ignore[arg-type]
        requests = sum(_delta(_sum(a, "http_requests_total"), _sum(b, "http_requests_total")) for a, b in pairs)
        errors = sum(_delta(_sum(a, "http_requests_total", code_class="5"), _sum(b, "http_requests_total", code_class="5"))
                     for a, b in pairs)
        n = int(round(requests))
        out = [MetricReading(metric="error_rate", role=role, requests=n, value=(errors / requests) if requests else None,
                             detail=f"{int(errors)} of {n} requests answered 5xx" if requests else "no requests in the interval")]
        bounds: dict[float, float] = {}
        for a, b in pairs:
            for labels, value in b.samples.get("http_request_duration_seconds_bucket", []):
                bound = float(labels.get("le", "inf"))
                before = next((v for lab, v in a.samples.get("http_request_duration_seconds_bucket", [])
                               if lab.get("le") == labels.get("le")), 0.0)
                bounds[bound] = bounds.get(bound, 0.0) + _delta(before, value)
        seconds = histogram_quantile(quantile, list(bounds.items()))
        out.append(MetricReading(metric="response_time", role=role, requests=n,
                                 value=seconds * 1000 if seconds is not None else None,
                                 detail=f"p{quantile * 100:g} over {n} requests" if seconds is not None else "no requests in the interval"))
        cpu = [(_delta(_sum(a, "process_cpu_seconds_total"), _sum(b, "process_cpu_seconds_total")) / max(b.at - a.at, 1e-6))
               for a, b in pairs if "process_cpu_seconds_total" in b.samples]
        out.append(MetricReading(metric="cpu", role=role, value=max(cpu) if cpu else None, supported=bool(cpu),
                                 detail="busiest instance, share of one core" if cpu else "no process_cpu_seconds_total exported"))
        memory = [_sum(b, "process_resident_memory_bytes") / _sum(b, "process_memory_limit_bytes")
                  for _, b in pairs if _sum(b, "process_memory_limit_bytes") > 0]
        out.append(MetricReading(metric="memory", role=role, value=max(memory) if memory else None, supported=bool(memory),
                                 detail="resident memory / limit, fullest instance" if memory
                                 else "no process_memory_limit_bytes exported: nothing to compare memory with"))
        return out

    async def _health(self, role: Role, targets: list[ScrapeTarget]) -> MetricReading:
        urls = [t.health_url for t in targets if t.health_url]
        if not urls:
            return MetricReading(metric="health", role=role, supported=False, detail="no health URL configured")
        failed: list[str] = []
        for url in urls:
            try:
                status, _ = await asyncio.to_thread(_get, url, HEALTH_TIMEOUT_S)
            except OSError as exc:
                failed.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            if status != 200:
                failed.append(f"{url}: HTTP {status}")
        return MetricReading(metric="health", role=role, value=0.0 if failed else 1.0,
                             detail="; ".join(failed) if failed else f"{len(urls)} of {len(urls)} healthy")
