"""Next month's cost (from the spec, and from Cost Explorer through boto3) and right-sizing suggestions from metrics.

Cost Explorer is reached over HTTP: GetCostForecast at a local server speaking its AWS JSON 1.1 protocol
(tests/fake_cost_explorer.py), GetCostAndUsage at moto's server.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone

import httpx
import pytest
import yaml

from agents.context import AgentContext
from agents.planning.costs import plan_costs, suggestions_for
from config.settings import CONFIG_DIR, Settings
from tests.fake_cost_explorer import FakeCostExplorer
from tests.moto_server import moto_endpoint  # noqa: F401 (fixture)
from tools.cost import estimate_spec_cost, spec_cost_items
from tools.cost_explorer import CostExplorerError, actual_cost, cost_forecast
from tools.forecast import forecast_spec, next_month
from tools.rightsizing import suggest
from tools.world import RecordedWorld, WorldRecord

SPEC = yaml.safe_load((CONFIG_DIR / "spec.yaml").read_text(encoding="utf-8"))
LIMITS = {"min_points": 24, "eks": {"cpu_average": 30, "cpu_peak": 60, "memory_average": 50, "after_peak": 75},
          "rds": {"cpu_average": 20, "cpu_peak": 50}, "redis": {"cpu_average": 10, "cpu_peak": 30, "idle_connections": 1},
          "ec2": {"cpu_average": 5, "cpu_peak": 15}}


@pytest.mark.parametrize("now, period, hours", [
    (datetime(2026, 4, 14, 1, 30, tzinfo=timezone.utc), "2026-05", 744.0),
    (datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc), "2027-02", 672.0),  # already January 1st in Seoul
    (datetime(2027, 12, 10, tzinfo=timezone.utc), "2028-01", 744.0),
    (datetime(2028, 1, 20, tzinfo=timezone.utc), "2028-02", 696.0),  # a leap year's February
])
def test_next_month_is_the_calendar_month_after_now_in_the_policy_timezone(now, period, hours):
    got, start, end, got_hours = next_month(now, "Asia/Seoul")
    assert (got, got_hours) == (period, hours) and (end - start).days * 24 == hours


def test_the_forecast_bills_hours_by_that_months_hours_and_storage_by_the_month():
    average = estimate_spec_cost(SPEC, "prod").monthly_after
    may = forecast_spec(SPEC, ["prod"], "2026-05", 744.0).by_environment["prod"]
    february = forecast_spec(SPEC, ["prod"], "2026-02", 672.0).by_environment["prod"]
    assert february < average < may  # 672 < 730 < 744 hours
    hourly = sum(i.monthly for i in spec_cost_items(SPEC, "prod") if i.unit in ("hours", "nodes", "instances", "gateways"))
    # what the month's length changes is exactly the part billed by the hour
    assert may - average == pytest.approx(hourly * (744 / 730 - 1), abs=0.05)


def test_cost_explorer_forecast_and_actual_cost_over_the_wire(moto_endpoint):  # noqa: F811
    with FakeCostExplorer({"prod": 1532.5, None: 2300.0}) as ce:
        amount, unit = cost_forecast(date(2026, 5, 1), date(2026, 6, 1), "prod", endpoint_url=ce.url)
        assert (amount, unit) == (1532.5, "USD")
        target, body = ce.requests[-1]
        assert target == "AWSInsightsIndexService.GetCostForecast"
        assert body["TimePeriod"] == {"Start": "2026-05-01", "End": "2026-06-01"} and body["Metric"] == "UNBLENDED_COST"
        assert body["Filter"] == {"Tags": {"Key": "Environment", "Values": ["prod"], "MatchOptions": ["EQUALS"]}}
        ce.error = (400, "AccessDeniedException", "User is not authorized to perform: ce:GetCostForecast")
        with pytest.raises(CostExplorerError) as failed:
            cost_forecast(date(2026, 5, 1), date(2026, 6, 1), endpoint_url=ce.url)
        assert "ce:GetCostForecast" in str(failed.value)
    result = {"results": [{"ResultsByTime": [{"TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"},
                                              "Total": {"UnblendedCost": {"Amount": "1401.2", "Unit": "USD"}}, "Groups": [],
                                              "Estimated": False}]}]}
    assert httpx.post(f"{moto_endpoint}/moto-api/static/ce/cost-and-usage-results", json=result).status_code == 201
    assert actual_cost(date(2026, 3, 1), date(2026, 4, 1), "prod", endpoint_url=moto_endpoint) == (1401.2, "USD")


def test_no_credentials_is_one_line_that_says_what_to_set(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with FakeCostExplorer({"prod": 1.0}) as ce, pytest.raises(CostExplorerError, match="no AWS credentials"):
        cost_forecast(date(2026, 5, 1), date(2026, 6, 1), "prod", endpoint_url=ce.url)


def _ctx(settings: Settings, metrics: dict | None = None) -> AgentContext:
    return AgentContext(world=RecordedWorld(WorldRecord(infra={"spec": SPEC}, metrics=metrics or {})), settings=settings)


def test_the_forecast_answer_shows_cost_explorer_beside_the_spec_when_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with FakeCostExplorer({"prod": 1480.0, "staging": 402.25}) as ce:
        settings = Settings(data_dir=tmp_path, cost_explorer=True, cost_explorer_url=ce.url)
        now = datetime(2026, 4, 14, 1, 30, tzinfo=timezone.utc)
        plan = asyncio.run(plan_costs(_ctx(settings), SPEC, ["staging", "prod"], now, True, False, "en"))
        forecast = plan.change.forecast
        assert forecast is not None and forecast.cost_explorer == 1882.25 and len(ce.requests) == 2
        assert "Cost Explorer forecasts $1,882.25" in (plan.change.answer or "")
        off = asyncio.run(plan_costs(_ctx(Settings(data_dir=tmp_path)), SPEC, ["prod"], now, True, False, "ko")).change
        assert off.forecast is not None and off.forecast.cost_explorer is None and "CLOUD_DOCTOR_COST_EXPLORER" in off.forecast.cost_explorer_note
        assert off.answer and off.answer.startswith("다음 달(2026-05, 744시간) 예상 비용")


def _flat(value: float, wiggle: float = 0.0, n: int = 28) -> list[float]:
    return [round(value + wiggle * ((i * 7) % 5 - 2) / 2, 2) for i in range(n)]


def test_right_sizing_suggests_changes_with_their_savings_and_leaves_busy_things_alone():
    metrics = {"eks.cpu": _flat(14, 6), "eks.memory": _flat(35, 5), "rds.cpu": _flat(6, 3),
               "ec2.management.cpu": _flat(1.5, 1), "redis.cpu": _flat(60, 5)}
    found = suggest(SPEC, "prod", metrics, LIMITS)
    by_path = {p: s for s in found for p in s.changes}
    assert by_path["environments.prod.eks.node_count"].changes == {"environments.prod.eks.node_count": 3}
    assert by_path["environments.prod.rds.instance_class"].changes == {"environments.prod.rds.instance_class": "db.r6g.medium"}
    assert "environments.prod.ec2.management.instance_type" in by_path
    assert not any(p.startswith("environments.prod.redis") for p in by_path), "a busy cache was suggested away"
    assert all(s.monthly_saving > 0 for s in found) and [s.id for s in found] == [f"S{i}" for i in range(1, len(found) + 1)]
    assert "average 14.0%" in by_path["environments.prod.eks.node_count"].evidence


def test_right_sizing_needs_enough_points_and_respects_peaks_and_minimums():
    assert suggest(SPEC, "prod", {"eks.cpu": _flat(5, 1, n=10)}, LIMITS) == []  # 10 points say too little
    assert suggest(SPEC, "prod", {"eks.cpu": _flat(20, 1) + [95.0]}, LIMITS) == []  # one real peak
    staging = suggest(SPEC, "staging", {"eks.cpu": _flat(10, 2)}, LIMITS)  # 2 nodes at their minimum of 2: one size smaller
    assert [s.changes for s in staging] == [{"environments.staging.eks.node_instance_type": "t3.medium"}]
    idle = {**SPEC, "environments": {**SPEC["environments"], "staging": {**SPEC["environments"]["staging"],
                                                                         "redis": {"enabled": True, "node_type": "cache.t3.small", "nodes": 1}}}}
    off = suggest(idle, "staging", {"redis.connections": _flat(0.0)}, LIMITS)
    assert [s.changes for s in off] == [{"environments.staging.redis.enabled": False}]


def test_suggestions_read_each_environment_metric_by_the_configured_names(tmp_path):
    points = [[f"2026-04-{d:02d}T00:00:00Z", v] for d, v in zip(range(1, 29), _flat(12, 4))]
    ctx = _ctx(Settings(data_dir=tmp_path), {"shop-staging-eks.node_cpu": points})
    found, missing = asyncio.run(suggestions_for(ctx.world, SPEC, ["dev", "staging"], CONFIG_DIR))
    assert [s.environment for s in found] == ["staging"] and missing == ["dev: no metrics"]
