"""The door-neutral deployments desk: list deployments, their statistics, and ask for a rollback.

The CLI, Slack and the web widget all call these functions, so they show the
same store and a rollback asked for in one door can be approved in another.
A manual rollback is a run of the one graph: it starts with a rollback
proposal, stops at the approval gate (the policy's `rollback` approvals: in
prod the DevOps lead and the CTO), is resumed by `cloud-doctor approve` or a
door's approve button, and the deployer then restores what the deployment
replaced and verifies it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agents.context import AgentContext
from agents.delivery.rollback import roll_back
from config.settings import Settings
from graphs.errors import UserInputError
from graphs.state import ENVIRONMENTS, ActionRecord, AgentNote, Proposal, Request, UserRef
from tools.deployment_records import DeploymentRecord, DeploymentStatistics
from tools.deployments_store import compute_statistics, open_deployment_store
from tools.traffic.base import RouterError
from tools.traffic.registry import router_from_config

AGENT = "deployer"
ROUTE_MARK = "rollback_desk"  # the run's first step: the proposal is made here, not by an agent


class DeploymentListing(BaseModel):
    active: list[DeploymentRecord] = Field(default_factory=list)
    recent: list[DeploymentRecord] = Field(default_factory=list)
    statistics: DeploymentStatistics = Field(default_factory=DeploymentStatistics)


def list_deployments(settings: Settings, *, limit: int = 30, environment: str | None = None) -> DeploymentListing:
    """Active deployments (running or paused), the most recent finished ones, and statistics over all."""
    store = open_deployment_store(settings)
    records = store.list(limit=limit, environment=environment)
    everything = store.all()
    if environment:
        everything = [r for r in everything if r.environment == environment]
    return DeploymentListing(active=[r for r in records if r.active], recent=[r for r in records if not r.active],
                             statistics=compute_statistics(everything))


def get_deployment(settings: Settings, deployment_id: str) -> DeploymentRecord:
    return open_deployment_store(settings).get(deployment_id)


def deployment_statistics(settings: Settings, environment: str | None = None) -> DeploymentStatistics:
    records = open_deployment_store(settings).all()
    return compute_statistics([r for r in records if environment is None or r.environment == environment])


def rollback_proposal(record: DeploymentRecord, reason: str) -> Proposal:
    """The proposal a person approves: which deployment, what comes back, why."""
    restored = record.snapshot.get("summary") or f"{record.previous_version}'s routing"
    return Proposal(
        id=f"P-rollback-{record.id}-{len(record.rollbacks) + 1}",
        kind="rollback",
        title=f"Roll back {record.service} {record.version} to {record.previous_version} ({record.id})",
        description=f"Reason: {reason}\nDeployment {record.id} ({record.strategy}, {record.status}, stage {record.stage or '-'}) "
                    f"replaced: {restored}.",
        environment=record.environment,  # type: ignore[arg-type]
        commands=[f"rollback {record.id}: restore {restored} through the {record.router.get('kind', 'unknown')} router, then verify"],
        rollback=f"deliver {record.version} again as a new rollout",
        risk="medium",
        author="rollback_desk",
        deployment_id=record.id,
    )


def _check_rollback(record: DeploymentRecord) -> None:
    if record.environment not in ENVIRONMENTS:
        raise UserInputError(f"deployment {record.id} is in {record.environment!r}, which has no approval policy")
    if record.status == "rolled_back":
        last = record.rollbacks[-1] if record.rollbacks else None
        when = f" at {last.finished_at:%Y-%m-%d %H:%M} UTC" if last and last.finished_at else ""
        raise UserInputError(f"deployment {record.id} is already rolled back{when}")
    if record.status == "running":
        raise UserInputError(f"deployment {record.id} is still running: its analysis rolls it back on failure; "
                             "wait until it is promoted or paused")
    if not record.snapshot:
        raise UserInputError(f"deployment {record.id} recorded nothing it replaced: there is nothing to restore")


def check_rollback_request(settings: Settings, deployment_id: str, reason: str) -> DeploymentRecord:
    """The deployment a rollback request names, when it may be rolled back; a door calls this before it queues one."""
    if not reason.strip():
        raise UserInputError("say why: --reason '...' (it is shown to the approvers and kept with the deployment)")
    record = open_deployment_store(settings).get(deployment_id)
    _check_rollback(record)
    return record


async def request_rollback(ctx: AgentContext, checkpointer: Any, deployment_id: str, *, reason: str, user: UserRef,
                           door: str = "cli", thread_id: str | None = None) -> Any:
    """Start a run that asks the policy's approvers to roll `deployment_id` back; returns the run's outcome."""
    from graphs.runner import start_run

    record = check_rollback_request(ctx.settings, deployment_id, reason)
    proposal = rollback_proposal(record, reason.strip())
    request = Request(text=f"rollback {record.id}: {reason.strip()}", user=user, environment=record.environment,  # type: ignore[arg-type]
                      door=door)  # type: ignore[arg-type]
    return await start_run(request, ctx, checkpointer, thread_id=thread_id,
                           seed={"proposals": [proposal], "route": [ROUTE_MARK]})


def _action(text: str, status: str, output: str) -> ActionRecord:
    return ActionRecord(action=text, verdict="approve", rule="policy: rollback approvals", status=status,  # type: ignore[arg-type]
                        output=output[-2000:], by=AGENT)


async def execute_rollback(ctx: AgentContext, proposal: Proposal, approvers: list[str], *, requested_by: str = "",
                           kubernetes_executor: Any = None) -> tuple[list[ActionRecord], list[AgentNote], bool]:
    """Carry out an approved rollback proposal: restore the deployment's snapshot and verify it."""
    command = proposal.commands[0] if proposal.commands else f"rollback {proposal.deployment_id}"
    if ctx.world.name == "recorded":
        return ([_action(command, "skipped", "replay: not executed (recorded world)")],
                [AgentNote(agent=AGENT, text=f"replay: {proposal.deployment_id} was not rolled back (recorded world)")], False)
    store = open_deployment_store(ctx.settings)
    record = store.get(proposal.deployment_id or "")
    reason = proposal.description.splitlines()[0].removeprefix("Reason: ") if proposal.description else "manual rollback"
    try:
        router = router_from_config(record.router, kubernetes_executor=kubernetes_executor)
    except (RouterError, ValueError) as exc:
        message = str(exc).splitlines()[0]
        return ([_action(command, "failed", message)],
                [AgentNote(agent=AGENT, level="warning", text=f"{record.id} was not rolled back: {message}")], False)
    rollback = await roll_back(router, record, trigger="manual", reason=reason, requested_by=requested_by,
                               approved_by=approvers, store=store)
    if rollback.verified:
        return ([_action(command, "executed", rollback.detail)],
                [AgentNote(agent=AGENT, text=f"rolled back {record.id} ({record.service} {record.version} → "
                                             f"{record.previous_version}) with approval of {', '.join(approvers)}; "
                                             f"verified in {rollback.seconds:.1f}s: {rollback.detail}")], True)
    return ([_action(command, "failed", rollback.detail)],
            [AgentNote(agent=AGENT, level="warning", text=f"the rollback of {record.id} is NOT verified: {rollback.detail}")], False)
