"""TerraformRunner and the workspace queue, against the stand-in `terraform` (and the real one when installed).

The stand-in (tests/fake_terraform/terraform) prints what Terraform 1.11.4
prints and locks its state file with fcntl like the local backend, so lock
errors here come from a real second process holding a real lock. It appends
one JSON line per invocation (argv, start, end) to FAKE_TF_LOG, which is how
these tests see what ran and when.
"""

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from config.settings import Settings
from tools.audit import AuditLog
from tools.plan_summary import summarize_plan
from tools.terraform_runner import (
    ApprovalRequiredError,
    CommandRefusedError,
    PlanChangedError,
    StateLockedError,
    TerraformCommandError,
    TerraformError,
    TerraformNotFoundError,
    TerraformRunner,
    TerraformTimeoutError,
    is_stand_in,
)
from tools.workspace_queue import WorkspaceBusyError, WorkspaceQueue

HERE = Path(__file__).parent
FAKE = str(HERE / "fake_terraform" / "terraform")
PLANS = HERE / "fake_terraform" / "plans"


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "data", terraform_bin=FAKE)


@pytest.fixture
def log(tmp_path):
    return tmp_path / "fake-tf.jsonl"


def runner(workdir: Path, settings: Settings, log: Path, **env: str) -> TerraformRunner:
    workdir.mkdir(parents=True, exist_ok=True)
    return TerraformRunner(workdir, settings=settings, lock_timeout="0s", audit=AuditLog(settings.data_dir / "audit.jsonl"),
                           env={"FAKE_TF_LOG": str(log), **env})


