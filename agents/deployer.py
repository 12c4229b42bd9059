"""The deployer: carries out an approved proposal, and only the approved one.

Terraform: no approved plan hash, no apply. Write the approved files, plan,
check the plan's hash against the plan that was approved (a changed plan is
not applied: it needs approval again), apply that saved plan with the
approvers' names, then plan once more to verify nothing is left to change; a
failed or refused apply puts the written files back. Destroying an environment also needs its
name typed back by an approver. Commands go through the guarded tools; a
state unlock runs only for an approved unlock proposal, and only when the
lock still has the approved ID.

In a recorded world (replay, evals) nothing real runs: every step is recorded
as skipped, unless `terraform_bin` is the test stand-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.context import AgentContext, context_from
from agents.terraform_workspace import (
    WorkspaceBackup, destroy_mode, environment_args, prepare_workspace, runs_terraform,
)
from graphs.errors import ConfigError
from graphs.state import ActionRecord, AgentNote, ApprovalDecision, ApprovalRequest, OpsState, Proposal
from tools.actions import shell_words
from tools.catalogue import ToolCall
from tools.guard import judge_command
from tools.plan_summary import has_changes
from tools.terraform_errors import LockInfo, parse_lock_info, unlock_target
from tools.verification import run_check
from tools.terraform_runner import (
    ApprovalRequiredError,
    CommandRefusedError,
    PlanChangedError,
    StateLockedError,
    TerraformError,
    TerraformRunner,
)

AGENT = "deployer"
REPLAY_OUTPUT = "replay: not executed (recorded world)"


class _Run:
    """What one deployer call did: actions and notes in order."""

    def __init__(self, environment: str):
        self.environment = environment
        self.actions: list[ActionRecord] = []
        self.notes: list[AgentNote] = []

    def act(self, action: str, status: str, output: str = "", *, host: str | None = None, rule: str | None = None) -> None:
        """Record one step; the verdict is the guard's for that command, the rule names who decided (guard or deployer)."""
        verdict = judge_command(action, self.environment)
        self.actions.append(ActionRecord(
            action=action, host=host, verdict=verdict.verdict, rule=rule or verdict.rule,
            status=status, output=output[-2000:], by=AGENT,
        ))

    def note(self, text: str, level: str = "info") -> None:
        self.notes.append(AgentNote(agent=AGENT, text=text, level=level))

    def result(self, deployed: bool) -> dict[str, Any]:
        return {"route": [AGENT], "actions": self.actions, "deployed": deployed, "notes": self.notes}


async def deployer(state: OpsState, config: RunnableConfig) -> dict:
    ctx = context_from(config)
    status = state.get("approval_status") or "none"
    approval = (state.get("approval_requests") or [None])[-1]
    proposal = _approved_proposal(state, approval)
    run = _Run(proposal.environment if proposal else state["request"].environment)
    if status not in ("approved", "not_required"):
        run.note(f"nothing deployed: the approval status is {status}", "warning")
        return run.result(False)
    if proposal is None:
        run.note("nothing deployed: no proposal matches the approval", "warning")
        return run.result(False)
    approvers = _approvers(state, approval, status)
    if not approvers:
        run.note(f"nothing deployed: {proposal.id} is marked approved but no approving decision is recorded", "warning")
        return run.result(False)
    if _needs_confirmation(state, proposal, approval):
        expected = (approval.confirmation if approval and approval.confirmation else proposal.environment)
        if not _confirmed(state, approval, expected):
            action = proposal.commands[0] if proposal.commands else "terraform apply tfplan"
            run.act(action, "refused", f"type the environment name `{expected}` to confirm", rule="deployer: destroy confirmation")
            run.note(f"refused: destroying {proposal.environment} needs an approver to type `{expected}` back; nothing was changed", "warning")
            return run.result(False)
    if proposal.kind == "terraform":
        return await _deploy_terraform(ctx, state, proposal, approvers, run)
    if proposal.kind == "command":
        return await _run_commands(ctx, state, proposal, approvers, run)
    if proposal.kind == "unlock":
        return await _unlock(ctx, proposal, approvers, run)
    if proposal.kind == "code_patch":  # a branch, a commit and a pull request (agents/code_delivery.py)
        from agents.code_delivery import deliver_approved_code_patch

        return await deliver_approved_code_patch(ctx, state, proposal, approvers, run)
    if proposal.kind == "rollback":
        return await _roll_back_deployment(ctx, state, proposal, approvers, run)
    run.note(f"the deployer does not deploy {proposal.kind} proposals yet; {proposal.id} is approved and waits for a person", "limitation")
    return run.result(False)


