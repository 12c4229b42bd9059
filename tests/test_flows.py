"""End to end through the CLI, each step in a new process: ask, stop for approval, resume.

These are the foundation's done-when checks: a thread paused for approval
survives the process that started it (SQLite checkpoints) and resumes from
another; approving as the right roles applies the change (with the stand-in
terraform); a rejection ends with nothing done; prod on a Friday evening is
blocked with the reason.
"""

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import REPO, cli

TUESDAY = "2026-03-03T10:00:00+09:00"
FRIDAY_EVENING = "2026-03-06T19:30:00+09:00"


@pytest.fixture
def workspace(tmp_path):
    """A copy of the reference Terraform project, and the stand-in terraform binary."""
    tf = tmp_path / "terraform"
    shutil.copytree(REPO / "terraform", tf)
    env = {"CLOUD_DOCTOR_TERRAFORM_DIR": str(tf),
           "CLOUD_DOCTOR_TERRAFORM_BIN": str(REPO / "tests" / "fake_terraform" / "terraform"),
           "CLOUD_DOCTOR_MEMORY_ENABLED": "false",
           "FAKE_TF_LOG": str(tmp_path / "terraform-calls.log")}
    return tmp_path / "data", env, tmp_path


def _thread(data: Path, env: dict) -> dict:
    runs = json.loads(cli("runs", "--json", data_dir=data, env=env).stdout)
    assert runs, "no run was recorded"
    return runs[0]


def _audit(data: Path) -> list[dict]:
    return [json.loads(line) for line in (data / "audit.jsonl").read_text().splitlines()]


def test_destroy_prod_waits_for_the_right_approvals_and_resumes_in_new_processes(workspace):
    data, env, tmp = workspace
    asked = cli("ask", "prod 전체 삭제해", "--env", "prod", "--as", "alice", "--role", "developer", "--at", TUESDAY, data_dir=data, env=env)
    assert asked.returncode == 0, asked.stderr
    assert "Waiting for approval" in asked.stdout
    assert "devops-lead or cto" in asked.stdout and "--confirm prod" in asked.stdout
    thread = _thread(data, env)
    assert thread["status"] == "awaiting_approval" and "2 approvals" in thread["waiting_for"]

    # The wrong role is refused with the reason; the run keeps waiting.
    wrong = cli("approve", thread["thread_id"], "--as", "dan", "--role", "developer", "--confirm", "prod", data_dir=data, env=env)
    assert wrong.returncode == 2 and "cannot approve this" in wrong.stderr
    # The right role without typing the environment name is refused too.
    unconfirmed = cli("approve", thread["thread_id"], "--as", "kim", "--role", "devops-lead", data_dir=data, env=env)
    assert unconfirmed.returncode == 2 and "--confirm prod" in unconfirmed.stderr

    first = cli("approve", thread["thread_id"], "--as", "kim", "--role", "devops-lead", "--confirm", "prod", data_dir=data, env=env)
    assert first.returncode == 0, first.stderr
    assert _thread(data, env)["status"] == "awaiting_approval"

    second = cli("approve", thread["thread_id"], "--as", "lee", "--role", "cto", "--confirm", "prod", data_dir=data, env=env)
    assert second.returncode == 0, second.stderr
    final = _thread(data, env)
    assert final["status"] == "completed", second.stdout
    calls = (tmp / "terraform-calls.log").read_text()
    assert "destroy" in calls or "-destroy" in calls
    decisions = [e for e in _audit(data) if e["event"] == "approval_decision"]
    assert [(d["name"], d["role"], d["approved"]) for d in decisions] == [("kim", "devops-lead", True), ("lee", "cto", True)]


def test_rejection_ends_the_run_with_nothing_done(workspace):
    data, env, tmp = workspace
    cli("ask", "staging 전체 내려줘", "--env", "staging", "--as", "alice", "--at", TUESDAY, data_dir=data, env=env)
    thread = _thread(data, env)
    assert thread["status"] == "awaiting_approval"
    rejected = cli("approve", thread["thread_id"], "--as", "kim", "--role", "devops", "--reject", "--reason", "sale week",
                   "--json", data_dir=data, env=env)
    assert rejected.returncode == 0, rejected.stderr
    outcome = json.loads(rejected.stdout)
    assert outcome["status"] == "rejected"
    assert not [a for a in outcome["actions"] if a["status"] == "executed"]
    assert not (tmp / "terraform-calls.log").exists() or "apply" not in (tmp / "terraform-calls.log").read_text()
    # A decided run cannot be approved afterwards.
    late = cli("approve", thread["thread_id"], "--as", "lee", "--role", "cto", data_dir=data, env=env)
    assert late.returncode == 2 and "not waiting for an approval" in late.stderr


def test_small_dev_change_is_planned_costed_and_applied(workspace):
    data, env, tmp = workspace
    result = cli("ask", "EKS 노드 수를 2개로 변경", "--env", "dev", "--at", TUESDAY, "--json", data_dir=data, env=env)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["spec_change"]["changes"] == {"environments.dev.eks.node_count": 2}
    proposal = outcome["proposals"][0]
    assert "node_count" in proposal["diff"] and proposal["cost"]["monthly_after"] < proposal["cost"]["monthly_before"]
    assert outcome["status"] == "completed"
    assert "apply" in (tmp / "terraform-calls.log").read_text()
    report = outcome["report"]["markdown"]
    assert "Proposal" in report and "cost" in report


def test_prod_change_on_friday_evening_is_blocked_with_the_reason(workspace):
    data, env, tmp = workspace
    result = cli("ask", "prod EKS 노드 하나 더 늘려줘", "--env", "prod", "--at", FRIDAY_EVENING, data_dir=data, env=env)
    assert result.returncode == 0, result.stderr
    assert "blocked" in result.stdout and "deployment window" in result.stdout
    assert "Mon 2026-03-09 09:00" in result.stdout
    assert _thread(data, env)["status"] == "blocked"
    assert not (tmp / "terraform-calls.log").exists() or "apply" not in (tmp / "terraform-calls.log").read_text()
