"""The deployer node: applies only what was approved, verifies, and never touches the world in a replay.

Terraform runs through the stand-in (tests/fake_terraform/terraform), whose
state and locks persist in the workspace like the local backend's. Commands
run through the guarded tools on a small local world that really executes
them (a `kill` of a process this test started).
"""

import asyncio
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from agents.context import AgentContext
from agents.deployer import REPLAY_OUTPUT, deployer
from config.settings import Settings
from graphs.state import ApprovalDecision, ApprovalRequest, Proposal, Request, SpecChange, UserRef
from tools.actions import plan_action
from tools.catalogue import ToolCall
from tools.plan_summary import summarize_plan
from tools.terraform_errors import build_unlock_proposal, lock_holder_evidence, parse_lock_info
from tools.terraform_runner import TerraformRunner
from tools.world import CommandResult, RecordedWorld, WorldRecord

HERE = Path(__file__).parent
FAKE = str(HERE / "fake_terraform" / "terraform")
PLANS = HERE / "fake_terraform" / "plans"
MAIN_TF = 'resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n'


class LocalWorld:
    """A live world on this machine: runs argv locally (the guard has judged it already)."""

    name = "live"

    async def run_command(self, host: str, argv: list[str], timeout: float) -> CommandResult:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        return CommandResult(host=host, command=shlex.join(argv), exit_status=proc.returncode, stdout=out.decode(), stderr=err.decode())

    def infra(self):
        return WorldRecord().infra


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    log = tmp_path / "fake-tf.jsonl"
    monkeypatch.setenv("FAKE_TF_LOG", str(log))
    monkeypatch.setenv("FAKE_TF_PLAN", "plan-vpc-create.json")
    monkeypatch.delenv("FAKE_TF_SCENARIO", raising=False)
    return log


def settings_for(tmp_path: Path, binary: str = FAKE) -> Settings:
    return Settings(data_dir=tmp_path / "data", terraform_bin=binary, terraform_dir=tmp_path / "terraform")


def config_for(world, settings: Settings) -> dict:
    return {"configurable": {"ctx": AgentContext(world=world, settings=settings)}}


def recorded_world(**infra) -> RecordedWorld:
    return RecordedWorld(WorldRecord.model_validate({"infra": infra}))


def terraform_proposal(**update) -> Proposal:
    plan = summarize_plan(json.loads((PLANS / "plan-vpc-create.json").read_text()))
    fields = dict(id="P-tf-vpc", kind="terraform", title="create the dev VPC", environment="dev",
                  files={"main.tf": MAIN_TF}, plan=plan, author="terraform_author")
    fields.update(update)
    return Proposal(**fields)


def state_for(proposal: Proposal, *, status="approved", approvers=("alice",), confirmation=None, asked_confirmation=None,
              spec_change=None, request=None) -> dict:
    approval = ApprovalRequest(id=f"A-{proposal.id}", proposal_id=proposal.id, action=proposal.title, reason="test",
                               environment=proposal.environment, confirmation=asked_confirmation)
    decisions = [ApprovalDecision(request_id=approval.id, user=UserRef(id=name, name=name, roles=["sre"]), role="sre",
                                  approved=True, confirmation=confirmation) for name in approvers]
    return {
        "request": request or Request(text="make the change", environment=proposal.environment),
        "proposals": [proposal], "approval_requests": [approval], "decisions": decisions,
        "approval_status": status, "spec_change": spec_change,
    }


def invoked(log: Path) -> list[str]:
    return [json.loads(line)["argv"][0] for line in log.read_text().splitlines()] if log.exists() else []


def statuses(update: dict) -> list[tuple[str, str]]:
    return [(a.action, a.status) for a in update["actions"]]


