"""Rollouts for real: Debian's nginx on 127.0.0.1 in front of two versions of the sample service.

Traffic comes from the bounded load generator, metrics from scraping the
services' Prometheus endpoints, routing from nginx weighted upstreams. Time
is scaled (a 60 s interval takes 0.6 s); counts, limits and the order of
stages are the policy's. nginx comes from scripts/install_nginx.sh (run by
`make test`); without it these tests skip.
"""

import asyncio

import pytest

from agents.delivery.clock import ScaledClock
from agents.delivery.rollout import Release, run_rollout
from agents.delivery.stage import LocalStage
from tests.rollout_stage import stage  # noqa: F401 (fixture)
from tools.delivery_policy import DeliveryPolicy
from tools.deployments_store import SqliteDeploymentStore
from tools.traffic.base import Share
from tools.traffic.loadgen import LoadGenerator
from tools.traffic.local_nginx import fetch
from tools.traffic.nginx import NginxRouter, NginxRouterConfig

CLOCK = ScaledClock(0.01)
POLICY = DeliveryPolicy.model_validate({
    "canary": {"steps": [20, 100]},
    "blue_green": {"steps": [20, 100], "retire_after_seconds": 60},
    "analysis": {"interval_seconds": 60, "count": 1, "min_requests": 5, "observe_after_last_step_seconds": 60,
                 # a loaded 2-core machine makes loopback p99s jumpy: these tests judge rollbacks, not 20 % latency drifts
                 "metrics": {"response_time": {"baseline_tolerance_ms": 250}}},
})


async def deliver(stage: LocalStage, version: str, *, strategy: str = "canary", store=None, policy=POLICY, **fault):
    candidate = stage.start_version(version, **fault)
    load = LoadGenerator(stage.url, rate_per_s=150, max_seconds=30, max_requests=4500, concurrency=6).start()
    events: list[str] = []
    try:
        record = await run_rollout(Release(service="sample", version=version, previous_version=stage.stable.version,
                                           strategy=strategy),
                                   stage.router(candidate), stage.provider(candidate), policy, clock=CLOCK, store=store,
                                   on_event=events.append)
    finally:
        report = await load.stop()
    return record, report, events, candidate


def versions_answering(stage: LocalStage, n: int = 20) -> set[str]:
    return {fetch(stage.url)[1].get("x-version") for _ in range(n)}


async def test_a_good_version_is_promoted_and_a_faulty_one_rolled_back(stage, tmp_path):
    store = SqliteDeploymentStore(tmp_path / "deployments.sqlite")
    before = stage.nginx.upstream_file.read_text()
    good, load, events, candidate = await deliver(stage, "v2", store=store)
    assert good.status == "promoted" and good.verified, good.outcome_detail
    assert [s.name for s in good.stages] == ["20 %", "100 %", "observe at 100 % for 60 s", "promote"]
    assert all(s.status == "passed" for s in good.stages)
    assert "v1" in load.by_version and "v2" in load.by_version and load.failures == 0
    assert versions_answering(stage) == {"v2"}
    assert stage.nginx.upstream_file.read_text() != before
    stage.promoted(candidate)

    promoted_upstream = stage.nginx.upstream_file.read_text()
    bad, load, events, _ = await deliver(stage, "v3", store=store, error_rate=0.5)
    assert bad.status == "rolled_back" and bad.verified, bad.outcome_detail
    failed = bad.stages[0]
    assert failed.name == "20 %" and failed.status == "failed" and "error_rate" in failed.detail
    rollback = bad.rollbacks[-1]
    assert rollback.trigger == "automatic" and rollback.verified and "answered by v2: 20" in rollback.detail
    assert stage.nginx.upstream_file.read_text() == promoted_upstream  # exactly what the rollout replaced
    assert versions_answering(stage) == {"v2"}
    assert any("rolling back" in e for e in events)
    # the store kept both, with their stages and analysis
    stored = {r.version: r for r in store.list()}
    assert stored["v2"].status == "promoted" and stored["v3"].status == "rolled_back"
    assert stored["v3"].analysis and stored["v3"].analysis[-1].phase == "failed"


# A slow candidate holds the load generator's workers: on a starved machine one round can see too few of its
# requests to judge. A round too thin to judge is allowed (then the next decides); the verdict itself is the point.
PATIENT = POLICY.model_copy(update={"analysis": POLICY.analysis.model_copy(update={"count": 3, "inconclusive_limit": 3})})


async def test_a_slow_version_is_rolled_back_on_response_time(stage):
    record, _, _, _ = await deliver(stage, "v2", latency_ms=600, policy=PATIENT)
    assert record.status == "rolled_back" and record.verified, record.outcome_detail
    failed = [m for run in record.analysis for m in run.measurements if m.metric == "response_time" and m.phase == "failed"]
    assert failed and "> 500 ms" in failed[0].detail
    assert versions_answering(stage) == {"v1"}