# ------------------------------------------------------------ approvals


def _approved_proposal(state: OpsState, approval: ApprovalRequest | None) -> Proposal | None:
    proposals = state.get("proposals") or []
    if approval is not None:
        return next((p for p in proposals if p.id == approval.proposal_id), None)
    return proposals[-1] if proposals else None


def _decisions(state: OpsState, approval: ApprovalRequest | None) -> list[ApprovalDecision]:
    decisions = state.get("decisions") or []
    return [d for d in decisions if approval is None or d.request_id == approval.id]


def _approvers(state: OpsState, approval: ApprovalRequest | None, status: str) -> list[str]:
    if status == "not_required":
        return [f"policy ({approval.id if approval else 'no request'}: approval not required)"]
    names: list[str] = []
    for d in _decisions(state, approval):
        if d.approved and d.user.name not in names:
            names.append(d.user.name)
    return names


def _needs_confirmation(state: OpsState, proposal: Proposal, approval: ApprovalRequest | None) -> bool:
    """Destroying an environment needs its name typed back: when the policy asked for it, or the intent says so."""
    if not proposal.destructive:
        return False
    change = state.get("spec_change")
    return approval is None or approval.confirmation is not None or (change is not None and change.intent == "destroy_all")


def _confirmed(state: OpsState, approval: ApprovalRequest | None, expected: str) -> bool:
    return any(d.approved and (d.confirmation or "").strip() == expected for d in _decisions(state, approval))


# ------------------------------------------------------------- terraform


def _runs_terraform(ctx: AgentContext) -> bool:
    return runs_terraform(ctx)


def _prepare_workspace(ctx: AgentContext, proposal: Proposal) -> tuple[Path, WorkspaceBackup]:
    """Write the approved files (agents/terraform_workspace.py); the backup puts them back if the apply fails."""
    return prepare_workspace(ctx, proposal)


def _environment_args(workdir: Path, environment: str) -> tuple[list[str], list[str]]:
    return environment_args(workdir, environment)


def _restored(backup: WorkspaceBackup | None) -> str:
    if backup is None or not backup.originals:
        return ""
    count = backup.restore()
    return f"; the workspace is as it was ({count} file(s) written for the proposal restored)"