async def test_applies_the_approved_plan_and_verifies(tmp_path, fake_env):
    settings = settings_for(tmp_path)
    update = await deployer(state_for(terraform_proposal(), approvers=("alice", "bob")), config_for(recorded_world(), settings))
    assert update["deployed"] is True and update["route"] == ["deployer"]
    assert statuses(update) == [
        ("terraform init", "executed"), ("terraform plan -out=tfplan", "executed"),
        ("terraform apply tfplan", "executed"), ("terraform plan -out=verify.tfplan", "executed"),
    ]
    assert "Apply complete! Resources: 1 added" in update["actions"][2].output
    assert "No changes" in update["actions"][3].output
    workspace = settings.data_dir / "workspaces" / "P-tf-vpc"
    assert (workspace / "main.tf").read_text() == MAIN_TF
    audit = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
    apply = next(a for a in audit if a["command"].startswith("terraform apply") and a["status"] == "executed")
    assert apply["approved_by"] == ["alice", "bob"]
    assert "verified: no changes left" in update["notes"][-1].text


async def test_a_root_shared_by_environments_gets_its_var_file_and_backend(tmp_path, fake_env):
    """The layout of terraform/: one root module, envs/<env>.auto.tfvars.json, envs/<env>.backend.hcl."""
    settings = settings_for(tmp_path)
    proposal = terraform_proposal(files={"main.tf": MAIN_TF, "envs/dev.auto.tfvars.json": '{"environment": "dev"}',
                                         "envs/dev.backend.hcl": 'key = "envs/dev/terraform.tfstate"\n'})
    update = await deployer(state_for(proposal), config_for(LocalWorld(), settings))
    assert update["deployed"] is True
    assert update["actions"][0].action == "terraform init -backend-config=envs/dev.backend.hcl -reconfigure"
    assert update["actions"][1].action == "terraform plan -var-file=envs/dev.auto.tfvars.json -out=tfplan"
    plans = [json.loads(line)["argv"] for line in fake_env.read_text().splitlines() if json.loads(line)["argv"][0] == "plan"]
    assert all("-var-file=envs/dev.auto.tfvars.json" in argv for argv in plans) and len(plans) == 2
    assert (settings.terraform_dir / "envs" / "dev.auto.tfvars.json").exists()


async def test_a_changed_plan_is_not_applied_and_needs_approval_again(tmp_path, fake_env, monkeypatch):
    monkeypatch.setenv("FAKE_TF_SCENARIO", "changed-plan")
    update = await deployer(state_for(terraform_proposal()), config_for(recorded_world(), settings_for(tmp_path)))
    assert update["deployed"] is False
    assert ("terraform apply tfplan", "refused") in statuses(update)
    assert "apply" not in invoked(fake_env)
    assert "needs approval again" in update["notes"][-1].text and "aws_vpc.main_drift" in update["notes"][-1].text


async def test_replay_never_runs_terraform(tmp_path, fake_env):
    marker = tmp_path / "ran"
    real_looking = tmp_path / "terraform"
    real_looking.write_text(f"#!/bin/sh\ntouch {marker}\n")  # not the stand-in: must never run in a replay
    real_looking.chmod(0o755)
    update = await deployer(state_for(terraform_proposal()), config_for(recorded_world(), settings_for(tmp_path, str(real_looking))))
    assert update["deployed"] is False
    assert {a.status for a in update["actions"]} == {"skipped"}
    assert all(a.output == REPLAY_OUTPUT for a in update["actions"])
    assert not marker.exists() and not (tmp_path / "data" / "workspaces").exists()


@pytest.mark.parametrize("status", ["pending", "rejected", "blocked", "none"])
async def test_nothing_happens_without_approval(tmp_path, fake_env, status):
    update = await deployer(state_for(terraform_proposal(), status=status), config_for(recorded_world(), settings_for(tmp_path)))
    assert update["deployed"] is False and update["actions"] == [] and invoked(fake_env) == []


async def test_not_required_runs_under_the_policys_name(tmp_path, fake_env):
    settings = settings_for(tmp_path)
    update = await deployer(state_for(terraform_proposal(), status="not_required", approvers=()), config_for(recorded_world(), settings))
    assert update["deployed"] is True
    audit = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
    apply = next(a for a in audit if a["command"].startswith("terraform apply") and a["status"] == "executed")
    assert apply["approved_by"][0].startswith("policy (A-P-tf-vpc")


