"""Rollout analysis as data: Argo Rollouts / Flagger semantics, judged from readings a provider returned.

Pure functions over readings, and the Prometheus text the sample service
really exports, parsed by the scrape provider's own code.
"""

import pytest

from agents.delivery.analysis import AnalysisRun, Baseline, judge_round
from samples.sample_service.server import Metrics
from tools.delivery_policy import AnalysisPolicy, DeliveryPolicy
from tools.policy import default_policy
from tools.rollout_metrics import IntervalReadings, MetricReading, histogram_quantile, parse_prometheus_text
from tools.traffic.base import plan_shares


def readings(*, errors=0, requests=100, p99=40.0, stable_p99=40.0, stable_requests=900, health=1.0, cpu=0.2, memory=0.3,
             error=None, canary_requests=None) -> IntervalReadings:
    n = requests if canary_requests is None else canary_requests
    canary = [
        MetricReading(metric="error_rate", role="canary", value=(errors / n) if n else None, requests=n, error=error),
        MetricReading(metric="response_time", role="canary", value=p99 if n else None, requests=n, error=error),
        MetricReading(metric="health", role="canary", value=health, error=error),
        MetricReading(metric="cpu", role="canary", value=cpu, error=error),
        MetricReading(metric="memory", role="canary", value=memory, error=error),
    ]
    stable = [
        MetricReading(metric="error_rate", role="stable", value=0.0, requests=stable_requests),
        MetricReading(metric="response_time", role="stable", value=stable_p99, requests=stable_requests),
    ]
    return IntervalReadings(readings=canary + stable, seconds=60)


def phases(measurements) -> dict[str, str]:
    return {m.metric: m.phase for m in measurements}


POLICY = default_policy().delivery.analysis


def test_the_shipped_thresholds_are_the_operations_guides():
    delivery = default_policy().delivery
    assert delivery.canary.steps == [10, 50, 100]
    analysis = delivery.analysis
    assert analysis.metrics.error_rate.max == 0.01
    assert analysis.metrics.response_time.max_ms == 500 and analysis.metrics.response_time.max_over_baseline == 0.20
    assert analysis.metrics.health.consecutive_failures == 3
    assert analysis.metrics.cpu.max == analysis.metrics.memory.max == 0.85
    assert analysis.observe_after_last_step_seconds == 300
    infra = delivery.infrastructure_rollback
    assert (infra.health_check.for_seconds, infra.health_check.consecutive) == (300, 3)
    assert (infra.cost.max_ratio_to_baseline, infra.cost.for_seconds) == (2.0, 3600)
    assert (infra.error_rate.max_increase_over_baseline, infra.error_rate.for_seconds) == (0.5, 600)


def test_a_healthy_canary_passes_every_metric():
    assert set(phases(judge_round(readings(), Baseline(), POLICY, candidate_has_traffic=True)).values()) == {"successful"}


def test_error_rate_above_one_percent_fails():
    got = judge_round(readings(errors=2, requests=100), Baseline(), POLICY, candidate_has_traffic=True)
    assert phases(got)["error_rate"] == "failed"
    assert "2.00 % errors > 1.00 %" in next(m for m in got if m.metric == "error_rate").detail
    assert phases(judge_round(readings(errors=1, requests=100), Baseline(), POLICY, candidate_has_traffic=True))["error_rate"] == "successful"


def test_no_data_is_a_failure_and_too_little_is_inconclusive():
    none = judge_round(readings(canary_requests=0), Baseline(), POLICY, candidate_has_traffic=True)
    assert phases(none)["error_rate"] == "failed" and phases(none)["response_time"] == "failed"
    assert "no data" in next(m for m in none if m.metric == "error_rate").detail
    few = judge_round(readings(canary_requests=POLICY.min_requests - 1), Baseline(), POLICY, candidate_has_traffic=True)
    assert phases(few)["error_rate"] == "inconclusive"
    # before the candidate gets traffic (blue-green's green), traffic metrics are skipped, and say so
    idle = judge_round(readings(canary_requests=0), Baseline(), POLICY, candidate_has_traffic=False)
    assert phases(idle)["error_rate"] == "skipped" and phases(idle)["health"] == "successful"


