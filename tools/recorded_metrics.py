"""CloudWatch series a recording holds as `aws cloudwatch get-metric-statistics` outputs.

Live, the diagnostician lists and reads a subject's metrics through CloudWatch's API (ListMetrics by
dimension value, then the datapoints). A recorded incident sometimes keeps those datapoints as the CLI's
JSON instead of under `world.metrics`; these are the same series, so replay offers them the same way:
named `<dimension value>.<MetricName>` (`shop-prod-report.BurstBalance`), points oldest first.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

_STATISTICS = ("Average", "Minimum", "Maximum", "Sum", "SampleCount")


def _option(words: list[str], name: str) -> str | None:
    for i, word in enumerate(words):
        if word == name and i + 1 < len(words):
            return words[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def series_name(command: str) -> str | None:
    """`<dimension value>.<MetricName>` for a get-metric-statistics command, else None."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if words[:3] != ["aws", "cloudwatch", "get-metric-statistics"]:
        return None
    metric = _option(words, "--metric-name")
    dimensions = _option(words, "--dimensions") or ""
    value = next((part.split("=", 1)[1] for part in dimensions.split(",") if part.startswith("Value=")), None)
    return f"{value}.{metric}" if metric and value else None


def datapoints(output: str) -> list[tuple[str, float]]:
    """The datapoints of a get-metric-statistics answer, oldest first (the first statistic each point carries)."""
    try:
        doc: Any = json.loads(output)
    except ValueError:
        return []
    points = []
    for point in doc.get("Datapoints", []) if isinstance(doc, dict) else []:
        stat = next((point[s] for s in _STATISTICS if isinstance(point, dict) and isinstance(point.get(s), (int, float))), None)
        if stat is not None and point.get("Timestamp"):
            points.append((str(point["Timestamp"]), float(stat)))
    return sorted(points)


def recorded_series(commands: dict[str, str]) -> dict[str, list[tuple[str, float]]]:
    """Every series the recorded CLI outputs hold; several windows of one series are merged."""
    out: dict[str, dict[str, float]] = {}
    for command, output in commands.items():
        name = series_name(command)
        if name is not None:
            out.setdefault(name, {}).update(dict(datapoints(output)))
    return {name: sorted(points.items()) for name, points in out.items() if points}