async def test_destroying_an_environment_needs_its_name_typed_back(tmp_path, fake_env):
    settings = settings_for(tmp_path)
    world = LocalWorld()  # live: the workspace and its state persist between runs
    created = await deployer(state_for(terraform_proposal()), config_for(world, settings))
    assert created["deployed"] is True
    # the author plans the destroy and attaches its summary; the approver must type "dev"
    plan = await TerraformRunner(settings.terraform_dir, settings=settings, lock_timeout="0s").plan("review.tfplan", destroy=True)
    destroy = terraform_proposal(id="P-tf-destroy-dev", title="destroy dev", destructive=True, commands=["terraform destroy"],
                                 plan=plan.summary, files={})
    change = SpecChange(intent="destroy_all", environment="dev")
    refused = await deployer(state_for(destroy, asked_confirmation="dev", confirmation="prod", spec_change=change), config_for(world, settings))
    assert refused["deployed"] is False
    assert statuses(refused) == [("terraform destroy", "refused")]
    assert "type `dev`" in refused["notes"][0].text
    done = await deployer(state_for(destroy, asked_confirmation="dev", confirmation=" dev ", spec_change=change), config_for(world, settings))
    assert done["deployed"] is True
    assert ("terraform plan -destroy -out=tfplan", "executed") in statuses(done)
    assert "1 destroyed" in done["actions"][2].output
    assert json.loads((settings.terraform_dir / "terraform.tfstate").read_text())["resources"] == []


@pytest.mark.parametrize("plan", [None, "summary without a hash"])
async def test_no_approved_plan_hash_no_apply(tmp_path, fake_env, plan):
    """A proposal approved without a plan hash is never applied with a plan made at deploy time."""
    settings = settings_for(tmp_path)
    summary = None if plan is None else summarize_plan(json.loads((PLANS / "plan-vpc-create.json").read_text())).model_copy(
        update={"plan_hash": None})
    for world in (recorded_world(), LocalWorld()):
        update = await deployer(state_for(terraform_proposal(plan=summary), approvers=("alice", "bob")), config_for(world, settings))
        assert update["deployed"] is False
        assert statuses(update) == [("terraform apply tfplan", "refused")]
        assert "no approved plan hash" in update["notes"][-1].text
    assert invoked(fake_env) == []  # not even a plan
    assert not (settings.terraform_dir / "main.tf").exists()  # nothing was written


async def test_a_live_world_needs_its_terraform_directory_configured(tmp_path, fake_env):
    settings = Settings(data_dir=tmp_path / "data", terraform_bin=FAKE)  # no terraform_dir: never the repository's own
    update = await deployer(state_for(terraform_proposal()), config_for(LocalWorld(), settings))
    assert update["deployed"] is False
    assert "set CLOUD_DOCTOR_TERRAFORM_DIR" in update["notes"][-1].text
    assert invoked(fake_env) == []


SPEC_WITH_COMMENTS = """# The shop's infrastructure. Ask platform-team before changing prod.
project: shop
region: ap-northeast-2
owner: platform-team
environments:
  dev:
    eks:
      node_count: 2   # two nodes: enough for the QA run
      node_max: 4
"""


def failing_apply_binary(tmp_path: Path) -> str:
    """The stand-in, except that `apply` fails as a real provider error would."""
    wrapper = tmp_path / "terraform-apply-fails"
    wrapper.write_text(f"#!/bin/sh\n# {'CLOUD_DOCTOR_TERRAFORM_STAND_IN'}\nif [ \"$1\" = apply ]; then\n"
                       "  echo 'Error: creating EC2 VPC: UnauthorizedOperation: You are not authorized' >&2\n  exit 1\nfi\n"
                       f"exec {FAKE} \"$@\"\n")
    wrapper.chmod(0o755)
    return str(wrapper)


def spec_proposal(node_count: int) -> Proposal:
    new_spec = {"project": "shop", "region": "ap-northeast-2", "owner": "platform-team",
                "environments": {"dev": {"eks": {"node_count": node_count, "node_max": 4}}}}
    import yaml

    return terraform_proposal(files={"main.tf": MAIN_TF, "envs/dev.auto.tfvars.json": json.dumps({"node_count": node_count}),
                                     "spec.yaml": yaml.safe_dump(new_spec, sort_keys=False)})


