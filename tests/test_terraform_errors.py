"""Terraform error output -> taxonomy categories, with the facts a fix needs.

Inputs are real: tests/fake_terraform/recorded/ holds what Terraform 1.11.4
printed on this machine (record.sh re-creates them), in both the boxed,
coloured form and the -no-color form. AWS provider errors cannot be produced
offline; tests/fake_terraform/samples/ holds them composed in the AWS
provider v5 format (see the README there).
"""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from tools.guard import judge_command
from tools.terraform_errors import (
    KnownRun,
    build_unlock_proposal,
    clean_terraform_text,
    lock_holder_evidence,
    parse_go_time,
    parse_terraform_output,
    unlock_target,
)

HERE = Path(__file__).parent
RECORDED = HERE / "fake_terraform" / "recorded"
SAMPLES = HERE / "fake_terraform" / "samples"
REPO = HERE.parent


def read(name: str) -> str:
    base = RECORDED if (RECORDED / name).exists() else SAMPLES
    return (base / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["lock-plan-nocolor.txt", "lock-plan-color.txt", "lock-plan-timeout.txt"])
def test_real_lock_error_is_parsed_in_every_shape(name):
    issues = parse_terraform_output(read(name))
    assert [i.category for i in issues] == ["terraform_state_lock"]
    lock = issues[0].lock
    assert lock.id == "e9c0307c-83f8-28d7-c169-684c44a75c47"
    assert lock.path == "terraform.tfstate"
    assert lock.operation == "OperationTypeApply"
    assert lock.who == "root@vm" and lock.user == "root" and lock.host == "vm"
    assert lock.version == "1.11.4"
    assert lock.created == datetime(2026, 11, 23, 7, 44, 56, 482835, tzinfo=timezone.utc)  # nanoseconds cut to micro
    assert lock.error_message == "resource temporarily unavailable"


def test_colour_and_boxes_are_removed_without_losing_content():
    coloured = read("lock-plan-color.txt")
    assert "\x1b[" in coloured and "│" in coloured
    cleaned = clean_terraform_text(coloured)
    assert "\x1b[" not in cleaned and "│" not in cleaned and "╷" not in cleaned
    assert "  ID:        e9c0307c-83f8-28d7-c169-684c44a75c47" in cleaned


def test_scenario_lock_from_s3_backend_with_ci_holder():
    scenario = yaml.safe_load((REPO / "evals/scenarios/terraform-lock.yaml").read_text(encoding="utf-8"))
    issues = parse_terraform_output(scenario["world"]["infra"]["terraform_output"])
    lock = issues[0].lock
    assert issues[0].category == "terraform_state_lock"
    assert (lock.id, lock.who, lock.version) == ("7bb26e87-0b31-203c-8539-14a5d96fd760", "runner@fv-az1234-567", "1.9.5")
    assert lock.path == "shop-tfstate/envs/dev/terraform.tfstate"
    assert lock.created == datetime(2025, 1, 25, 1, 58, 31, 408230, tzinfo=timezone.utc)
    assert lock.error_message.startswith("ConditionalCheckFailedException")


def test_ci_log_timestamps_do_not_hide_the_lock():
    prefixed = "\n".join(f"2025-01-25T02:10:{i % 60:02d}.1234567Z {line}" for i, line in enumerate(read("lock-plan-color.txt").split("\n")))
    [issue] = parse_terraform_output(prefixed)
    assert issue.lock.id == "e9c0307c-83f8-28d7-c169-684c44a75c47"
    assert issue.lock.created.year == 2026  # the Created field, not the log timestamp


def test_go_time_formats():
    assert parse_go_time("2025-01-25 01:58:31.40823 +0000 UTC") == datetime(2025, 1, 25, 1, 58, 31, 408230, tzinfo=timezone.utc)
    assert parse_go_time("2026-11-23T07:44:56.482835962Z").microsecond == 482835
    assert parse_go_time("2025-01-25 10:58:31 +0900 KST").utcoffset() == timedelta(hours=9)
    assert parse_go_time("not a time") is None


@pytest.mark.parametrize("name", ["cfg-unsupported-attribute.txt", "cfg-unsupported-attribute-color.txt"])
def test_missing_module_output_names_module_output_file_and_line(name):
    [issue] = parse_terraform_output(read(name))
    assert issue.category == "terraform_config_error"
    assert issue.code == "missing_module_output"
    assert issue.name == "private_subnet_ids"
    assert (issue.file, issue.line) == ("main.tf", 9)
    assert issue.summary == 'module "vpc" has no output "private_subnet_ids" (main.tf line 9)'


def test_undeclared_references_and_arguments():
    issues = parse_terraform_output(read("cfg-undeclared.txt"))
    assert [(i.code, i.name, i.line) for i in issues] == [
        ("undeclared_resource", "aws_security_group.eks", 10),
        ("undeclared_module", "module.rds", 11),
    ]
    [var] = parse_terraform_output(read("cfg-undeclared-var.txt"))
    assert (var.category, var.name) == ("terraform_config_error", "var.environment")
    [missing] = parse_terraform_output(read("cfg-multi.txt"))
    assert (missing.code, missing.name, missing.context) == ("missing_argument", "cidr", 'module "vpc"')
    [arg] = parse_terraform_output(read("cfg-unsupported-argument.txt"))
    assert (arg.code, arg.name) == ("unsupported_argument", "instance_type")
    [parse] = parse_terraform_output(read("cfg-parse.txt"))
    assert (parse.category, parse.code) == ("terraform_config_error", "parse_error")


