"""LiveWorld against a real sshd, a real moto CloudWatch Logs server and real files on disk."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.moto_server import moto_endpoint  # noqa: F401 (fixture)
from tests.sshd_harness import SshdServer, inventory_for, sshd  # noqa: F401 (fixture)
from tools.audit import AuditLog
from tools.live_world import LiveWorld, LogReadError
from tools.log_sources import LogSourceError
from tools.world import World

pytestmark = pytest.mark.timeout(60)


def app_log(server: SshdServer, name: str, lines: list[str]) -> Path:
    path = server.workdir / name
    path.write_text("".join(f"{line}\n" for line in lines))
    path.chmod(0o644)
    return path


@pytest.mark.sshd
async def test_commands_run_on_inventory_hosts_and_failures_are_results(sshd: SshdServer) -> None:
    world = LiveWorld(inventory_for(sshd, groups={"web": ["web1"]}))
    try:
        assert isinstance(world, World)
        ok = await world.run_command("web1", ["uname"], timeout=10)
        unknown = await world.run_command("web9", ["uname"], timeout=10)
        refused = await world.run_command("web1", ["rm", "-rf", str(sshd.workdir)], timeout=10)
    finally:
        await world.close()
    assert ok.ok and ok.stdout.strip() == "Linux"
    assert not unknown.ok and "not in the inventory" in unknown.error
    assert refused.exit_status == 126 and "forbidden" in refused.error and sshd.workdir.exists()
    assert world.hosts_in("web") == ["web1"] and world.hosts_in("web1") == ["web1"]
    assert world.hosts_in("nope") == [] and world.hosts_in(None) == ["web1"]


@pytest.mark.sshd
async def test_file_logs_are_read_over_ssh_on_the_alerts_host(sshd: SshdServer, tmp_path: Path) -> None:
    log = app_log(sshd, "app.log", [f"2026-03-02T10:00:{i % 60:02d}Z ERROR pool exhausted id={i}" for i in range(2500)])
    audit = AuditLog(tmp_path / "audit.jsonl")
    inventory = inventory_for(sshd, extra_hosts={"web2": {"address": "127.0.0.1", "port": 1}})
    world = LiveWorld(inventory, audit=audit).for_host("web1")
    try:
        lines = await world.read_logs(f"file:{log}")
        with pytest.raises(LogReadError, match="No such file"):
            await world.read_logs(f"file:{sshd.workdir / 'absent.log'}")
        sessions = sshd.log_text().count("Starting session")
        with pytest.raises(LogReadError, match="forbidden to this tool"):  # refused by its type, before any session
            await world.read_logs("file:/etc/shadow")
        assert sshd.log_text().count("Starting session") == sessions
        with pytest.raises(LogReadError, match="no host is known"):
            await LiveWorld(inventory).read_logs(f"file:{log}")
        with pytest.raises(LogSourceError):
            await world.read_logs("syslog:/var/log/messages")
        journal = await world.read_logs("journald:ssh.service")  # no journal in a container: no lines, no error
    finally:
        await world.close()
    assert len(lines) == 2000 and lines[-1].endswith("id=2499")  # the newest 2000 lines
    assert journal == []
    reads = [e for e in audit.read() if e["event"] == "log_read"]
    assert [e["verdict"] for e in reads] == ["allow", "allow", "forbid", "allow"]


async def test_cloudwatch_logs_come_from_the_logs_api(moto_endpoint: str) -> None:  # noqa: F811
    import boto3

    client = boto3.client("logs", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_log_group(logGroupName="/shop/prod/api")
    client.create_log_stream(logGroupName="/shop/prod/api", logStreamName="i-1")
    now = datetime.now(timezone.utc)
    client.put_log_events(logGroupName="/shop/prod/api", logStreamName="i-1", logEvents=[
        {"timestamp": int((now - timedelta(minutes=5 - i)).timestamp() * 1000), "message": f"ERROR timeout {i}"}
        for i in range(3)])
    world = LiveWorld(inventory_for_nothing(), cloudwatch_endpoint=moto_endpoint, region="us-east-1")
    lines = await world.read_logs("cloudwatch:/shop/prod/api", now - timedelta(hours=1), now)
    assert [line.split(" ", 1)[1] for line in lines] == ["ERROR timeout 0", "ERROR timeout 1", "ERROR timeout 2"]


def inventory_for_nothing():
    from tools.inventory import Inventory

    return Inventory(log_sources=["cloudwatch:/shop/prod/api", "journald:nginx.service"])


async def test_metrics_without_a_mapping_are_empty_and_say_why() -> None:
    world = LiveWorld(inventory_for_nothing())
    assert await world.read_metric("api.error_rate") == []
    assert world.notes == ["metric 'api.error_rate' not read: config/metrics.yaml maps no CloudWatch query for its kind"]
    assert world.log_sources() == ["cloudwatch:/shop/prod/api", "journald:nginx.service"]


async def test_metrics_come_from_cloudwatch_as_the_config_maps_them(moto_endpoint) -> None:  # noqa: F811
    import boto3

    from config.settings import CONFIG_DIR
    from tools.cloud_metrics import load_metrics_config

    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    client = boto3.client("cloudwatch", endpoint_url=moto_endpoint, region_name="us-east-1")
    connections = [40, 42, 55, 90, 148, 150]
    client.put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "DatabaseConnections", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "shop-prod-mysql"}],
         "Timestamp": now - timedelta(minutes=30 - 5 * i), "Value": float(v)} for i, v in enumerate(connections)])
    world = LiveWorld(inventory_for_nothing(), cloudwatch_endpoint=moto_endpoint, region="us-east-1",
                      metrics=load_metrics_config(CONFIG_DIR))
    points = await world.read_metric("shop-prod-mysql.connections")
    assert [v for _, v in points] == connections
    assert [t for t, _ in points] == sorted(t for t, _ in points)
    # another instance has no data; an unmapped kind says so; nothing is invented
    assert await world.read_metric("shop-dev-mysql.connections") == []
    assert await world.read_metric("shop-prod-mysql.iops") == []
    assert any("maps no CloudWatch query" in n for n in world.notes)


async def test_an_unreachable_metrics_endpoint_is_a_note_not_a_crash() -> None:
    from tools.cloud_metrics import MetricQuery, MetricsConfig

    port = _free_port()
    config = MetricsConfig(kinds={"connections": MetricQuery(namespace="AWS/RDS", metric="DatabaseConnections",
                                                             dimension="DBInstanceIdentifier", stat="Maximum")})
    world = LiveWorld(inventory_for_nothing(), cloudwatch_endpoint=f"http://127.0.0.1:{port}", region="us-east-1", metrics=config)
    assert await world.read_metric("db1.connections") == []
    assert "cannot reach CloudWatch" in world.notes[-1] or "CloudWatch call failed" in world.notes[-1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_infra_reads_the_terraform_directory(tmp_path: Path) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / ".terraform" / "providers").mkdir(parents=True)
    (tmp_path / "spec.yaml").write_text("project: shop\nenvironments:\n  dev: {region: us-east-1}\n")
    (tmp_path / "main.tf").write_text('module "vpc" { source = "./modules/vpc" }\n')
    (tmp_path / "envs" / "dev.auto.tfvars.json").write_text(json.dumps({"instance_type": "t3.small"}))
    (tmp_path / "envs" / "README.md").write_text("not terraform\n")
    (tmp_path / ".terraform" / "providers" / "cache.tf").write_text("# provider cache, not ours\n")
    infra = LiveWorld(inventory_for_nothing(), terraform_dir=tmp_path).infra()
    assert infra.spec == {"project": "shop", "environments": {"dev": {"region": "us-east-1"}}}
    assert sorted(infra.terraform_files) == ["envs/dev.auto.tfvars.json", "main.tf"]
    assert LiveWorld(inventory_for_nothing(), terraform_dir=tmp_path / "absent").infra().terraform_files == {}


def test_infra_never_defaults_to_the_projects_own_terraform() -> None:
    """A live world's Terraform directory is configured explicitly; the repository's terraform/ is a reference."""
    world = LiveWorld(inventory_for_nothing())
    infra = world.infra()
    assert infra.terraform_files == {} and infra.spec is None
    assert any("CLOUD_DOCTOR_TERRAFORM_DIR" in note for note in world.notes)


def test_repo_reads_text_files_only(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "src" / "db.js").write_text("module.exports = {}\n")
    (tmp_path / "package.json").write_text("{}\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "node_modules" / "x" / "index.js").write_text("x\n")
    assert LiveWorld(inventory_for_nothing(), repo_path=tmp_path).repo() == {
        "package.json": "{}\n", "src/db.js": "module.exports = {}\n"}
    assert LiveWorld(inventory_for_nothing()).repo() == {}


def test_the_code_healer_reads_the_configured_checkout_and_nothing_without_one(tmp_path: Path) -> None:
    import subprocess

    from agents.code_healer import checkout_of_world
    from config.settings import Settings
    from interfaces.context import live_world

    repo = tmp_path / "points"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "db.py").write_text("def get(pool):\n    return pool.getconn()\n")
    for argv in (["git", "init", "-q"], ["git", "add", "."],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"]):
        subprocess.run(argv, cwd=repo, check=True)
    configured = Settings(data_dir=tmp_path / "data", code_repo=repo)
    world = live_world(configured, "dev")
    assert world.repo() == {"app/db.py": "def get(pool):\n    return pool.getconn()\n"}
    checkout = checkout_of_world(world, configured.config_dir)
    assert checkout is not None and checkout.root == repo and len(checkout.commit) == 40
    bare = live_world(Settings(data_dir=tmp_path / "data"), "dev")
    assert bare.repo() == {} and checkout_of_world(bare, configured.config_dir) is None