async def test_a_failed_apply_leaves_the_workspace_as_it_was(tmp_path, fake_env):
    settings = Settings(data_dir=tmp_path / "data", terraform_bin=failing_apply_binary(tmp_path), terraform_dir=tmp_path / "terraform")
    root = settings.terraform_dir
    (root / "envs").mkdir(parents=True)
    (root / "spec.yaml").write_text(SPEC_WITH_COMMENTS)
    (root / "envs" / "dev.auto.tfvars.json").write_text('{"node_count": 2}')
    update = await deployer(state_for(spec_proposal(3)), config_for(LocalWorld(), settings))
    assert update["deployed"] is False
    assert ("terraform apply tfplan", "failed") in statuses(update)
    assert "UnauthorizedOperation" in update["notes"][-1].text and "the workspace is as it was" in update["notes"][-1].text
    assert (root / "spec.yaml").read_text() == SPEC_WITH_COMMENTS
    assert (root / "envs" / "dev.auto.tfvars.json").read_text() == '{"node_count": 2}'
    assert not (root / "main.tf").exists()  # a file the proposal added is gone again


async def test_a_refused_changed_plan_also_puts_the_files_back(tmp_path, fake_env, monkeypatch):
    monkeypatch.setenv("FAKE_TF_SCENARIO", "changed-plan")
    settings = settings_for(tmp_path)
    (settings.terraform_dir).mkdir(parents=True)
    (settings.terraform_dir / "spec.yaml").write_text(SPEC_WITH_COMMENTS)
    update = await deployer(state_for(spec_proposal(3)), config_for(LocalWorld(), settings))
    assert update["deployed"] is False and "apply" not in invoked(fake_env)
    assert (settings.terraform_dir / "spec.yaml").read_text() == SPEC_WITH_COMMENTS


async def test_an_applied_spec_keeps_its_comments(tmp_path, fake_env):
    settings = settings_for(tmp_path)
    settings.terraform_dir.mkdir(parents=True)
    (settings.terraform_dir / "spec.yaml").write_text(SPEC_WITH_COMMENTS)
    update = await deployer(state_for(spec_proposal(3)), config_for(LocalWorld(), settings))
    assert update["deployed"] is True
    written = (settings.terraform_dir / "spec.yaml").read_text()
    assert written == SPEC_WITH_COMMENTS.replace("node_count: 2   # two nodes", "node_count: 3   # two nodes")


async def test_proposal_files_cannot_escape_the_workspace(tmp_path, fake_env):
    evil = terraform_proposal(files={"../../outside.tf": "x"})
    update = await deployer(state_for(evil), config_for(recorded_world(), settings_for(tmp_path)))
    assert update["deployed"] is False and not (tmp_path / "outside.tf").exists()
    assert invoked(fake_env) == []


# ------------------------------------------------------------------- unlock


def lock_output(workspace: Path) -> str:
    return subprocess.run([FAKE, "plan", "-no-color"], cwd=workspace, capture_output=True, text=True,
                          env={**os.environ, "FAKE_TF_SCENARIO": "lock"}).stderr


async def test_unlock_runs_only_for_the_approved_lock(tmp_path, fake_env, monkeypatch):
    monkeypatch.setenv("FAKE_TF_SCENARIO", "lock")
    workspace = tmp_path / "envs-dev"
    workspace.mkdir()
    lock = parse_lock_info(lock_output(workspace))
    evidence = lock_holder_evidence(lock, lock.created, None)
    proposal = build_unlock_proposal(lock, str(workspace), evidence).model_copy(update={"environment": "dev"})

    other = proposal.actions[0].model_copy(update={"params": {"lock_id": "00000000-0000-0000-0000-000000000000"}})
    wrong = proposal.model_copy(update={"id": "P-unlock-other", "actions": [other],
                                        "commands": ["terraform force-unlock -force 00000000-0000-0000-0000-000000000000"]})
    refused = await deployer(state_for(wrong), config_for(recorded_world(), settings_for(tmp_path)))
    assert refused["deployed"] is False and "force-unlock" not in invoked(fake_env)
    assert "a new proposal with its own evidence is needed" in refused["notes"][-1].text

    done = await deployer(state_for(proposal), config_for(recorded_world(), settings_for(tmp_path)))
    assert done["deployed"] is True
    assert (proposal.commands[0], "executed") in statuses(done)
    assert invoked(fake_env).count("force-unlock") == 1
    assert not (workspace / ".fake-remote-lock.json").exists()