def test_a_provider_error_is_never_a_success():
    got = judge_round(readings(error="scrape of http://127.0.0.1:1/metrics failed: refused"), Baseline(), POLICY,
                      candidate_has_traffic=True)
    assert set(phases(got).values()) == {"error"}


def test_response_time_is_judged_against_the_limit_and_the_stable_baseline():
    slow = judge_round(readings(p99=520.0, stable_p99=480.0), Baseline(), POLICY, candidate_has_traffic=True)
    assert phases(slow)["response_time"] == "failed"
    relative = judge_round(readings(p99=300.0, stable_p99=200.0), Baseline(), POLICY, candidate_has_traffic=True)
    assert phases(relative)["response_time"] == "failed"
    assert "vs 200 ms on stable" in next(m for m in relative if m.metric == "response_time").detail
    # 20 % over a 5 ms baseline is noise: the tolerance (50 ms) keeps it from failing
    noise = judge_round(readings(p99=9.0, stable_p99=5.0), Baseline(), POLICY, candidate_has_traffic=True)
    assert phases(noise)["response_time"] == "successful"


def test_the_baseline_is_the_last_stable_interval_with_enough_traffic():
    baseline = Baseline()
    judge_round(readings(stable_p99=100.0), baseline, POLICY, candidate_has_traffic=True)
    assert baseline.response_time == 100.0
    # at 100 % the stable version gets no traffic: the last baseline stays
    got = judge_round(readings(p99=170.0, stable_p99=0.0, stable_requests=0), baseline, POLICY, candidate_has_traffic=True)
    assert baseline.response_time == 100.0 and phases(got)["response_time"] == "failed"


def test_cpu_and_memory_above_85_percent_fail_and_unmeasurable_ones_are_skipped():
    assert phases(judge_round(readings(cpu=0.9), Baseline(), POLICY, candidate_has_traffic=True))["cpu"] == "failed"
    assert phases(judge_round(readings(memory=0.86), Baseline(), POLICY, candidate_has_traffic=True))["memory"] == "failed"
    unmeasured = readings()
    unmeasured.readings = [r if r.metric != "memory" else r.model_copy(update={"supported": False, "value": None,
                                                                                 "detail": "no limit exported"})
                           for r in unmeasured.readings]
    got = judge_round(unmeasured, Baseline(), POLICY, candidate_has_traffic=True)
    assert phases(got)["memory"] == "skipped" and "no limit exported" in next(m for m in got if m.metric == "memory").detail


def test_analysis_run_failure_limit_and_consecutive_health_failures():
    lenient = POLICY.model_copy(update={"failure_limit": 1})
    run = AnalysisRun(policy=lenient)
    assert run.record(judge_round(readings(errors=5), Baseline(), lenient, candidate_has_traffic=True)) == "running"
    assert run.record(judge_round(readings(errors=5), Baseline(), lenient, candidate_has_traffic=True)) == "failed"
    assert "error_rate: 2 failed measurement(s) > failure_limit 1" in run.reason

    health = AnalysisRun(policy=POLICY)
    for expected in ("running", "running", "failed"):  # 3 failed checks in a row
        assert health.record(judge_round(readings(health=0.0), Baseline(), POLICY, candidate_has_traffic=True)) == expected
    broken = AnalysisRun(policy=POLICY)
    for value in (0.0, 0.0, 1.0, 0.0, 0.0):  # never 3 in a row
        assert broken.record(judge_round(readings(health=value), Baseline(), POLICY, candidate_has_traffic=True)) == "running"


def test_analysis_run_errors_and_inconclusive():
    run = AnalysisRun(policy=POLICY)  # consecutive_error_limit 4: the 5th error in a row ends the analysis
    error = readings(error="timeout")
    results = [run.record(judge_round(error, Baseline(), POLICY, candidate_has_traffic=True)) for _ in range(5)]
    assert results == ["running"] * 4 + ["error"]
    # a success in between resets the count
    run = AnalysisRun(policy=POLICY)
    for r in (error, error, error, error, readings(), error, error):
        assert run.record(judge_round(r, Baseline(), POLICY, candidate_has_traffic=True)) == "running"
    paused = AnalysisRun(policy=POLICY)
    assert paused.record(judge_round(readings(canary_requests=3), Baseline(), POLICY, candidate_has_traffic=True)) == "inconclusive"