def calls(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def subcommands(log: Path) -> list[str]:
    return [c["argv"][0] for c in calls(log)]


def test_stand_in_is_recognised_and_real_binaries_are_not():
    assert is_stand_in(FAKE)
    assert not is_stand_in("/bin/ls")


async def test_plan_summarises_and_hashes_the_saved_plan(tmp_path, settings, log):
    lines: list[str] = []
    tf = runner(tmp_path / "ws", settings, log)
    tf.on_line = lines.append
    await tf.init()
    plan = await tf.plan()
    expected = summarize_plan(json.loads((PLANS / "plan-vpc-create.json").read_text()))
    assert (plan.summary.add, plan.summary.change, plan.summary.destroy) == (1, 0, 0)
    assert plan.plan_hash == expected.plan_hash  # same changes, fresh timestamp: same hash
    assert plan.plan_path == tmp_path / "ws" / "tfplan" and plan.plan_path.exists()
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in lines  # streamed as it ran
    plan_call = calls(log)[1]["argv"]
    assert plan_call[:5] == ["plan", "-input=false", "-no-color", "-lock-timeout=0s", "-out=tfplan"]
    assert calls(log)[2]["argv"] == ["show", "-json", "-no-color", "tfplan"]


async def test_apply_needs_approval_then_applies_and_a_second_plan_is_empty(tmp_path, settings, log):
    tf = runner(tmp_path / "ws", settings, log)
    plan = await tf.plan()
    with pytest.raises(ApprovalRequiredError):
        await tf.apply(plan.plan_path, plan.plan_hash, approved_by=[])
    assert "apply" not in subcommands(log)
    result = await tf.apply(plan.plan_path, plan.plan_hash, approved_by=["alice"])
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in result.output
    verify = await tf.plan("verify.tfplan")
    assert (verify.summary.add, verify.summary.change, verify.summary.destroy) == (0, 0, 0)
    audit = [json.loads(line) for line in (settings.data_dir / "audit.jsonl").read_text().splitlines()]
    applied = [a for a in audit if a["command"].startswith("terraform apply") and a["status"] == "executed"]
    assert applied and applied[0]["approved_by"] == ["alice"]


async def test_a_changed_plan_is_refused_before_apply_runs(tmp_path, settings, log):
    tf = runner(tmp_path / "ws", settings, log)
    approved = await tf.plan()
    tf.env["FAKE_TF_SCENARIO"] = "changed-plan"
    changed = await tf.plan()  # same file name, different changes
    assert changed.plan_hash != approved.plan_hash
    with pytest.raises(PlanChangedError) as info:
        await tf.apply(changed.plan_path, approved.plan_hash, approved_by=["alice"])
    assert info.value.summary.change == 1
    assert "apply" not in subcommands(log)
    # the exact-file hash is accepted too
    tf.env.pop("FAKE_TF_SCENARIO")
    fresh = await tf.plan()
    from tools.plan_summary import plan_hash
    pinned = plan_hash(fresh.plan_json, fresh.plan_path.read_bytes())
    await tf.apply(fresh.plan_path, pinned, approved_by=["alice"])


async def test_a_stale_saved_plan_fails_with_terraforms_own_error(tmp_path, settings, log):
    tf = runner(tmp_path / "ws", settings, log)
    old = await tf.plan("old.tfplan")
    newer = await tf.plan("new.tfplan")
    await tf.apply(newer.plan_path, newer.plan_hash, approved_by=["alice"])
    with pytest.raises(TerraformCommandError) as info:
        await tf.apply(old.plan_path, old.plan_hash, approved_by=["alice"])
    assert [i.code for i in info.value.issues] == ["stale_plan"]


async def test_destroy_applies_only_a_destroy_plan(tmp_path, settings, log):
    tf = runner(tmp_path / "ws", settings, log)
    plan = await tf.plan()
    with pytest.raises(TerraformError, match="not a destroy plan"):
        await tf.destroy(plan.plan_path, plan.plan_hash, approved_by=["alice"])
    await tf.apply(plan.plan_path, plan.plan_hash, approved_by=["alice"])
    gone = await tf.plan("destroy.tfplan", destroy=True)
    assert gone.summary.destroy == 1 and gone.summary.resources == ["aws_vpc.main: destroy"]
    done = await tf.destroy(gone.plan_path, gone.plan_hash, approved_by=["alice"])
    assert "0 added, 0 changed, 1 destroyed" in done.output


async def test_stale_remote_lock_becomes_state_locked_error(tmp_path, settings, log):
    tf = runner(tmp_path / "ws", settings, log, FAKE_TF_SCENARIO="lock")
    with pytest.raises(StateLockedError) as info:
        await tf.plan()
    lock = info.value.lock
    assert (lock.id, lock.who, lock.operation) == ("7bb26e87-0b31-203c-8539-14a5d96fd760", "runner@fv-az1234-567", "OperationTypeApply")
    assert "force-unlock" not in subcommands(log)  # never automatic
    with pytest.raises(ApprovalRequiredError):
        await tf.force_unlock(lock.id, approved_by=[])
    out = await tf.force_unlock(lock.id, approved_by=["alice"])
    assert "Terraform state has been successfully unlocked!" in out.text
    assert (await tf.plan()).summary.add == 1


async def test_a_run_outside_our_queue_holding_the_lock(tmp_path, settings, log):
    """A CI job (another process, not our queue) is applying: we get the real local-backend lock error."""
    work = tmp_path / "ws"
    work.mkdir()
    env = {**os.environ, "FAKE_TF_DELAY": "3", "FAKE_TF_LOG": str(log)}
    holder = subprocess.Popen([FAKE, "apply", "-auto-approve", "-no-color"], cwd=work, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):  # wait until the holder has taken the lock
            if (work / ".terraform.tfstate.lock.info").exists():
                break
            await asyncio.sleep(0.02)
        tf = runner(work, settings, log)
        with pytest.raises(StateLockedError) as info:
            await tf.plan()
        assert info.value.lock.operation == "OperationTypeApply"
        assert info.value.lock.error_message == "resource temporarily unavailable"
        assert info.value.lock.path == "terraform.tfstate"
    finally:
        holder.wait(timeout=10)


async def test_timeout_interrupts_the_process_group(tmp_path, settings, log):
    tf = runner(tmp_path / "ws", settings, log, FAKE_TF_DELAY="30")
    tf.timeout_s, tf.kill_grace_s = 1.0, 3.0
    with pytest.raises(TerraformTimeoutError) as info:
        await tf.plan()
    assert "Interrupt received" in info.value.output
    tf.env.pop("FAKE_TF_DELAY")
    assert (await tf.plan()).summary.add == 1  # the interrupted run released the lock


async def test_a_broken_progress_callback_does_not_strand_terraform(tmp_path, settings, log):
    seen: list[str] = []

    async def flaky(line: str) -> None:
        seen.append(line)
        raise ConnectionError("slack is down")

    tf = runner(tmp_path / "ws", settings, log)
    tf.on_line = flaky
    plan = await tf.plan()
    assert plan.summary.add == 1 and len(seen) == 1


async def test_guard_refuses_before_anything_runs(tmp_path, settings, log):
    tf = runner(tmp_path / "ws", settings, log)
    with pytest.raises(CommandRefusedError, match="-lock"):
        await tf.plan(extra_args=["-lock=false"])
    assert calls(log) == []


async def test_missing_binary_says_what_to_do(tmp_path, settings, log):
    tf = runner(tmp_path / "ws", settings, log)
    tf.binary = "terraform-that-does-not-exist"
    with pytest.raises(TerraformNotFoundError, match="CLOUD_DOCTOR_TERRAFORM_BIN"):
        await tf.version()


async def test_config_error_is_parsed(tmp_path, settings, log):
    tf = runner(tmp_path / "ws", settings, log, FAKE_TF_SCENARIO="config-error")
    with pytest.raises(TerraformCommandError) as info:
        await tf.plan()
    assert 'module "vpc" has no output "private_subnet_ids"' in str(info.value)


# ------------------------------------------------------------------ queue


def spans(log: Path, cwd: Path) -> list[tuple[float, float]]:
    return sorted((c["start"], c["end"]) for c in calls(log) if c["argv"][0] == "plan" and c["cwd"] == str(cwd.resolve()))


async def test_two_plans_on_one_workspace_run_one_after_the_other(tmp_path, settings, log):
    a = runner(tmp_path / "ws", settings, log, FAKE_TF_DELAY="0.6")
    b = runner(tmp_path / "ws", settings, log, FAKE_TF_DELAY="0.6")
    await asyncio.gather(a.plan("a.tfplan"), b.plan("b.tfplan"))  # without the queue the second would hit the state lock
    (s1, e1), (s2, e2) = spans(log, tmp_path / "ws")
    assert e1 <= s2


async def test_plans_on_different_workspaces_run_in_parallel(tmp_path, settings, log):
    a = runner(tmp_path / "dev", settings, log, FAKE_TF_DELAY="1.5")
    b = runner(tmp_path / "prod", settings, log, FAKE_TF_DELAY="1.5")
    await asyncio.gather(a.plan(), b.plan())
    [(s1, e1)] = spans(log, tmp_path / "dev")
    [(s2, e2)] = spans(log, tmp_path / "prod")
    assert s2 < e1 and s1 < e2


async def test_the_file_lock_excludes_another_queue_on_the_same_data_dir(tmp_path):
    """Two queue objects stand for two processes (flock locks belong to the open file, not the process)."""
    first, second = WorkspaceQueue(tmp_path / "locks"), WorkspaceQueue(tmp_path / "locks")
    order: list[str] = []
    entered = asyncio.Event()

    async def hold_first():
        async with first.hold(tmp_path / "ws", "apply"):
            order.append("first in")
            entered.set()
            await asyncio.sleep(0.3)
            order.append("first out")

    async def then_second():
        await entered.wait()
        assert first.holder(tmp_path / "ws")["operation"] == "apply"
        with pytest.raises(WorkspaceBusyError, match="busy"):
            async with second.hold(tmp_path / "ws", "plan", timeout=0.1):
                pass
        async with second.hold(tmp_path / "ws", "plan"):
            order.append("second in")

    await asyncio.gather(hold_first(), then_second())
    assert order == ["first in", "first out", "second in"]
    assert first.holder(tmp_path / "ws") is None


# ---------------------------------------------------------- real terraform

REAL_TF = shutil.which("terraform")
REAL_CONFIG = """
variable "node_count" {
  type    = number
  default = 3
}

resource "terraform_data" "node_group" {
  input = { name = "shop-dev-nodes", desired_size = var.node_count }
}
"""


@pytest.mark.skipif(REAL_TF is None or is_stand_in("terraform"), reason="no real terraform on PATH")
async def test_real_terraform_plan_apply_verify_and_hash_check(tmp_path):
    """The same runner against Terraform itself (terraform_data needs no provider download)."""
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "main.tf").write_text(REAL_CONFIG)
    (tmp_path / "empty.tfrc").write_text("")
    settings = Settings(data_dir=tmp_path / "data", terraform_bin=REAL_TF)
    tf = TerraformRunner(tmp_path / "ws", settings=settings, lock_timeout="0s", timeout_s=120,
                         env={"TF_CLI_CONFIG_FILE": str(tmp_path / "empty.tfrc")})
    await tf.init()
    plan = await tf.plan()
    assert (plan.summary.add, plan.summary.change, plan.summary.destroy) == (1, 0, 0)
    await tf.apply(plan.plan_path, plan.plan_hash, approved_by=["alice"])
    assert not (await tf.plan("verify.tfplan")).summary.resources
    bigger = await tf.plan("bigger.tfplan", extra_args=["-var=node_count=4"])
    assert bigger.summary.resources == ["terraform_data.node_group: update"]
    with pytest.raises(PlanChangedError):
        await tf.apply(bigger.plan_path, plan.plan_hash, approved_by=["alice"])