LOCKED = """Error: Error acquiring the state lock

Lock Info:
  ID:        {id}
  Path:      shop-tfstate/envs/staging/terraform.tfstate
  Operation: OperationTypeApply
  Who:       {who}
  Version:   1.9.8
  Created:   2026-02-23 22:41:07.118221 +0000 UTC
  Info:
"""
HELD = "9a3f1c2e-61b2-4d8a-9a0f-5e2b7c1d9a44"


async def test_a_recorded_unlock_is_checked_against_the_recorded_plans_before_and_after(tmp_path):
    before = LOCKED.format(id=HELD, who="runner@gitlab-runner-7f9c")
    lock = parse_lock_info(before)
    proposal = build_unlock_proposal(lock, "envs/staging", lock_holder_evidence(lock, lock.created, None)).model_copy(
        update={"environment": "staging"})
    settings = settings_for(tmp_path, binary="/opt/terraform/bin/terraform")  # not the stand-in: nothing real runs in replay

    def world(after: str | None) -> RecordedWorld:
        record = {"infra": {"terraform_output": before}}
        if after is not None:
            record["after"] = {"terraform_output": after}
        return RecordedWorld(WorldRecord.model_validate(record))

    released = await deployer(state_for(proposal), config_for(world("No changes. Your infrastructure matches the configuration."), settings))
    assert released["deployed"] is True
    assert any("force_unlock: verification passed" in n.text for n in released["notes"])

    taken = await deployer(state_for(proposal), config_for(world(LOCKED.format(id="11111111-2222-4333-8444-555555555555", who="ci@runner-2")), settings))
    assert taken["deployed"] is False
    assert any("verification failed" in n.text and "ci@runner-2" in n.text for n in taken["notes"])

    unrecorded = await deployer(state_for(proposal), config_for(world(None), settings))  # no after-state: nothing runs
    assert unrecorded["deployed"] is False and (proposal.commands[0], "skipped") in statuses(unrecorded)

    other = proposal.actions[0].model_copy(update={"params": {"lock_id": "00000000-0000-0000-0000-000000000000"}})
    wrong = proposal.model_copy(update={"id": "P-unlock-other", "actions": [other],
                                        "commands": ["terraform force-unlock -force 00000000-0000-0000-0000-000000000000"]})
    refused = await deployer(state_for(wrong), config_for(world("No changes."), settings))
    assert refused["deployed"] is False and "a new proposal with its own evidence is needed" in refused["notes"][-1].text


# ----------------------------------------------------------------- commands


def hosts_world() -> "LocalWorld":
    world = LocalWorld()
    world.hosts_in = lambda group: ["localhost"]  # type: ignore[attr-defined]
    return world


async def test_an_approved_typed_action_runs_its_exact_argv_and_is_verified(tmp_path, fake_env):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        action = plan_action(ToolCall(tool="process.signal", params={"pid": sleeper.pid, "signal": "TERM"}, host="localhost"))
        assert action.argv == ["kill", "-s", "TERM", str(sleeper.pid)]
        proposal = Proposal(id="P-cmd", kind="command", title="stop the runaway process", environment="dev", actions=[action])
        settings = settings_for(tmp_path).model_copy(update={"verify_time_scale": 0.05})
        update = await deployer(state_for(proposal), config_for(hosts_world(), settings))
        assert statuses(update)[0] == (f"kill -s TERM {sleeper.pid}", "executed")
        assert update["actions"][0].verdict == "approve" and update["actions"][0].tool == "process.signal"
        assert sleeper.wait(timeout=5) == -15
        verified = [n.text for n in update["notes"] if "verification" in n.text]
        assert verified and verified[0].startswith("process.signal: verification passed: the process is gone")
        assert update["deployed"] is True
    finally:
        sleeper.kill()