async def _deploy_terraform(ctx: AgentContext, state: OpsState, proposal: Proposal, approvers: list[str], run: _Run) -> dict:
    destroy = destroy_mode(proposal)
    approved_hash = proposal.plan.plan_hash if proposal.plan else None
    if not _runs_terraform(ctx):
        for step in ("terraform init", f"terraform plan{' -destroy' if destroy else ''} -out=tfplan", "terraform apply tfplan"):
            run.act(step, "skipped", REPLAY_OUTPUT)
        run.note(f"replay: {proposal.id} was not applied (recorded world); a live run would plan, check the plan hash"
                 f"{' ' + approved_hash[:12] if approved_hash else ''}, apply with approvals from {', '.join(approvers)} and verify")
        return run.result(False)
    if not approved_hash:  # no approved plan, no apply: nothing is written, planned or applied
        run.act("terraform apply tfplan", "refused", f"no plan hash was approved with {proposal.id}", rule="deployer: approved plan hash")
        run.note(f"not applied: {proposal.id} carries no approved plan hash. A Terraform change is applied only as the plan "
                 "its approvers saw; ask again so that the plan is made and approved first. Nothing was changed.", "warning")
        return run.result(False)
    backup: WorkspaceBackup | None = None
    try:
        workdir, backup = _prepare_workspace(ctx, proposal)
    except (ValueError, OSError, ConfigError) as exc:
        run.act("terraform apply tfplan", "refused", str(exc), rule="deployer: workspace")
        run.note(str(exc) + _restored(backup), "warning")
        return run.result(False)
    runner = TerraformRunner(workdir, binary=ctx.settings.terraform_bin, environment=proposal.environment, audit=ctx.audit,
                             settings=ctx.settings)
    init_args, plan_args = _environment_args(workdir, proposal.environment)
    step = " ".join(["terraform init", *init_args])
    try:
        out = await runner.init(init_args)
        run.act(step, "executed", out.text)
        step = " ".join(["terraform plan", *(["-destroy"] if destroy else []), *plan_args, "-out=tfplan"])
        plan = await runner.plan("tfplan", destroy=destroy, extra_args=plan_args)
        run.act(step, "executed", plan.summary.text)
        step = "terraform apply tfplan"
        if plan.plan_hash != approved_hash:
            run.act(step, "refused", f"plan changed since approval: approved {approved_hash[:12]}, now {plan.plan_hash[:12]}",
                    rule="deployer: approved plan hash")
            run.note(f"not applied: the plan made now differs from the approved plan (approved {approved_hash[:12]}, now "
                     f"{plan.plan_hash[:12]}); the new plan needs approval again{_restored(backup)}:\n{plan.summary.text}", "warning")
            return run.result(False)
        if not has_changes(plan.summary):
            run.act(step, "skipped", "no changes to apply")
            run.note("nothing to apply: the plan shows no changes; the infrastructure already matches")
            return run.result(True)
        applied = await (runner.destroy if destroy else runner.apply)(plan.plan_path, plan.plan_hash, approved_by=approvers)
        run.act(step, "executed", applied.output)
        step = " ".join(["terraform plan", *(["-destroy"] if destroy else []), *plan_args, "-out=verify.tfplan"])
        verify = await runner.plan("verify.tfplan", destroy=destroy, extra_args=plan_args)
        if has_changes(verify.summary):
            run.act(step, "failed", verify.summary.text)
            run.note(f"applied, but verification failed: a new plan still shows changes:\n{verify.summary.text}", "warning")
            return run.result(True)
        run.act(step, "executed", verify.summary.text)
        run.note(f"applied {proposal.id} (plan {plan.plan_hash[:12]}: {plan.summary.add} added, {plan.summary.change} changed, "
                 f"{plan.summary.destroy} destroyed) with approval of {', '.join(approvers)}; verified: no changes left")
        return run.result(True)
    except StateLockedError as exc:
        lock = exc.lock
        run.act(step, "failed", exc.output)
        run.note(f"{step} stopped: the state is locked by {lock.who} ({lock.operation}, lock {lock.id}, created "
                 f"{lock.created.isoformat() if lock.created else 'unknown'}); nothing was applied{_restored(backup)}. If that "
                 "run is gone, an unlock proposal with evidence about the holder needs approval.", "warning")
    except PlanChangedError as exc:
        run.act(step, "refused", str(exc), rule="deployer: approved plan hash")
        run.note(f"not applied: {exc}{_restored(backup)}", "warning")
    except (ApprovalRequiredError, CommandRefusedError) as exc:
        run.act(step, "refused", str(exc))
        run.note(f"refused: {exc}{_restored(backup)}", "warning")
    except TerraformError as exc:
        run.act(step, "failed", getattr(exc, "output", "") or str(exc))
        run.note(f"{step} failed: {exc}{_restored(backup)}", "warning")
    return run.result(False)


# -------------------------------------------------------------- commands


def _target_host(state: OpsState) -> str:
    diagnosis = state.get("diagnosis")
    request = state["request"]
    host = diagnosis.target.get("host") if diagnosis else None
    if not host and request.alert is not None:
        host = request.alert.labels.get("host")
    return host or "localhost"


