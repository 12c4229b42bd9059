"""The approval gate: policy decides who must approve, `interrupt()` waits for them.

Two nodes so that nothing before the interrupt re-runs on resume with new
values: `request_approval` writes the ApprovalRequest into the state (and the
audit log) once; `await_approval` only interrupts and records decisions. A
valid rejection ends the action, always; an invalid decision is refused and
the gate keeps waiting.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from agents.context import context_from
from agents.terraform_workspace import plan_for_approval
from graphs.errors import UserInputError
from graphs.routing import next_proposal
from graphs.state import AgentNote, ApprovalDecision, ApprovalRequest, OpsState, Proposal
from tools.policy import (
    ChangeFacts, approval_expiry, check_decision, default_policy, describe_rules, evaluate_change, still_needed,
)


def change_facts(proposal: Proposal, state: OpsState) -> ChangeFacts:
    request = state["request"]
    spec_change = state.get("spec_change")
    destroys_environment = bool(proposal.destructive and spec_change is not None and spec_change.intent == "destroy_all")
    return ChangeFacts(
        environment=proposal.environment or request.environment,
        kind=proposal.kind,
        cost_delta_monthly=proposal.cost.monthly_delta if proposal.cost else 0.0,
        resource_count=proposal.resource_count,
        destructive=proposal.destructive,
        destroys_environment=destroys_environment,
        whole_environment=spec_change is not None and spec_change.intent in ("create_all", "destroy_all"),
        at=request.effective_time(),
        emergency=request.emergency,
    )


async def request_approval(state: OpsState, config: RunnableConfig) -> Command[Literal["await_approval", "supervisor"]]:
    """Ask the policy about the first pending proposal and record the ApprovalRequest."""
    ctx = context_from(config)
    # A Terraform proposal is planned first: the approvers approve a plan hash, and only that plan is applied.
    gate = await plan_for_approval(ctx, next_proposal(state))
    proposal = gate.proposal
    policy = default_policy()
    decision = evaluate_change(policy, change_facts(proposal, state))
    if gate.blocked:  # nothing to approve: a Terraform change without a plan is never applied
        decision = decision.model_copy(update={"required": True, "blocked": [*decision.blocked, *gate.blocked]})
    request = state["request"]
    approval = ApprovalRequest(
        id=f"A-{proposal.id}",
        proposal_id=proposal.id,
        action=proposal.title if not proposal.commands else "; ".join(proposal.commands),
        actions=list(proposal.actions),
        reason=proposal.description or proposal.title,
        environment=proposal.environment or request.environment,
        risk=proposal.risk,
        cost_delta_monthly=proposal.cost.monthly_delta if proposal.cost else None,
        rollback=proposal.rollback,
        rules=decision.rules,
        still_needed=decision.rules if decision.required else [],
        confirmation=decision.confirmation,
        blocked=decision.blocked,
        unblock_hint=decision.unblock_hint,
        requested_by=request.user,
    )
    approval.expires_at = approval_expiry(policy, approval.created_at)
    if not decision.required:
        status = "not_required"
    elif decision.blocked:
        status = "blocked"
    else:
        status = "pending"
    ctx.audit.append(
        "approval_requested", request_id=approval.id, proposal=proposal.id, environment=approval.environment,
        status=status, rules=describe_rules(approval.rules), blocked=approval.blocked, reasons=decision.reasons,
    )
    notes = [*gate.notes, *(AgentNote(agent="policy", text=r) for r in decision.reasons)]
    if decision.justification_required:
        notes.append(AgentNote(agent="policy", level="warning", text="this cost tier needs a business justification in the approval reason"))
    update = {"approval_requests": [approval], "approval_status": status, "notes": notes, "proposals": [proposal],
              "deployed": False}  # a new proposal: nothing of it is delivered yet
    if status == "pending":
        return Command(goto="await_approval", update=update)
    return Command(goto="supervisor", update=update)


async def await_approval(state: OpsState, config: RunnableConfig) -> Command[Literal["await_approval", "supervisor"]]:
    """Wait for one decision; loop until the rules are met or someone rejects."""
    ctx = context_from(config)
    approval = state["approval_requests"][-1]
    decisions = [d for d in state.get("decisions") or [] if d.request_id == approval.id]
    payload = interrupt(approval.model_dump(mode="json"))
    try:
        decision = ApprovalDecision.model_validate(payload)
        if decision.request_id != approval.id:
            raise UserInputError(f"this thread waits for {approval.id}, not {decision.request_id}")
        check_decision(default_policy(), approval, decision, decisions)
    except (ValidationError, UserInputError) as exc:
        message = str(exc).splitlines()[0]
        ctx.audit.append("approval_refused", request_id=approval.id, reason=message)
        return Command(goto="await_approval", update={"notes": [AgentNote(agent="policy", level="warning", text=f"decision refused: {message}")]})
    ctx.audit.append(
        "approval_decision", request_id=approval.id, user=decision.user.id, name=decision.user.name, role=decision.role,
        approved=decision.approved, reason=decision.reason,
    )
    if not decision.approved:
        return Command(goto="supervisor", update={"decisions": [decision], "approval_status": "rejected"})
    remaining = still_needed(approval.rules, [*decisions, decision])
    updated = approval.model_copy(update={"still_needed": remaining})
    if remaining:
        return Command(goto="await_approval", update={"decisions": [decision], "approval_requests": [updated]})
    return Command(goto="supervisor", update={"decisions": [decision], "approval_requests": [updated], "approval_status": "approved"})