async def test_blue_green_deploys_green_first_and_retires_blue_last(stage):
    record, _, _, _ = await deliver(stage, "v2", strategy="blue_green")
    assert record.status == "promoted" and record.verified, record.outcome_detail
    names = [s.name for s in record.stages]
    assert names[0] == "deploy green (v2, no traffic)" and names[-1] == "retire blue"
    green = record.analysis[0]
    assert {m.metric: m.phase for m in green.measurements}["error_rate"] == "skipped"  # no traffic yet
    assert versions_answering(stage) == {"v2"}


async def test_a_candidate_whose_metrics_cannot_be_read_is_never_promoted(stage):
    """A provider error is never a success: v2 answers traffic, but its metrics endpoint is gone."""
    candidate = stage.start_version("v2")
    provider = stage.provider(candidate)
    provider.targets["canary"][0].metrics_url = f"{candidate.url}/no-such-metrics"
    policy = POLICY.model_copy(deep=True)
    policy.analysis.consecutive_error_limit = 1
    load = LoadGenerator(stage.url, rate_per_s=100, max_seconds=20).start()
    try:
        record = await run_rollout(Release(service="sample", version="v2", previous_version="v1"), stage.router(candidate),
                                   provider, policy, clock=CLOCK)
    finally:
        await load.stop()
    assert record.status == "rolled_back" and record.verified
    assert "analysis error" in record.rollbacks[-1].reason and "is not Prometheus text" in record.rollbacks[-1].reason
    assert all(m.phase in ("error", "successful", "skipped") for r in record.analysis for m in r.measurements)


async def test_an_inconclusive_analysis_pauses_for_a_person(stage):
    """Traffic too thin to judge: the rollout stays where it is and waits; nothing is promoted or undone."""
    candidate = stage.start_version("v2")
    policy = POLICY.model_copy(deep=True)
    policy.analysis.min_requests = 10_000
    load = LoadGenerator(stage.url, rate_per_s=50, max_seconds=20).start()
    try:
        record = await run_rollout(Release(service="sample", version="v2", previous_version="v1"), stage.router(candidate),
                                   stage.provider(candidate), policy, clock=CLOCK)
    finally:
        await load.stop()
    assert record.status == "paused" and not record.rollbacks
    assert "inconclusive" in record.outcome_detail and f"cloud-doctor rollback {record.id}" in record.outcome_detail
    assert record.stages[-1].status == "paused"
    assert versions_answering(stage, 40) == {"v1", "v2"}  # still at 20 %


async def test_hosts_mode_says_hosts_not_percent(stage, tmp_path):
    second = stage.start_version("v1b")
    canaries = [stage.start_version("v2"), stage.start_version("v2b")]
    router = NginxRouter(NginxRouterConfig(
        upstream_file=stage.nginx.upstream_file, generation_file=stage.nginx.generation_file, stable_version="v1",
        candidate_version="v2", stable_servers=[stage.stable.address, second.address],
        candidate_servers=[c.address for c in canaries], probe_url=stage.url, mode="hosts", binary=stage.nginx.binary,
        conf=stage.nginx.conf, prefix=stage.nginx.workdir, probes=10))
    snapshot = await router.snapshot()
    share = Share(percent=10, units=1, total=2, label="1 of 2 hosts")
    await router.shift(share)
    text = stage.nginx.upstream_file.read_text()
    assert "1 of 2 hosts" in text and canaries[0].address in text and stage.stable.address not in text
    assert second.address in text and canaries[1].address not in text
    await router.restore(snapshot)
    check = await router.verify_restored(snapshot)
    assert check.verified and stage.nginx.upstream_file.read_text() == snapshot.data["text"]


async def test_a_configuration_nginx_refuses_is_not_loaded_and_the_file_is_put_back(stage):
    candidate = stage.start_version("v2")
    router = stage.router(candidate)
    before = stage.nginx.upstream_file.read_text()
    broken = router.cfg.model_copy(update={"candidate_servers": ["127.0.0.1:not-a-port"]})
    from tools.traffic.base import RouterError

    with pytest.raises(RouterError, match="nginx -t refused"):
        await NginxRouter(broken).shift(Share(percent=20, label="20 %"))
    assert stage.nginx.upstream_file.read_text() == before
    assert versions_answering(stage) == {"v1"}


def test_the_load_generator_only_sends_to_loopback():
    from graphs.errors import UserInputError

    with pytest.raises(UserInputError, match="loopback"):
        LoadGenerator("http://example.com/")
    with pytest.raises(UserInputError, match="loopback"):
        LoadGenerator("http://10.0.0.5:8080/")
    LoadGenerator("http://127.0.0.1:9/")  # accepted (nothing is sent until started)
    LoadGenerator("http://[::1]:9/")


async def test_the_load_generator_stops_at_its_bounds(stage):
    generator = LoadGenerator(stage.url, rate_per_s=1000, max_requests=40, max_seconds=10, concurrency=4).start()
    await asyncio.wait_for(generator._task, timeout=15)
    report = generator.report
    assert report.sent == 40 and report.by_version == {"v1": 40}
    timed = LoadGenerator(stage.url, rate_per_s=20, max_requests=10_000, max_seconds=0.5, concurrency=2).start()
    await asyncio.wait_for(timed._task, timeout=5)
    assert timed.report.sent <= 14 and timed.report.seconds < 1.5