def test_stale_plan_is_recognised_not_misfiled():
    [issue] = parse_terraform_output(read("apply-stale-color.txt"))
    assert issue.code == "stale_plan" and issue.category == "unknown"


@pytest.mark.parametrize("name, category, code, extra", [
    ("aws-permission-denied.txt", "permission_denied", "UnauthorizedOperation", {"action": "ec2:CreateVpc", "address": "aws_vpc.main"}),
    ("aws-iam-access-denied.txt", "permission_denied", "AccessDenied", {"action": "iam:CreateRole", "line": 3}),
    ("aws-secret-scheduled-for-deletion.txt", "resource_name_conflict", "InvalidRequestException", {"name": "shop-dev-db-master"}),
    ("aws-role-already-exists.txt", "resource_name_conflict", "EntityAlreadyExists", {"name": "shop-dev-eks-node"}),
    ("aws-throttling.txt", "rate_limited", "ThrottlingException", {"file": "modules/eks/main.tf"}),
    ("aws-insufficient-capacity.txt", "capacity_exhausted", "InsufficientInstanceCapacity", {"file": "ec2.tf"}),
    ("aws-vpc-limit.txt", "capacity_exhausted", "VpcLimitExceeded", {"address": "aws_vpc.main"}),
])
def test_provider_errors(name, category, code, extra):
    [issue] = parse_terraform_output(read(name))
    assert (issue.category, issue.code) == (category, code)
    for key, value in extra.items():
        assert getattr(issue, key) == value
    assert "scheduled for deletion" in issue.summary if "deletion" in name else True


def test_success_output_has_no_issues():
    for name in ("plan-create.txt", "apply-create.txt", "plan-nochanges.txt", "init.txt", "apply-destroy.txt"):
        assert parse_terraform_output(read(name)) == []


# ------------------------------------------------------------ lock holder


def _scenario_lock():
    scenario = yaml.safe_load((REPO / "evals/scenarios/terraform-lock.yaml").read_text(encoding="utf-8"))
    return parse_terraform_output(scenario["world"]["infra"]["terraform_output"])[0].lock


def test_evidence_states_age_and_admits_what_is_unknown():
    lock = _scenario_lock()
    now = datetime(2025, 1, 25, 11, 12, tzinfo=timezone(timedelta(hours=9)))  # the scenario's `at`
    evidence = lock_holder_evidence(lock, now, None)
    assert evidence.age_text == "13 min"  # 01:58:31 UTC vs 11:12 KST (02:12 UTC)
    assert evidence.older_than_expected is False  # a young lock: a running apply is quite possible
    assert evidence.looks_like_ci is True
    assert evidence.holder_alive is None
    assert any("still running" in u for u in evidence.unknowns)
    assert any("terraform plan" in c for c in evidence.confirm)  # the holder was an apply
    old = lock_holder_evidence(lock, now + timedelta(hours=9), None)
    assert old.age_text == "9 h 13 min" and old.older_than_expected is True


def test_known_runs_decide_whether_the_holder_is_alive():
    lock = _scenario_lock()
    now = lock.created + timedelta(minutes=30)
    running = lock_holder_evidence(lock, now, [KnownRun(who="runner@fv-az1234-567", status="running", source="gha run 88")])
    assert running.holder_alive is True
    ended = lock_holder_evidence(lock, now, [{"who": "runner@fv-az1234-567", "status": "cancelled",
                                              "ended_at": lock.created + timedelta(minutes=5)}])
    assert ended.holder_alive is False and not ended.unknowns
    other = lock_holder_evidence(lock, now, [KnownRun(who="someone@else", status="running")])
    assert other.holder_alive is None


def test_unlock_proposal_is_approve_class_with_evidence_and_never_automatic():
    lock = _scenario_lock()
    evidence = lock_holder_evidence(lock, lock.created + timedelta(hours=9), None)
    proposal = build_unlock_proposal(lock, "envs/dev", evidence)
    assert proposal.kind == "unlock" and proposal.risk == "high"
    assert proposal.commands == ["terraform force-unlock -force 7bb26e87-0b31-203c-8539-14a5d96fd760"]
    assert judge_command(proposal.commands[0]).verdict == "approve"
    assert proposal.valid
    assert "runner@fv-az1234-567" in proposal.description and "Before approving, confirm:" in proposal.description
    assert proposal.rollback
    assert unlock_target(proposal) == ("7bb26e87-0b31-203c-8539-14a5d96fd760", "envs/dev")


def test_unlock_proposal_is_invalid_while_the_holder_runs():
    lock = _scenario_lock()
    alive = lock_holder_evidence(lock, lock.created + timedelta(minutes=3), [KnownRun(who=lock.who, status="running")])
    proposal = build_unlock_proposal(lock, "envs/dev", alive)
    assert not proposal.valid
    assert any(v.check == "lock-holder" and not v.passed for v in proposal.validation)
