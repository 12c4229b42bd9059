"""Live metrics from CloudWatch: a playbook's "<subject>.<kind>" name as a GetMetricData query.

The diagnostician asks for metrics by meaning ("the DB's connections"), not by
CloudWatch coordinates; config/metrics.yaml maps each kind to a namespace,
metric, dimension and statistic, so a team with other metric names changes a
file, not code. Reads are paginated and run in a worker thread.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphs.errors import ConfigError
from tools.cloudwatch import aws_errors, make_client


class MetricQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    namespace: str
    metric: str
    dimension: str
    stat: str = "Average"


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_minutes: int = Field(60, gt=0)
    period_seconds: int = Field(60, gt=0)
    max_points: int = Field(240, gt=0)
    kinds: dict[str, MetricQuery] = Field(default_factory=dict)

    def query_for(self, name: str) -> tuple[MetricQuery, str] | None:
        """The query and dimension value for "<subject>.<kind>", or None for a kind not configured."""
        subject, _, kind = name.rpartition(".")
        query = self.kinds.get(kind)
        return (query, subject) if query and subject else None


def load_metrics_config(config_dir: str | Path) -> MetricsConfig:
    path = Path(config_dir) / "metrics.yaml"
    if not path.is_file():
        return MetricsConfig()
    try:
        return MetricsConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: {str(exc).splitlines()[0]}") from exc


def fetch_metric_sync(query: MetricQuery, subject: str, config: MetricsConfig, *, client: Any = None,
                      endpoint_url: str | None = None, region: str | None = None,
                      now: datetime | None = None) -> list[tuple[str, float]]:
    """(ISO time, value) points, oldest first, for the configured window up to `now`."""
    client = client or make_client("cloudwatch", endpoint_url, region)
    end = now or datetime.now(timezone.utc)
    kwargs: dict[str, Any] = {
        "MetricDataQueries": [{
            "Id": "m0",
            "MetricStat": {
                "Metric": {"Namespace": query.namespace, "MetricName": query.metric,
                           "Dimensions": [{"Name": query.dimension, "Value": subject}]},
                "Period": config.period_seconds, "Stat": query.stat,
            },
            "ReturnData": True,
        }],
        "StartTime": end - timedelta(minutes=config.window_minutes), "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    points: list[tuple[datetime, float]] = []
    with aws_errors("CloudWatch", "cloudwatch:GetMetricData", endpoint_url):
        while True:
            page = client.get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                points += list(zip(result.get("Timestamps", []), (float(v) for v in result.get("Values", []))))
            token = page.get("NextToken")
            if not token or len(points) >= config.max_points:
                break
            kwargs["NextToken"] = token
    points.sort(key=lambda p: p[0])
    return [(t.astimezone(timezone.utc).isoformat(), v) for t, v in points[-config.max_points:]]


async def fetch_metric(query: MetricQuery, subject: str, config: MetricsConfig, **kwargs: Any) -> list[tuple[str, float]]:
    return await asyncio.to_thread(fetch_metric_sync, query, subject, config, **kwargs)
