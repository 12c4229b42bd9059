"""The rollback system: the deployments store (SQLite and PostgreSQL), statistics, and a manual rollback that
goes through the same approval gate as every other change, from the desk and from the CLI."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agents.context import AgentContext
from agents.delivery.clock import ScaledClock
from agents.delivery.desk import deployment_statistics, list_deployments, request_rollback
from agents.delivery.rollout import Release, run_rollout
from agents.delivery.stage import LocalStage
from config.settings import Settings
from graphs.checkpoints import open_checkpointer
from graphs.errors import NotFoundError, UserInputError
from graphs.runner import decide
from graphs.state import ApprovalDecision, UserRef
from tests.cli_helpers import cli
from tests.rollout_stage import stage  # noqa: F401 (fixture)
from tests.postgres_harness import postgres_url  # noqa: F401 (fixture)
from tools.delivery_policy import DeliveryPolicy
from tools.deployment_records import DeploymentRecord, RollbackRecord
from tools.deployments_store import PostgresDeploymentStore, SqliteDeploymentStore, compute_statistics, open_deployment_store
from tools.traffic.loadgen import LoadGenerator
from tools.traffic.local_nginx import fetch
from tools.world import RecordedWorld, WorldRecord

T0 = datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc)
POLICY = DeliveryPolicy.model_validate({
    "canary": {"steps": [50, 100]},
    "analysis": {"interval_seconds": 60, "count": 1, "min_requests": 5, "observe_after_last_step_seconds": 60,
                 # a loaded 2-core machine makes loopback p99s jumpy: these tests judge rollbacks, not 20 % latency drifts
                 "metrics": {"response_time": {"baseline_tolerance_ms": 250}}},
})


def record(n: int, status: str, *, environment: str = "prod", rollbacks: list[RollbackRecord] | None = None) -> DeploymentRecord:
    return DeploymentRecord(id=f"D-{n:03d}", service="api", environment=environment, version=f"v{n + 1}", previous_version=f"v{n}",
                            status=status, stage="promote" if status == "promoted" else "10 %", rollbacks=rollbacks or [],
                            snapshot={"router": "nginx", "data": {}, "summary": "app: v1"}, started_at=T0 + timedelta(minutes=n))


def rolled_back(seconds: float, trigger: str = "automatic", verified: bool = True) -> list[RollbackRecord]:
    return [RollbackRecord(trigger=trigger, reason="error rate", verified=verified, seconds=seconds)]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return SqliteDeploymentStore(tmp_path / "deployments.sqlite")
    url = request.getfixturevalue("postgres_url")
    store = PostgresDeploymentStore(url)
    store._execute("DELETE FROM cloud_doctor_deployments")
    return store


def test_the_store_keeps_records_and_lists_the_newest_first(store):
    for n, status in enumerate(["promoted", "rolled_back", "paused"]):
        store.save(record(n, status, rollbacks=rolled_back(1.5) if status == "rolled_back" else None))
    store.save(record(3, "promoted", environment="staging"))
    again = record(2, "rolled_back", rollbacks=rolled_back(2.5, "manual"))
    store.save(again)  # the same id: updated, not duplicated
    listed = store.list()
    assert [r.id for r in listed] == ["D-003", "D-002", "D-001", "D-000"]
    assert store.get("D-002").status == "rolled_back" and store.get("D-002").rollbacks[0].trigger == "manual"
    assert [r.id for r in store.list(environment="staging")] == ["D-003"]
    assert [r.id for r in store.list(limit=2)] == ["D-003", "D-002"]
    with pytest.raises(NotFoundError, match="cloud-doctor deployments"):
        store.get("D-nope")


def test_statistics_count_rollbacks_success_rate_and_time_to_roll_back():
    records = [record(0, "promoted"), record(1, "promoted"), record(2, "rolled_back", rollbacks=rolled_back(2.0)),
               record(3, "rolled_back", rollbacks=rolled_back(4.0, "manual")),
               record(4, "rollback_failed", rollbacks=rolled_back(9.0, verified=False)), record(5, "running")]
    stats = compute_statistics(records)
    assert (stats.deployments, stats.active, stats.finished) == (6, 1, 5)
    assert (stats.promoted, stats.rolled_back, stats.rollback_failed) == (2, 2, 1)
    assert (stats.rollbacks, stats.automatic_rollbacks, stats.manual_rollbacks, stats.verified_rollbacks) == (3, 2, 1, 2)
    assert stats.success_rate == pytest.approx(2 / 5)
    assert (stats.rollback_seconds_mean, stats.rollback_seconds_median, stats.rollback_seconds_max) == (3.0, 3.0, 4.0)
    assert compute_statistics([]).success_rate is None


def test_the_store_follows_the_checkpoints(tmp_path, postgres_url):
    assert isinstance(open_deployment_store(Settings(data_dir=tmp_path)), SqliteDeploymentStore)
    assert (tmp_path / "deployments.sqlite").exists()
    assert isinstance(open_deployment_store(Settings(data_dir=tmp_path, checkpoint_url=postgres_url)), PostgresDeploymentStore)


# ----------------------------------------------------------- manual rollback


async def promoted_deployment(stage: LocalStage, settings: Settings, environment: str) -> DeploymentRecord:
    candidate = stage.start_version("v2")
    load = LoadGenerator(stage.url, rate_per_s=120, max_seconds=20).start()
    try:
        done = await run_rollout(Release(service="sample", version="v2", previous_version="v1", environment=environment),
                                 stage.router(candidate), stage.provider(candidate), POLICY, clock=ScaledClock(0.01),
                                 store=open_deployment_store(settings))
    finally:
        await load.stop()
    assert done.status == "promoted", done.outcome_detail
    return done


def _decision(name: str, role: str) -> ApprovalDecision:
    return ApprovalDecision(request_id="pending", user=UserRef(id=name, name=name), role=role, approved=True)


async def test_a_prod_rollback_waits_for_the_devops_lead_and_the_cto_then_restores_and_verifies(stage, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False)
    deployment = await promoted_deployment(stage, settings, "prod")
    assert {fetch(stage.url)[1]["x-version"] for _ in range(10)} == {"v2"}

    class Live(RecordedWorld):
        name = "live"  # the rollback acts through the deployment's own router, not through this world

    ctx = AgentContext(world=Live(WorldRecord()), settings=settings)
    async with open_checkpointer(settings) as saver:
        asked = await request_rollback(ctx, saver, deployment.id, reason="checkout errors since v2", user=UserRef(id="alice", name="alice"))
        assert asked.status == "awaiting_approval"
        assert "DevOps lead" in " ".join(r.why for r in asked.pending_approval.still_needed)
        first = await decide(ctx, saver, asked.thread_id, _decision("kim", "devops-lead"))
        assert first.status == "awaiting_approval"
        assert [r.roles for r in first.pending_approval.still_needed] == [["devops-lead", "cto"], ["cto"]]
        with pytest.raises(UserInputError, match="cannot approve this"):
            await decide(ctx, saver, asked.thread_id, _decision("park", "senior"))
        assert {fetch(stage.url)[1]["x-version"] for _ in range(10)} == {"v2"}  # nothing happened yet
        done = await decide(ctx, saver, asked.thread_id, _decision("lee", "cto"))
    assert done.status == "completed", done.notes
    assert {fetch(stage.url)[1]["x-version"] for _ in range(10)} == {"v1"}
    stored = open_deployment_store(settings).get(deployment.id)
    assert stored.status == "rolled_back" and stored.verified
    rollback = stored.rollbacks[-1]
    assert (rollback.trigger, rollback.requested_by, rollback.approved_by) == ("manual", "alice", ["kim", "lee"])
    assert rollback.reason == "checkout errors since v2"
    stats = deployment_statistics(settings)
    assert (stats.manual_rollbacks, stats.rolled_back, stats.verified_rollbacks) == (1, 1, 1)
    listing = list_deployments(settings)
    assert listing.recent[0].id == deployment.id and not listing.active


async def test_a_rollback_cannot_be_asked_twice_or_without_a_reason(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False)
    store = open_deployment_store(settings)
    store.save(record(1, "rolled_back", rollbacks=rolled_back(1.0)))
    store.save(record(2, "running"))
    ctx = AgentContext(world=RecordedWorld(WorldRecord()), settings=settings)
    async with open_checkpointer(settings) as saver:
        with pytest.raises(UserInputError, match="already rolled back"):
            await request_rollback(ctx, saver, "D-001", reason="again", user=UserRef())
        with pytest.raises(UserInputError, match="still running"):
            await request_rollback(ctx, saver, "D-002", reason="stop it", user=UserRef())
        with pytest.raises(UserInputError, match="--reason"):
            await request_rollback(ctx, saver, "D-002", reason="  ", user=UserRef())
        with pytest.raises(NotFoundError):
            await request_rollback(ctx, saver, "D-404", reason="x", user=UserRef())


def test_deployments_and_rollback_from_the_cli(stage, tmp_path):
    """`rollback` asks, `approve` (another process) resolves it, `deployments` shows the result and the statistics."""
    import asyncio
    import json

    data = tmp_path / "data"
    deployment = asyncio.run(promoted_deployment(stage, Settings(data_dir=data), "dev"))
    env = {"CLOUD_DOCTOR_MEMORY_ENABLED": "false"}
    listed = cli("deployments", "--json", data_dir=data, env=env)
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert body["recent"][0]["id"] == deployment.id and body["statistics"]["promoted"] == 1

    no_reason = cli("rollback", deployment.id, data_dir=data, env=env)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    asked = cli("rollback", deployment.id, "--reason", "latency regression", "--as", "alice", "--json", data_dir=data, env=env)
    assert asked.returncode == 0, asked.stderr
    thread = json.loads(asked.stdout)
    assert thread["status"] == "awaiting_approval" and thread["proposals"][0]["kind"] == "rollback"
    self_approval = cli("approve", thread["thread_id"], "--as", "alice", "--role", "developer", data_dir=data, env=env)
    assert self_approval.returncode == 2 and "cannot approve it" in self_approval.stderr
    approved = cli("approve", thread["thread_id"], "--as", "bob", "--role", "developer", "--json", data_dir=data, env=env)
    assert approved.returncode == 0, approved.stderr
    outcome = json.loads(approved.stdout)
    assert outcome["status"] == "completed"
    assert [a["status"] for a in outcome["actions"]] == ["executed"]
    assert {fetch(stage.url)[1]["x-version"] for _ in range(10)} == {"v1"}

    table = cli("deployments", data_dir=data, env=env)
    assert table.returncode == 0 and deployment.id in table.stdout and "rolled_back" in table.stdout
    assert "1 rollbacks (0 automatic, 1 manual, 1 verified)" in table.stdout
    again = cli("rollback", deployment.id, "--reason", "again", data_dir=data, env=env)
    assert again.returncode == 2 and "already rolled back" in again.stderr and "Traceback" not in again.stderr


def test_an_unknown_deployment_is_one_line(tmp_path: Path):
    result = cli("rollback", "D-nope", "--reason", "x", data_dir=tmp_path / "data")
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "no deployment 'D-nope'" in result.stderr