async def _run_commands(ctx: AgentContext, state: OpsState, proposal: Proposal, approvers: list[str], run: _Run) -> dict:
    """Run the proposal's typed actions, each only as its approved argv, then its verification; a failed
    verification runs the action's approved rollback and says so."""
    if not proposal.actions:
        run.act("; ".join(proposal.commands) or proposal.title, "refused", "the proposal carries no typed actions", rule="deployer: typed actions")
        run.note(f"nothing run: {proposal.id} names no catalogue actions, and only typed, approved argv runs", "warning")
        return run.result(False)
    if ctx.world.name == "recorded" and not getattr(ctx.world, "answers_actions", False):
        for action in proposal.actions:
            run.actions.append(ActionRecord(action=shell_words(action.argv), host=action.host, verdict="approve", rule=f"config/tools: {action.tool}",
                                            status="skipped", output=REPLAY_OUTPUT, by=AGENT, tool=action.tool, params=action.params,
                                            argv=action.argv))
            if action.verification:
                run.note(f"replay: {action.tool} not run; a live run would verify: {action.verification}")
        run.note(f"replay: {len(proposal.actions)} approved action(s) were not executed (recorded world)")
        return run.result(False)
    tools = ctx.tools(AGENT, proposal.environment)
    catalogue = tools.catalogue
    # a recorded world answers from its after-state at once: waiting before a verification read there changes nothing
    scale = 0.0 if ctx.world.name == "recorded" else float(getattr(ctx.settings, "verify_time_scale", 1.0))
    for action in proposal.actions:
        spec = catalogue.get(action.tool)
        if spec.precondition is not None:  # the world may have changed since the approval
            before = await run_check(tools, spec.precondition, action.params, action.host, time_scale=0.0)
            run.note(f"{action.tool}: precondition {before.line()}", "info" if before.passed else "warning")
            if before.outcome == "failed":
                run.note(f"{action.tool} was not run: its precondition no longer holds; the remaining action(s) were not run", "warning")
                return run.result(False)
        if action.capture_tool:
            kept = await tools.call(ToolCall(tool=action.capture_tool, params=action.capture_params, host=action.host))
            text = (kept.result.stdout if kept.result is not None else kept.action.output) or ""
            run.note(f"{action.tool}: kept before running it — {action.capture_tool}: {text.strip()[:600] or 'nothing read'}")
        call = ToolCall(tool=action.tool, params=action.params, host=action.host)
        outcome = await tools.call(call, approved_by=approvers, approved_hash=action.argv_hash)
        result = outcome.result
        ok = result is not None and result.ok
        detail = outcome.action.output if result is None else (result.error or f"exit {result.exit_status}{' (timed out)' if result.timed_out else ''}: "
                                                                                f"{(result.stdout + result.stderr)[-1500:]}")
        run.actions.append(outcome.action.model_copy(update={"output": detail[-2000:], "status": outcome.action.status if ok or result is None else "failed"}))
        if not ok:
            run.note(f"stopped at {action.tool} on {action.host or 'the control host'}: {detail.splitlines()[0] if detail else 'not run'}; "
                     "the remaining action(s) were not run", "warning")
            return run.result(False)
        if spec.verification is None:
            run.note(f"{action.tool}: ran; no verification read is declared for it: not verified", "limitation")
            continue
        check = await run_check(tools, spec.verification, action.params, action.host, time_scale=scale)
        run.note(f"{action.tool}: verification {check.line()}", "info" if check.passed else "warning")
        if not check.passed:
            await _roll_back(tools, action, approvers, run)
            return run.result(False)
    run.note(f"ran and verified {len(proposal.actions)} approved action(s) with approval of {', '.join(approvers)}")
    return run.result(True)


async def _roll_back(tools, action, approvers: list[str], run: _Run) -> None:
    if not action.rollback_tool or not action.rollback_hash:
        run.note(f"{action.tool} was not verified and has no rollback ({action.rollback or 'none declared'}); a person must look", "warning")
        return
    back = ToolCall(tool=action.rollback_tool, params=action.rollback_params, host=action.host)
    outcome = await tools.call(back, approved_by=approvers, approved_hash=action.rollback_hash)
    ok = outcome.result is not None and outcome.result.ok
    run.actions.append(outcome.action.model_copy(update={"status": "rolled_back" if ok else outcome.action.status}))
    run.note(f"{action.tool} was not verified; ran its approved rollback {action.rollback_tool}: {'done' if ok else 'failed — a person must look'}",
             "warning")


# -------------------------------------------------------------- rollback


async def _roll_back_deployment(ctx: AgentContext, state: OpsState, proposal: Proposal, approvers: list[str], run: _Run) -> dict:
    """An approved manual rollback of a deployment (agents/delivery/desk.py made the proposal)."""
    from agents.delivery.desk import execute_rollback
    from tools.traffic.kubernetes_actions import CatalogueKubernetesExecutor

    tools = ctx.tools(AGENT, proposal.environment)
    pick = getattr(ctx.world, "control_host", None)
    cluster = CatalogueKubernetesExecutor(tools, pick() if callable(pick) else None, approvers)  # used by a Kubernetes router only
    actions, notes, done = await execute_rollback(ctx, proposal, approvers, requested_by=state["request"].user.name,
                                                  kubernetes_executor=cluster)
    run.actions += actions
    run.notes += notes
    return run.result(done)


# ---------------------------------------------------------------- unlock


def _refuse_other_lock(run: _Run, command: str, lock_id: str, held: LockInfo) -> dict:
    """The state is held by another lock than the one people approved: nothing is unlocked."""
    run.act(command, "refused", f"the state is now locked by another lock: {held.id} ({held.who})", rule="deployer: unlock")
    run.note(f"refused: the approval was for lock {lock_id}, but the state is now held by lock {held.id} "
             f"({held.who}, {held.operation}); a new proposal with its own evidence is needed", "warning")
    return run.result(False)


def _locked_again(run: _Run, lock: LockInfo) -> dict:
    run.note(f"terraform.force_unlock: verification failed: after force-unlock the state is locked again by {lock.who} "
             f"({lock.id})", "warning")
    return run.result(False)