def test_histogram_quantile_matches_prometheus():
    buckets = [(0.05, 10.0), (0.1, 50.0), (0.5, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.1 + 0.4 * 49 / 50)
    assert histogram_quantile(0.99, [(0.1, 0.0), (float("inf"), 0.0)]) is None
    assert histogram_quantile(0.99, [(0.1, 1.0), (float("inf"), 10.0)]) == 0.1  # in +Inf: the highest finite bound


def test_the_sample_services_exposition_parses():
    metrics = Metrics()
    for code, seconds in ((200, 0.004), (200, 0.03), (500, 0.3)):
        metrics.observe(code, seconds)
    samples = parse_prometheus_text(metrics.render("v2", 256 * 1024 * 1024))
    codes = {labels["code"]: value for labels, value in samples["http_requests_total"]}
    assert codes == {"200": 2.0, "500": 1.0}
    buckets = {labels["le"]: value for labels, value in samples["http_request_duration_seconds_bucket"]}
    assert buckets["0.005"] == 1.0 and buckets["0.05"] == 2.0 and buckets["+Inf"] == 3.0
    assert samples["process_memory_limit_bytes"][0][1] == 256 * 1024 * 1024


def test_steps_are_said_in_the_routers_unit():
    assert [s.label for s in plan_shares([10, 50, 100], "percent")] == ["10 %", "50 %", "100 %"]
    assert [s.label for s in plan_shares([10, 50, 100], "hosts", 3)] == ["1 of 3 hosts", "2 of 3 hosts", "3 of 3 hosts"]
    assert [s.label for s in plan_shares([10, 50, 100], "pods", 2)] == ["1 of 2 pods", "2 of 2 pods"]  # 10 % and 50 % merge


def test_bad_delivery_settings_are_refused():
    with pytest.raises(ValueError, match="ending at 100"):
        DeliveryPolicy.model_validate({"canary": {"steps": [10, 50]}})
    with pytest.raises(ValueError):
        AnalysisPolicy.model_validate({"count": 0})


# ------------------------------------------------------- infrastructure triggers


def _series(start, minutes_values):
    from datetime import timedelta

    from agents.delivery.triggers import Observation

    return [Observation(at=start + timedelta(minutes=m), value=v) for m, v in minutes_values]


def test_infrastructure_rollback_triggers_follow_the_conventions():
    from datetime import datetime, timezone

    from agents.delivery.triggers import judge_infrastructure

    t0 = datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc)
    triggers = default_policy().delivery.infrastructure_rollback

    def fired(**series):
        kwargs = {"health": [], "cost_ratio": [], "error_rate": [], "baseline_error_rate": 0.02, **series}
        return {v.trigger: v.fired for v in judge_infrastructure(triggers, **kwargs)}

    # health: 3 failed checks in a row, or failing for 5 minutes; a healthy check in between resets
    assert fired(health=_series(t0, [(0, 0.0), (1, 0.0), (2, 0.0)]))["health_check"]
    assert not fired(health=_series(t0, [(0, 0.0), (1, 0.0), (2, 1.0), (3, 0.0)]))["health_check"]
    assert fired(health=_series(t0, [(0, 0.0), (1, None)]))["health_check"] is False  # 2 in a row, 1 minute
    assert fired(health=_series(t0, [(0, 0.0), (1, None), (2, None)]))["health_check"]  # no data counts as failing
    # cost: above 200 % of the baseline for an hour
    assert not fired(cost_ratio=_series(t0, [(0, 2.5), (59, 2.6)]))["cost"]
    assert fired(cost_ratio=_series(t0, [(0, 2.5), (30, 2.6), (60, 2.4)]))["cost"]
    assert not fired(cost_ratio=_series(t0, [(0, 2.5), (30, 1.9), (60, 2.4)]))["cost"]
    # error rate: +50 % over the baseline for 10 minutes (2 % -> above 3 %)
    assert fired(error_rate=_series(t0, [(0, 0.031), (5, 0.04), (10, 0.05)]))["error_rate"]
    assert not fired(error_rate=_series(t0, [(0, 0.029), (5, 0.04), (10, 0.05)]))["error_rate"]
    skipped = judge_infrastructure(triggers, health=[], cost_ratio=[], error_rate=_series(t0, [(0, 0.5)]), baseline_error_rate=None)
    assert "skipped" in next(v for v in skipped if v.trigger == "error_rate").detail
