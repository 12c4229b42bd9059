"""The Terraform author: fix templates on realistic inputs, and the node end to end."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agents.context import AgentContext
from agents.llm import ModelRouter, ModelsConfig, RoleConfig
from agents.terraform_author import terraform_author
from agents.terraform_fixes import FixContext, FixPlan, apply_spec_changes, choose_fix
from agents.terraform_fixes.outputs import find_missing_outputs
from config.settings import Settings
from graphs.state import Alert, Diagnosis, Evidence, Request, SpecChange
from tests.llm_servers import FakeModelServer
from tools.tf_lint import lint_files, parse_hcl, read_terraform_dir
from tools.tf_validate import find_checkov
from tools.tfvars import render_tfvars
from tools.world import RecordedWorld, WorldRecord

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "terraform_fixtures"
REFERENCE = read_terraform_dir(ROOT / "terraform")
SPEC = yaml.safe_load((ROOT / "terraform" / "spec.yaml").read_text())
PLUGINS = Path("/opt/tf-plugins")


def diagnosis(root_cause: str, summary: str = "", **target) -> Diagnosis:
    return Diagnosis(summary=summary or root_cause, root_cause=root_cause, confidence=0.8, fix_kind="terraform", target=target)


def fix(root_cause: str, *, files=None, spec=None, output: str = "", summary: str = "", env: str = "dev",
        evidence: list[Evidence] | None = None, **target) -> FixPlan | None:
    ctx = FixContext(diagnosis=diagnosis(root_cause, summary, **target), environment=env, spec=spec,
                     files=files if files is not None else {}, terraform_output=output, evidence=evidence or [])
    return choose_fix(ctx)


def assert_sound(plan: FixPlan, files: dict[str, str], spec: dict | None = None, env: str = "dev") -> None:
    """The change parses, adds no lint finding, and (for spec changes) renders to tfvars."""
    after = {**files, **plan.file_edits}
    for path in plan.file_edits:
        assert path.endswith(".tf")
        parse_hcl(after[path], path)
    before_findings = {(f.rule, f.address, f.message) for f in lint_files(files)}
    new = [f for f in lint_files(after) if (f.rule, f.address, f.message) not in before_findings]
    assert new == [], [str(f) for f in new]
    if plan.spec_changes:
        render_tfvars(apply_spec_changes(spec, plan.spec_changes), env)
    assert plan.rollback


def changed_lines(before: str, after: str) -> list[str]:
    import difflib

    return [l for l in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if l[:1] in "+-" and not l.startswith(("+++", "---"))]


# ---------------------------------------------------------------- capacity


def test_scale_node_group_through_the_spec():
    plan = fix("capacity_exhausted", files=REFERENCE, spec=SPEC, summary="pods Pending: 0/3 nodes are available: insufficient cpu")
    assert plan.template == "scale_node_group"
    assert plan.spec_changes == {"environments.dev.eks.node_count": 5, "environments.dev.eks.node_max": 5}
    assert plan.file_edits == {}
    assert_sound(plan, REFERENCE, SPEC)


def test_scale_node_group_edits_sizes_written_in_the_code():
    code = ('resource "aws_eks_node_group" "workers" {\n  cluster_name    = aws_eks_cluster.main.name\n'
            '  node_group_name = "${var.name_prefix}-workers"\n  tags            = var.tags\n\n'
            '  scaling_config {\n    desired_size = 2\n    min_size     = 1\n    max_size     = 6\n  }\n}\n')
    plan = fix("capacity_exhausted", files={"eks.tf": code}, desired=4)
    assert changed_lines(code, plan.file_edits["eks.tf"]) == ["-    desired_size = 2", "+    desired_size = 4"]
    assert_sound(plan, {"eks.tf": code})


def test_more_nodes_are_not_proposed_when_the_zone_has_no_capacity():
    output = (FIXTURES / "aws-insufficient-capacity.txt").read_text()
    assert fix("capacity_exhausted", files=REFERENCE, spec=SPEC, output=output) is None


def test_memory_pressure_on_a_named_instance_takes_the_next_size():
    plan = fix("memory_pressure", files=REFERENCE, spec=SPEC, host="shop-dev-management-1")
    assert plan.spec_changes == {"environments.dev.ec2.management.instance_type": "t3.medium"}
    assert_sound(plan, REFERENCE, SPEC)


def test_cpu_credits_exhausted_moves_to_a_steady_type_and_a_runaway_process_does_not():
    plan = fix("cpu_saturation", files=REFERENCE, spec=SPEC, host="shop-dev-management-1",
               summary="CPU steal 38% and CPUCreditBalance 0 on a burstable instance")
    assert plan.spec_changes == {"environments.dev.ec2.management.instance_type": "m5.large"}
    assert_sound(plan, REFERENCE, SPEC)
    steady = copy.deepcopy(SPEC)
    steady["environments"]["dev"]["ec2"]["management"]["instance_type"] = "m5.large"
    assert fix("cpu_saturation", files=REFERENCE, spec=steady, host="shop-dev-management-1") is None


# ---------------------------------------------------------------- database


def test_max_connections_rise_with_the_class_when_memory_requires():
    evidence = [Evidence(id="E1", kind="command", source="db: mysql -e \"SHOW GLOBAL STATUS LIKE 'Threads_connected'\"",
                         summary="threads connected at the limit",
                         excerpt="+-------------------+-------+\n| Variable_name     | Value |\n+-------------------+-------+\n"
                                 "| Threads_connected | 150   |\n+-------------------+-------+")]
    plan = fix("db_connection_exhaustion", files=REFERENCE, spec=SPEC, evidence=evidence,
               summary="Too many connections: Threads_connected 150 of max_connections 150")
    assert plan.template == "raise_max_connections"
    # 150 -> 230 does not fit ~1 GiB of db.t3.micro (at most ~170): one size up.
    assert plan.spec_changes == {"environments.dev.rds.max_connections": 230, "environments.dev.rds.instance_class": "db.t3.small"}
    assert "connection leak" in " ".join(plan.notes)
    assert_sound(plan, REFERENCE, SPEC)
    tfvars = render_tfvars(apply_spec_changes(SPEC, plan.spec_changes), "dev")
    assert tfvars["rds"]["max_connections"] == 230
    # The parameter group in the module is what applies it.
    assert "value        = var.max_connections" in REFERENCE["modules/rds/main.tf"]


def test_max_connections_in_a_literal_parameter_group():
    code = ('resource "aws_db_parameter_group" "main" {\n  name   = "${var.name_prefix}-mysql"\n  family = "mysql8.0"\n'
            '  tags   = var.tags\n\n  parameter {\n    name  = "max_connections"\n    value = "100"\n  }\n}\n')
    plan = fix("db_connection_exhaustion", files={"rds.tf": code})
    assert changed_lines(code, plan.file_edits["rds.tf"]) == ['-    value = "100"', '+    value = "150"']
    assert_sound(plan, {"rds.tf": code})


# -------------------------------------------------------------------- disk


def test_full_disk_grows_to_leave_headroom():
    plan = fix("disk_full", files=REFERENCE, spec=SPEC, host="shop-dev-management-1", use_pct=96)
    # 96 % of 30 GiB is 28.8 GiB used; at most 70 % used needs 41.1 -> 50 GiB (1.5x = 45, rounded up to 10).
    assert plan.spec_changes == {"environments.dev.ec2.management.volume_gb": 50}
    assert "cannot shrink" in plan.rollback
    assert_sound(plan, REFERENCE, SPEC)


def test_io_bound_database_grows_to_the_gp3_iops_threshold():
    plan = fix("disk_io_bottleneck", files=REFERENCE, spec=SPEC, db="shop-dev-mysql",
               spec_paths=["environments.dev.rds.storage_gb"])
    assert plan.spec_changes == {"environments.dev.rds.storage_gb": 400}
    assert_sound(plan, REFERENCE, SPEC)


def test_slow_gp3_volume_gets_more_iops():
    code = ('resource "aws_instance" "batch" {\n  ami           = "ami-0abc"\n  instance_type = "m5.large"\n  tags          = var.tags\n\n'
            '  root_block_device {\n    volume_type = "gp3"\n    volume_size = 100\n    encrypted   = true\n  }\n}\n')
    plan = fix("disk_io_bottleneck", files={"ec2.tf": code}, host="batch")
    assert changed_lines(code, plan.file_edits["ec2.tf"]) == ["+    iops = 6000"]
    assert_sound(plan, {"ec2.tf": code})


# ----------------------------------------------------------------- outputs


def broken_reference() -> dict[str, str]:
    files = dict(REFERENCE)
    files["modules/vpc/outputs.tf"] = re.sub(r'output "private_subnet_ids" \{.*?\n\}\n\n', "", files["modules/vpc/outputs.tf"], flags=re.S)
    assert "private_subnet_ids" not in files["modules/vpc/outputs.tf"]
    return files


def test_missing_output_is_read_from_terraforms_coloured_output():
    output = (FIXTURES / "validate-missing-output.txt").read_text()
    ctx = FixContext(diagnosis=diagnosis("terraform_config_error"), files=broken_reference(), terraform_output=output)
    found = find_missing_outputs(ctx)
    assert {(m.module, m.output) for m in found} == {("vpc", "private_subnet_ids")}
    assert found[0].file == "main.tf"


def test_missing_module_output_is_added_to_the_module(tmp_path):
    files = broken_reference()
    output = (FIXTURES / "validate-missing-output.txt").read_text()
    plan = fix("terraform_config_error", files=files, output=output)
    assert plan.template == "add_module_output"
    assert list(plan.file_edits) == ["modules/vpc/outputs.tf"]
    added = changed_lines(files["modules/vpc/outputs.tf"], plan.file_edits["modules/vpc/outputs.tf"])
    assert '+  value       = aws_subnet.private[*].id' in added
    assert_sound(plan, files)
    if shutil.which("terraform") and PLUGINS.is_dir():  # the fixed project is valid Terraform again
        workdir = tmp_path / "tf"
        for path, text in {**files, **plan.file_edits}.items():
            (workdir / path).parent.mkdir(parents=True, exist_ok=True)
            (workdir / path).write_text(text)
        env = {**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null"}
        subprocess.run(["terraform", "init", "-backend=false", f"-plugin-dir={PLUGINS}", "-input=false"], cwd=workdir, env=env,
                       check=True, capture_output=True)
        proc = subprocess.run(["terraform", "validate", "-no-color"], cwd=workdir, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_an_output_the_module_cannot_back_is_not_invented():
    files = broken_reference()
    output = (FIXTURES / "validate-missing-output.txt").read_text().replace("private_subnet_ids", "flux_capacitor_level")
    assert fix("terraform_config_error", files=files, output=output) is None


# ----------------------------------------------------------------- network


SSH_OPEN = '''resource "aws_security_group" "bastion" {
  name        = "${var.name_prefix}-bastion"
  description = "bastion"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description = "SSH"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
'''


def test_rule_open_to_the_world_is_narrowed_to_the_vpc():
    files = {"modules/bastion/main.tf": SSH_OPEN,
             "modules/bastion/variables.tf": 'variable "vpc_cidr" {\n  type = string\n}\n'}
    plan = fix("network_unreachable", files=files, summary="security group bastion allows SSH from 0.0.0.0/0", port=22)
    assert plan.template == "narrow_security_group"
    assert changed_lines(SSH_OPEN, plan.file_edits["modules/bastion/main.tf"]) == [
        '-    cidr_blocks = ["0.0.0.0/0"]', "+    cidr_blocks = [var.vpc_cidr]"]
    assert_sound(plan, files)
    assert [f for f in lint_files({**files, **plan.file_edits}) if f.rule == "ingress"] == []


def test_missing_rule_is_restored_for_the_clients_network():
    plan = fix("network_unreachable", files=REFERENCE, spec=SPEC, summary="connect timeout to the database from the peered VPC",
               port=3306, source_cidr="10.60.0.0/16")
    assert plan.template == "restore_security_group_rule"
    assert list(plan.file_edits) == ["modules/rds/main.tf"]
    added = changed_lines(REFERENCE["modules/rds/main.tf"], plan.file_edits["modules/rds/main.tf"])
    assert '+    cidr_blocks = ["10.60.0.0/16"]' in added and "+    from_port   = 3306" in added
    assert_sound(plan, REFERENCE, SPEC)


# ------------------------------------------------------------------- names


def test_secret_scheduled_for_deletion_gets_a_suffix_through_the_spec():
    output = ("╷\n│ Error: creating Secrets Manager Secret (shop-dev-app): operation error Secrets Manager: CreateSecret, "
              "https response error StatusCode: 400, RequestID: 1f1e2d3c-aaaa-4bbb-8ccc-123456789abc, InvalidRequestException: "
              "You can't create this secret because a secret with this name is already scheduled for deletion.\n│ \n"
              '│   with module.secrets[0].aws_secretsmanager_secret.app["app"],\n'
              '│   on modules/secrets/main.tf line 58, in resource "aws_secretsmanager_secret" "app":\n'
              '│   58: resource "aws_secretsmanager_secret" "app" {\n│ \n╵\n')
    plan = fix("resource_name_conflict", files=REFERENCE, spec=SPEC, output=output)
    assert plan.template == "rename_conflicting"
    assert plan.spec_changes == {"environments.dev.secrets.name_suffix": "v2"}
    assert "timestamp" not in json.dumps(plan.model_dump())
    assert_sound(plan, REFERENCE, SPEC)


def test_name_conflict_in_code_without_a_suffix_variable_is_versioned_in_the_name():
    files = {"modules/rds/secrets.tf": 'resource "aws_secretsmanager_secret" "master" {\n  name       = "${var.name_prefix}-db-master"\n'
                                      '  kms_key_id = var.kms_key_arn\n  tags       = var.tags\n}\n'}
    output = (FIXTURES / "aws-secret-scheduled-for-deletion.txt").read_text()
    plan = fix("resource_name_conflict", files=files, spec=SPEC, output=output)
    assert changed_lines(files["modules/rds/secrets.tf"], plan.file_edits["modules/rds/secrets.tf"]) == [
        '-  name       = "${var.name_prefix}-db-master"', '+  name       = "${var.name_prefix}-db-master-v2"']
    assert_sound(plan, files)


def test_existing_role_conflict_mentions_import():
    output = (FIXTURES / "aws-role-already-exists.txt").read_text()
    plan = fix("resource_name_conflict", files=REFERENCE, spec=SPEC, output=output)
    edited = plan.file_edits["modules/eks/main.tf"]
    assert '"${var.name_prefix}-eks-node-v2"' in edited
    assert any("terraform import" in n for n in plan.notes)
    assert_sound(plan, REFERENCE, SPEC)


# --------------------------------------------------------------------- iam


IAM = '''data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ReadAppSecret"
    actions   = ["secretsmanager:DescribeSecret"]
    resources = [aws_secretsmanager_secret.app.arn]
  }
}

resource "aws_iam_role" "app" {
  name               = "${var.name_prefix}-app"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "app" {
  name   = "${var.name_prefix}-app"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.app.json
}
'''


def test_missing_permission_is_added_next_to_the_same_service():
    summary = ("AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/shop-dev-app/i-0abc123 is not authorized "
               "to perform: secretsmanager:GetSecretValue on resource: shop-dev-app because no identity-based policy allows it")
    plan = fix("permission_denied", files={"iam.tf": IAM}, spec=SPEC, summary=summary)
    assert plan.template == "grant_iam_action"
    assert changed_lines(IAM, plan.file_edits["iam.tf"]) == [
        '-    actions   = ["secretsmanager:DescribeSecret"]',
        '+    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]']
    assert_sound(plan, {"iam.tf": IAM})


def test_permission_for_a_principal_outside_these_files_is_not_guessed():
    output = (FIXTURES.parent / "fake_terraform" / "samples" / "aws-iam-access-denied.txt")
    text = output.read_text() if output.is_file() else "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:CreateRole"
    assert fix("permission_denied", files={"iam.tf": IAM}, spec=SPEC, output=text) is None


# -------------------------------------------------------------------- node


def context(world: dict, tmp_path: Path, models=None) -> dict:
    ctx = AgentContext(world=RecordedWorld(WorldRecord.model_validate(world)), settings=Settings(data_dir=tmp_path), models=models)
    return {"configurable": {"ctx": ctx}}


def example_world() -> dict:
    path = Path("/work/shared/scenarios/examples/eks-nodes-ko.yaml")
    if path.is_file():
        return yaml.safe_load(path.read_text())["world"]
    spec = copy.deepcopy(SPEC)
    spec["environments"] = {"dev": spec["environments"]["dev"]}
    return {"infra": {"spec": spec}}


async def test_node_turns_a_spec_change_into_a_validated_tfvars_proposal(tmp_path):
    state = {"request": Request(text="개발 환경 EKS 노드 수를 2개로 변경해줘", environment="dev"), "route": ["planner"],
             "spec_change": SpecChange(intent="modify", environment="dev", changes={"environments.dev.eks.node_count": 2})}
    out = await terraform_author(state, context(example_world(), tmp_path))
    assert out["route"] == ["terraform_author"]
    [proposal] = out["proposals"]
    assert proposal.kind == "terraform" and proposal.environment == "dev"
    assert set(proposal.files) == {"envs/dev.auto.tfvars.json", "spec.yaml"}
    assert json.loads(proposal.files["envs/dev.auto.tfvars.json"])["eks"]["node_count"] == 2
    assert yaml.safe_load(proposal.files["spec.yaml"])["environments"]["dev"]["eks"]["node_count"] == 2
    assert '-    "node_count": 3,' in proposal.diff and '+    "node_count": 2,' in proposal.diff
    assert "-      node_count: 3" in proposal.diff
    assert proposal.resource_count == 1 and not proposal.destructive and proposal.risk == "low"
    assert "node_count: 3" in proposal.rollback
    checks = {v.check: v for v in proposal.validation}
    assert {"hcl2", "checkov", "lint:naming", "lint:tags", "lint:timestamp", "lint:ingress"} <= set(checks)
    assert proposal.valid, [v for v in proposal.validation if not v.passed]
    if find_checkov() is not None:
        assert "no new failed check" in checks["checkov"].details
    if proposal.cost is not None:
        assert proposal.cost.monthly_delta < 0  # one node fewer
    again = await terraform_author(state, context(example_world(), tmp_path))
    assert [p.id for p in again["proposals"]] == [proposal.id]  # idempotent: safe to re-run before an interrupt


async def test_node_splits_a_change_of_two_environments_into_one_proposal_each(tmp_path, monkeypatch):
    import tools.tf_validate

    monkeypatch.setattr(tools.tf_validate, "find_checkov", lambda explicit=None: None)  # structure only: keep it fast
    state = {"request": Request(text="x", environment="dev"), "route": ["planner"],
             "spec_change": SpecChange(intent="modify", changes={"environments.dev.eks.node_count": 2,
                                                                  "environments.prod.rds.max_connections": 1500})}
    out = await terraform_author(state, context({"infra": {"spec": SPEC}}, tmp_path))
    by_env = {p.environment: p for p in out["proposals"]}
    assert set(by_env) == {"dev", "prod"}
    dev_spec = yaml.safe_load(by_env["dev"].files["spec.yaml"])["environments"]
    assert dev_spec["dev"]["eks"]["node_count"] == 2 and dev_spec["prod"]["rds"]["max_connections"] == 1000
    assert set(by_env["prod"].files) == {"envs/prod.auto.tfvars.json", "spec.yaml"}
    assert by_env["prod"].risk == "medium" and by_env["prod"].resource_count == 1
    assert "module.rds.aws_db_parameter_group.this: update" in by_env["prod"].plan.resources


async def test_node_destroy_all_is_destructive_and_counts_everything(tmp_path):
    state = {"request": Request(text="dev 전체 인프라 내려줘", environment="dev"), "route": ["planner"],
             "spec_change": SpecChange(intent="destroy_all", environment="dev")}
    [proposal] = (await terraform_author(state, context(example_world(), tmp_path)))["proposals"]
    assert proposal.destructive and proposal.risk == "high"
    assert proposal.resource_count == 47 and proposal.plan.destroy == 47
    assert json.loads(proposal.files["envs/dev.auto.tfvars.json"])["enabled"] is False
    assert "without their data" in proposal.rollback


async def test_node_does_nothing_for_a_query(tmp_path):
    state = {"request": Request(text="dev 노드 몇 개야?", environment="dev"), "route": ["planner"],
             "spec_change": SpecChange(intent="query", environment="dev", answer="3")}
    out = await terraform_author(state, context(example_world(), tmp_path))
    assert out["proposals"] == [] and out["route"] == ["terraform_author"]


async def test_node_refuses_a_path_that_is_not_in_the_spec(tmp_path):
    state = {"request": Request(text="x", environment="dev"), "route": ["planner"],
             "spec_change": SpecChange(intent="modify", environment="dev", changes={"eks.node_count": 2})}
    out = await terraform_author(state, context(example_world(), tmp_path))
    assert out["proposals"] == []
    assert any("eks.node_count is not a path in the infrastructure spec" in n.text for n in out["notes"])


async def test_node_fixes_a_missing_module_output_from_a_diagnosis(tmp_path):
    files = broken_reference()
    world = {"infra": {"terraform_files": files, "terraform_output": (FIXTURES / "validate-missing-output.txt").read_text()}}
    state = {"request": Request(alert=Alert(name="TerraformPlanFailed", summary="plan failed in envs/dev"), environment="dev"),
             "route": ["diagnostician"],
             "diagnosis": diagnosis("terraform_config_error", 'module "vpc" has no output "private_subnet_ids"')}
    out = await terraform_author(state, context(world, tmp_path))
    [proposal] = out["proposals"]
    assert list(proposal.files) == ["modules/vpc/outputs.tf"]
    assert "+output \"private_subnet_ids\" {" in proposal.diff
    assert proposal.resource_count == 0 and proposal.risk == "low"
    assert proposal.valid, [v for v in proposal.validation if not v.passed]


async def test_node_says_plainly_when_no_template_fits(tmp_path):
    state = {"request": Request(text="x", environment="dev"), "route": ["diagnostician"],
             "diagnosis": diagnosis("dns_failure", "api.internal does not resolve")}
    out = await terraform_author(state, context(example_world(), tmp_path))
    assert out["proposals"] == []
    assert any("a person must write this change" in n.text and n.level == "limitation" for n in out["notes"])


# --------------------------------------------------------------- author LLM


@pytest.fixture
def aws_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def author_router(server: FakeModelServer) -> ModelRouter:
    model = "anthropic.claude-sonnet-4-20250514-v1:0"
    config = ModelsConfig(roles={"author": RoleConfig(provider="bedrock", model=model)},
                          providers={"bedrock": {"region": "us-east-1", "endpoint_url": server.url}},
                          prices={model: {"input": 3.0, "output": 15.0}})
    return ModelRouter(config, Settings())


LB_FILES = {"lb.tf": 'resource "aws_lb" "web" {\n  name     = "${var.name_prefix}-web"\n  internal = false\n  tags     = var.tags\n}\n'}


def llm_state() -> dict:
    return {"request": Request(text="x", environment="dev"), "route": ["diagnostician"],
            "diagnosis": diagnosis("dependency_failure", "the load balancer drops idle connections after 60 s", component="lb")}


async def test_author_model_patch_is_validated_and_proposed(tmp_path, aws_keys):
    patched = LB_FILES["lb.tf"].replace("  internal = false\n", "  internal     = false\n  idle_timeout = 300\n")
    with FakeModelServer() as server:
        server.answers.append({"tool": "AuthoredPatch", "args": {
            "summary": "raise the load balancer idle timeout to 300 s", "rationale": "clients keep connections idle for 2 minutes",
            "files": [{"path": "lb.tf", "content": patched}], "risk": "low"}})
        out = await terraform_author(llm_state(), context({"infra": {"terraform_files": LB_FILES}}, tmp_path, author_router(server)))
        prompt = server.bodies()
    [proposal] = out["proposals"]
    assert proposal.author == "terraform_author (author model)" and "+  idle_timeout = 300" in proposal.diff
    assert not any(v.check.startswith("lint:") and not v.passed for v in proposal.validation)
    assert out["usage"]["author"].calls == 1
    assert "idle connections" in prompt  # the diagnosis reached the model
    assert 'resource \\"aws_lb\\" \\"web\\"' in prompt  # and so did the code it may change


async def test_author_model_patch_that_breaks_a_lint_is_rejected(tmp_path, aws_keys):
    bad = LB_FILES["lb.tf"] + ('resource "aws_security_group" "debug" {\n  name = "${var.name_prefix}-debug"\n  tags = var.tags\n'
                               '  ingress {\n    from_port   = 22\n    to_port     = 22\n    protocol    = "tcp"\n'
                               '    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n')
    with FakeModelServer() as server:
        server.answers.append({"tool": "AuthoredPatch", "args": {"summary": "open ssh for debugging", "files": [{"path": "lb.tf", "content": bad}]}})
        out = await terraform_author(llm_state(), context({"infra": {"terraform_files": LB_FILES}}, tmp_path, author_router(server)))
    assert out["proposals"] == []
    assert any("rejected" in n.text and "lint:ingress" in n.text for n in out["notes"])