async def test_an_action_whose_argv_was_changed_after_approval_never_runs(tmp_path, fake_env):
    victim = tmp_path / "keep.txt"
    victim.write_text("precious")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        approved = plan_action(ToolCall(tool="process.signal", params={"pid": sleeper.pid}, host="localhost"))
        # the approved hash travels with other parameters (another pid): the rendering no longer hashes to it
        tampered = approved.model_copy(update={"params": {"pid": os.getpid(), "signal": "KILL"}})
        proposal = Proposal(id="P-cmd-bad", kind="command", title="clean up", environment="dev", actions=[tampered])
        update = await deployer(state_for(proposal), config_for(hosts_world(), settings_for(tmp_path)))
        assert update["deployed"] is False
        assert statuses(update) == [(f"kill -s KILL {os.getpid()}", "refused")]
        assert "hash mismatch" in update["actions"][0].output
        assert sleeper.poll() is None and victim.read_text() == "precious"
    finally:
        sleeper.kill()


async def test_a_proposal_without_typed_actions_runs_nothing(tmp_path, fake_env):
    victim = tmp_path / "keep.txt"
    victim.write_text("precious")
    proposal = Proposal(id="P-cmd-text", kind="command", title="clean up", environment="dev",
                        commands=[f"rm -rf {victim}", "systemctl restart api"])
    update = await deployer(state_for(proposal), config_for(hosts_world(), settings_for(tmp_path)))
    assert update["deployed"] is False
    assert [s for _, s in statuses(update)] == ["refused"]
    assert victim.read_text() == "precious"


async def test_a_failed_verification_runs_the_approved_rollback(tmp_path, fake_env):
    class UnitWorld(LocalWorld):
        """systemctl answered by a script: `start` succeeds, `status` says the unit stayed inactive."""

        def __init__(self):
            self.ran: list[list[str]] = []

        async def run_command(self, host, argv, timeout):
            self.ran.append(list(argv))
            if argv[:2] == ["systemctl", "status"]:
                return CommandResult(host=host, command=shlex.join(argv), exit_status=3,
                                     stdout="○ cleanup.timer - session cleanup\n     Loaded: loaded\n     Active: inactive (dead)\n")
            return CommandResult(host=host, command=shlex.join(argv), exit_status=0)

    world = UnitWorld()
    world.hosts_in = lambda group: ["web1"]  # type: ignore[attr-defined]
    action = plan_action(ToolCall(tool="systemd.start_unit", params={"unit": "cleanup.timer"}, host="web1"))
    assert action.rollback_argv == ["systemctl", "stop", "cleanup.timer"]
    proposal = Proposal(id="P-start", kind="command", title="start the cleanup timer", environment="dev", actions=[action])
    settings = settings_for(tmp_path).model_copy(update={"verify_time_scale": 0.0})
    update = await deployer(state_for(proposal), config_for(world, settings))
    assert update["deployed"] is False
    assert ["systemctl", "start", "cleanup.timer"] in world.ran and ["systemctl", "stop", "cleanup.timer"] in world.ran
    assert [a.status for a in update["actions"]] == ["executed", "rolled_back"]
    assert any("verification failed" in n.text for n in update["notes"])
    assert any("ran its approved rollback systemd.stop_unit: done" in n.text for n in update["notes"])


async def test_actions_are_not_run_in_a_replay(tmp_path, fake_env):
    action = plan_action(ToolCall(tool="systemd.restart_unit", params={"unit": "api"}, host="web1"))
    proposal = Proposal(id="P-cmd-replay", kind="command", title="restart", environment="dev", actions=[action])
    world = RecordedWorld(WorldRecord.model_validate({"hosts": {"web1": {"systemctl status api": "active"}}}))
    update = await deployer(state_for(proposal), config_for(world, settings_for(tmp_path)))
    assert statuses(update) == [("systemctl restart api.service", "skipped")]
    assert world.calls == []
