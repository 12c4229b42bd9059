"""AWS Cost Explorer's own numbers, through boto3: next month's forecast and last month's actual cost.

Configured with CLOUD_DOCTOR_COST_EXPLORER=1 (Cost Explorer bills each
request, so it is off by default) and CLOUD_DOCTOR_COST_EXPLORER_URL for a
proxy or a local fake. Costs are filtered by the `Environment` tag the
reference project puts on every resource (terraform/main.tf), one request per
environment. Any failure is a named error with what to fix; the forecast from
the spec stands either way.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Any, Iterator

from tools.cloudwatch import CloudWatchError, aws_errors, make_client

CE_REGION = "us-east-1"  # Cost Explorer has one endpoint
TAG_KEY = "Environment"


class CostExplorerError(CloudWatchError):
    """Cost Explorer could not be read."""


def _client(endpoint_url: str | None, client: Any) -> Any:
    return client or make_client("ce", endpoint_url, CE_REGION)


@contextmanager
def _ce_errors(permission: str, endpoint_url: str | None) -> Iterator[None]:
    """boto3 failures as one CostExplorerError that says what to fix (credentials, endpoint, permission)."""
    try:
        with aws_errors("Cost Explorer", permission, endpoint_url):
            yield
    except CloudWatchError as exc:
        raise CostExplorerError(str(exc)) from exc


def _filter(environment: str | None) -> dict[str, Any]:
    return {"Filter": {"Tags": {"Key": TAG_KEY, "Values": [environment], "MatchOptions": ["EQUALS"]}}} if environment else {}


def cost_forecast(start: date, end: date, environment: str | None = None, *, endpoint_url: str | None = None,
                  client: Any = None) -> tuple[float, str]:
    """(amount, unit) Cost Explorer forecasts for [start, end) (UNBLENDED_COST, monthly)."""
    ce = _client(endpoint_url, client)
    with _ce_errors("ce:GetCostForecast", endpoint_url):
        answer = ce.get_cost_forecast(TimePeriod={"Start": start.isoformat(), "End": end.isoformat()}, Metric="UNBLENDED_COST",
                                      Granularity="MONTHLY", **_filter(environment))
    total = answer.get("Total") or {}
    return round(float(total.get("Amount") or 0.0), 2), str(total.get("Unit") or "USD")


def actual_cost(start: date, end: date, environment: str | None = None, *, endpoint_url: str | None = None,
                client: Any = None) -> tuple[float, str]:
    """(amount, unit) actually billed for [start, end) (UNBLENDED_COST)."""
    ce = _client(endpoint_url, client)
    with _ce_errors("ce:GetCostAndUsage", endpoint_url):
        answer = ce.get_cost_and_usage(TimePeriod={"Start": start.isoformat(), "End": end.isoformat()}, Granularity="MONTHLY",
                                       Metrics=["UnblendedCost"], **_filter(environment))
    amount, unit = 0.0, "USD"
    for period in answer.get("ResultsByTime") or []:
        cost = (period.get("Total") or {}).get("UnblendedCost") or {}
        amount += float(cost.get("Amount") or 0.0)
        unit = str(cost.get("Unit") or unit)
    return round(amount, 2), unit


__all__ = ["CE_REGION", "CostExplorerError", "TAG_KEY", "actual_cost", "cost_forecast"]