def _unlocked(run: _Run, lock_id: str, approvers: list[str], verified_by: str | None) -> dict:
    """Unlocked; `verified_by` names the plan that took the lock again (None: the verification could not tell)."""
    if verified_by is not None:
        run.note(f"terraform.force_unlock: verification passed: the state can be locked again ({verified_by})")
    run.note(f"force-unlocked lock {lock_id} with approval of {', '.join(approvers)}; run `terraform plan` and review drift before any apply")
    return run.result(True)


def _unlock_recorded(ctx: AgentContext, lock_id: str, command: str, approvers: list[str], run: _Run) -> dict:
    """A force-unlock in a recorded world, checked the way the live one is: the recorded plan says which lock holds
    the state (another lock than the approved one: refused), and the plan recorded for after the remedy says whether
    the state can be locked again. A recording without that after-state runs nothing."""
    after = getattr(ctx.world, "terraform_output_after", lambda: None)()
    if after is None:
        run.act(command, "skipped", REPLAY_OUTPUT)
        run.note(f"replay: lock {lock_id} was not force-unlocked (recorded world without a plan for after the unlock)")
        return run.result(False)
    held = parse_lock_info(ctx.world.infra().terraform_output or "")
    if held is not None and held.id and held.id != lock_id:
        return _refuse_other_lock(run, command, lock_id, held)
    run.act(command, "executed", "Terraform state has been successfully unlocked! (recorded world)")
    again = parse_lock_info(after)
    if again is not None:
        return _locked_again(run, again)
    return _unlocked(run, lock_id, approvers, "the plan recorded after the unlock")


async def _unlock(ctx: AgentContext, proposal: Proposal, approvers: list[str], run: _Run) -> dict:
    lock_id, workspace = unlock_target(proposal)
    command = proposal.commands[0] if proposal.commands else "terraform force-unlock"
    if not lock_id:
        run.act(command, "refused", "the proposal names no lock ID", rule="deployer: unlock")
        run.note("refused: the unlock proposal does not name the lock ID it was approved for", "warning")
        return run.result(False)
    if not _runs_terraform(ctx):
        return _unlock_recorded(ctx, lock_id, command, approvers, run)
    if workspace and Path(workspace).is_absolute():
        workdir = Path(workspace)
    else:
        try:
            workdir = ctx.settings.require_terraform_dir() / (workspace or ".")
        except ConfigError as exc:
            run.act(command, "refused", str(exc), rule="deployer: workspace")
            run.note(f"refused: {exc}", "warning")
            return run.result(False)
    runner = TerraformRunner(workdir, binary=ctx.settings.terraform_bin, environment=proposal.environment, audit=ctx.audit,
                             settings=ctx.settings, lock_timeout="0s")
    init_args, plan_args = _environment_args(workdir, proposal.environment)
    probe = " ".join(["terraform plan -refresh=false", *plan_args, "-lock-timeout=0s"])  # which lock holds the state now?
    try:
        if init_args:  # a root shared by environments: point the backend at this environment's state first
            out = await runner.init(init_args)
            run.act(" ".join(["terraform init", *init_args]), "executed", out.text)
        await runner.plan("unlock-check.tfplan", extra_args=["-refresh=false", *plan_args])
        run.act(command, "skipped", "the state is not locked any more")
        run.note(f"lock {lock_id} is already released; nothing to unlock")
        return run.result(True)
    except StateLockedError as exc:
        if exc.lock.id != lock_id:
            return _refuse_other_lock(run, command, lock_id, exc.lock)
        run.act(probe, "executed", f"locked by {exc.lock.id} ({exc.lock.who}) as approved")
    except TerraformError as exc:
        run.note(f"could not confirm the lock before unlocking ({exc}); unlocking by the approved ID only", "warning")
    try:
        out = await runner.force_unlock(lock_id, approved_by=approvers)
        run.act(command, "executed", out.text)
    except TerraformError as exc:
        run.act(command, "failed", getattr(exc, "output", "") or str(exc))
        run.note(f"force-unlock of {lock_id} failed: {exc}", "warning")
        return run.result(False)
    try:
        await runner.plan("unlock-check.tfplan", extra_args=["-refresh=false", *plan_args])
        run.act(probe, "executed", "the state can be locked again")
    except StateLockedError as exc:
        run.act(probe, "failed", f"still locked by {exc.lock.id} ({exc.lock.who})")
        return _locked_again(run, exc.lock)
    except TerraformError as exc:
        run.note(f"terraform.force_unlock: verification unknown: unlocked; the follow-up plan failed for another reason: {exc}", "warning")
        return _unlocked(run, lock_id, approvers, None)
    return _unlocked(run, lock_id, approvers, "a plan with -lock-timeout=0s")
