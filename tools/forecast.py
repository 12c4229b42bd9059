"""Next month's cost, from the spec: what the environments will cost over the hours that month has.

tools/cost.py prices a spec per average month (730 hours). A forecast for a
named month uses that month's hours for what is billed by the hour (nodes,
instances, databases, NAT gateways, the EKS control plane) and keeps what is
billed by the month (storage, secrets) as it is. Usage-based charges stay out,
as in the estimate, and the source says so. AWS Cost Explorer's own forecast
(tools/cost_explorer.py) is shown beside it when configured.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from graphs.state import CostForecast
from tools.cost import DEFAULT_REGION, load_price_table, spec_cost_items

HOURLY_UNITS = ("hours", "nodes", "instances", "gateways")


def next_month(now: datetime, tz: str = "UTC") -> tuple[str, date, date, float]:
    """("2026-05", first day, first day of the month after, hours in it) for the month after `now` (in `tz`)."""
    local = now.astimezone(ZoneInfo(tz))
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    days = calendar.monthrange(year, month)[1]
    start = date(year, month, 1)
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return f"{year:04d}-{month:02d}", start, end, float(days * 24)


def forecast_spec(spec: dict[str, Any], environments: list[str], period: str, hours: float) -> CostForecast:
    """The spec's cost over `hours` (one month), per environment."""
    prices = load_price_table(spec.get("region") or DEFAULT_REGION)
    scale = hours / prices.hours_per_month
    by_env: dict[str, float] = {}
    for env in environments:
        total = 0.0
        for item in spec_cost_items(spec, env, prices):
            total += item.monthly * (scale if item.unit in HOURLY_UNITS else 1.0)
        by_env[env] = round(total, 2)
    source = (f"{prices.label}; {hours:g} hours billed by the hour, storage and secrets by the month; "
              "usage-based charges (data transfer, NAT data, requests) not counted")
    return CostForecast(period=period, hours=hours, by_environment=by_env, total=round(sum(by_env.values()), 2), source=source)


__all__ = ["HOURLY_UNITS", "forecast_spec", "next_month"]
