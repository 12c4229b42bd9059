"""Drift: a refresh-only plan summarised as what changed outside Terraform, and the choice to adopt it or revert it.

The plan JSON is real: tests/fake_terraform/recorded/plan-refresh-only.json was made by Terraform 1.11.4 with the AWS
provider against moto (an RDS instance resized and its backups lengthened with boto3 after the apply); the stand-in
terraform prints it for `plan -refresh-only`. With terraform, the provider mirror and moto on the machine, one test
makes a fresh refresh-only plan the same way and reads it through the same code.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agents.context import AgentContext
from agents.planning.drift import choice_of, plan_drift, read_refresh_plan
from config.settings import CONFIG_DIR, REPO_ROOT, Settings
from tests.moto_server import moto_endpoint  # noqa: F401 (fixture)
from tools.drift import describe_drift, summarize_drift
from tools.tfvars import tfvars_json, tfvars_path
from tools.world import InfraRecord, RecordedWorld, WorldRecord

RECORDED = REPO_ROOT / "tests" / "fake_terraform" / "recorded" / "plan-refresh-only.json"
STAND_IN = REPO_ROOT / "tests" / "fake_terraform" / "terraform"
PLUGINS = Path("/opt/tf-plugins")
SPEC = yaml.safe_load((CONFIG_DIR / "spec.yaml").read_text(encoding="utf-8"))


def test_a_real_refresh_only_plan_reads_as_drift_with_spec_paths_and_no_secrets():
    plan = json.loads(RECORDED.read_text())
    report = summarize_drift(plan, "prod", CONFIG_DIR, "recorded")
    [item] = report.items
    assert item.address == "aws_db_instance.this" and item.action == "update"
    assert {a.name: (a.spec_value, a.actual) for a in item.attributes} == {
        "backup_retention_period": (7, 14), "instance_class": ("db.t3.micro", "db.t3.small")}  # noise left out
    assert report.adoptable == {"environments.prod.rds.backup_retention_days": 14, "environments.prod.rds.instance_class": "db.t3.small"}
    assert "recorded-password-never-shown" in RECORDED.read_text()
    assert "recorded-password-never-shown" not in report.model_dump_json()
    assert describe_drift(report, "ko").startswith("prod에서 Terraform 밖에서 바뀐 것 1건")


def test_sensitive_values_deleted_objects_and_instance_names():
    plan = {"resource_drift": [
        {"address": "aws_db_instance.this", "type": "aws_db_instance", "name": "this", "mode": "managed",
         "change": {"actions": ["update"], "before": {"password": "old-secret-1", "multi_az": False},
                    "after": {"password": "new-secret-2", "multi_az": True},
                    "before_sensitive": {"password": True}, "after_sensitive": {"password": True}}},
        {"address": 'module.ec2[0].aws_instance.this["management-1"]', "type": "aws_instance", "name": "this", "mode": "managed",
         "change": {"actions": ["update"], "before": {"instance_type": "t3.small", "tags": None}, "after": {"instance_type": "t3.medium", "tags": {}}}},
        {"address": "module.redis[0].aws_elasticache_replication_group.this", "type": "aws_elasticache_replication_group",
         "name": "this", "mode": "managed", "change": {"actions": ["delete"], "before": {"node_type": "cache.t3.small"}, "after": None}},
        {"address": "data.aws_region.current", "type": "aws_region", "name": "current", "mode": "data",
         "change": {"actions": ["update"], "before": {"name": "a"}, "after": {"name": "b"}}},
    ]}
    report = summarize_drift(plan, "staging", CONFIG_DIR, "test")
    text = report.model_dump_json()
    assert "old-secret-1" not in text and "new-secret-2" not in text and "(sensitive)" in text
    assert report.adoptable == {"environments.staging.rds.multi_az": True, "environments.staging.ec2.management.instance_type": "t3.medium"}
    assert [i.action for i in report.items] == ["update", "update", "delete"]  # data sources are not drift


def test_adopt_or_revert_is_read_from_the_reply():
    assert choice_of(["스펙에 반영해줘"], CONFIG_DIR) == "adopt" and choice_of(["revert it"], CONFIG_DIR) == "revert"
    assert choice_of(["원래대로 돌려"], CONFIG_DIR) == "revert" and choice_of(["keep it"], CONFIG_DIR) == "adopt"
    assert choice_of(["never mind"], CONFIG_DIR) == "cancel" and choice_of(["hmm"], CONFIG_DIR) is None


def _recorded_ctx(tmp_path: Path, binary: str = "terraform", refresh_plan: dict | None = None) -> AgentContext:
    files = {tfvars_path("prod"): tfvars_json(SPEC, "prod"), "main.tf": 'resource "terraform_data" "x" {}\n'}
    infra = {"spec": SPEC, "terraform_files": files, **({"refresh_plan": refresh_plan} if refresh_plan else {})}
    return AgentContext(world=RecordedWorld(WorldRecord(infra=infra)), settings=Settings(data_dir=tmp_path, terraform_bin=binary))


def test_the_stand_in_terraform_makes_the_refresh_only_plan_through_the_runner(tmp_path):
    ctx = _recorded_ctx(tmp_path, str(STAND_IN))
    plan, source, problem = asyncio.run(read_refresh_plan(ctx, "prod"))
    assert problem is None and plan is not None and source.startswith("terraform plan -refresh-only (plan ")
    report = summarize_drift(plan, "prod", CONFIG_DIR, source)
    assert set(report.adoptable) == {"environments.prod.rds.instance_class", "environments.prod.rds.backup_retention_days"}
    commands = [json.loads(line) for line in ctx.settings.audit_log.read_text().splitlines()]
    ran = [c["command"] for c in commands if c.get("event") == "terraform" and c.get("status") == "executed"]
    assert any(c.startswith("terraform plan") and "-refresh-only" in c for c in ran)
    assert not (tmp_path / "drift").exists() or not any((tmp_path / "drift").iterdir()), "the scratch copy was left behind"


def test_a_recording_without_a_refresh_only_plan_says_so(tmp_path):
    plan, _, problem = asyncio.run(read_refresh_plan(_recorded_ctx(tmp_path), "prod"))
    assert plan is None and problem and "no refresh-only plan" in problem


def test_the_drift_flow_asks_then_adopts_or_proposes_the_revert(tmp_path):
    recorded = json.loads(RECORDED.read_text())
    ctx = _recorded_ctx(tmp_path, refresh_plan=recorded)
    asked, _ = asyncio.run(plan_drift(ctx, SPEC, "prod", "en", []))
    assert asked.change.question and asked.change.choices == ["adopt", "revert"] and "Adopt it into the spec" in asked.change.question
    adopted, proposals = asyncio.run(plan_drift(ctx, SPEC, "prod", "en", ["adopt"]))
    assert proposals == [] and adopted.change.intent == "modify"
    # prod's spec already keeps 14 days: only what differs from the spec is adopted
    assert adopted.change.changes == {"environments.prod.rds.instance_class": "db.t3.small"}
    reverted, [proposal] = asyncio.run(plan_drift(ctx, SPEC, "prod", "ko", ["되돌려줘"]))
    assert reverted.change.changes == {} and reverted.change.drift is not None and reverted.change.drift.choice == "revert"
    assert proposal.kind == "terraform" and proposal.environment == "prod" and proposal.risk == "high"
    assert proposal.files[tfvars_path("prod")] == tfvars_json(SPEC, "prod")  # the spec as it is: the plan puts the cloud back
    assert "instance_class 'db.t3.small' → 'db.t3.micro'" in proposal.description
    left, none = asyncio.run(plan_drift(ctx, SPEC, "prod", "en", ["never mind"]))
    assert none == [] and left.change.answer and "drift stays" in left.change.answer
    clean = _recorded_ctx(tmp_path, refresh_plan={"resource_drift": []})
    nothing, _ = asyncio.run(plan_drift(clean, SPEC, "prod", "en", []))
    assert nothing.change.question is None and "is what the spec says" in (nothing.change.answer or "")


class _LiveWorld:
    """The live side of read_refresh_plan needs only a world that is not a recording."""

    name = "live"

    def infra(self) -> InfraRecord:
        return InfraRecord()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("terraform") is None or not PLUGINS.is_dir(), reason="needs terraform and the provider mirror")
def test_a_real_terraform_refresh_only_plan_against_moto_reads_as_drift(tmp_path, moto_endpoint, monkeypatch):  # noqa: F811
    import boto3

    rc = tmp_path / "terraform.rc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PLUGINS}"\n  }}\n}}\n')
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "CHECKPOINT_DISABLE": "1"}
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    root = tmp_path / "terraform"
    root.mkdir()
    (root / "main.tf").write_text(
        'provider "aws" {\n  region = "ap-northeast-2"\n  access_key = "testing"\n  secret_key = "testing"\n'
        "  skip_credentials_validation = true\n  skip_metadata_api_check = true\n  skip_requesting_account_id = true\n"
        f'  endpoints {{\n    ec2 = "{moto_endpoint}"\n    sts = "{moto_endpoint}"\n  }}\n}}\n\n'
        'resource "aws_instance" "this" {\n  for_each      = toset(["management-1"])\n  ami           = "ami-12c6146b"\n'
        '  instance_type = "t3.small"\n}\n')
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        done = subprocess.run(["terraform", *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ec2 = boto3.client("ec2", region_name="ap-northeast-2", endpoint_url=moto_endpoint)
    instance = ec2.describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])
    ec2.modify_instance_attribute(InstanceId=instance, InstanceType={"Value": "t3.medium"})  # changed outside Terraform
    ec2.start_instances(InstanceIds=[instance])
    settings = Settings(data_dir=tmp_path / "data", terraform_dir=root, terraform_bin=shutil.which("terraform"))
    ctx = AgentContext(world=_LiveWorld(), settings=settings)  # type: ignore[arg-type]
    plan, source, problem = asyncio.run(read_refresh_plan(ctx, "dev"))
    assert problem is None and plan is not None, problem
    report = summarize_drift(plan, "dev", CONFIG_DIR, source)
    assert report.adoptable == {"environments.dev.ec2.management.instance_type": "t3.medium"}
    [item] = report.items
    assert item.address == 'aws_instance.this["management-1"]'
    assert (root / "terraform.tfstate").is_file() and "t3.small" in (root / "terraform.tfstate").read_text(), \
        "a refresh-only plan must not write the state"
