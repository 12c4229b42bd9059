"""How doors show an approval request to a person, and which of their roles helps most.

The events themselves live in the shared log (interfaces/queue); this module
only shapes what an approver reads, the same way in Slack and in the widget.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from graphs.state import ApprovalRequest
from interfaces.queue.models import EventType, RunEvent  # noqa: F401 (doors import them from here)
from tools.policy import default_policy, describe_rules
from tools.redact import redact


class ApprovalView(BaseModel):
    """An approval request as a person reads it: what, why, risk, cost, rollback, who is still needed."""

    thread_id: str
    request_id: str
    action: str
    reason: str
    environment: str
    risk: str
    cost: str
    rollback: str
    still_needed: str
    roles: list[str] = Field(default_factory=list)  # roles that could still approve
    why: list[str] = Field(default_factory=list)
    confirmation: str | None = None
    blocked: list[str] = Field(default_factory=list)
    unblock_hint: str = ""
    requested_by: str = ""
    requested_by_id: str = ""  # the widget disables the asker's own Approve button (policy self_approval: false)
    self_approval: bool = False
    expires_at: str | None = None


def approval_view(thread_id: str, request: ApprovalRequest) -> ApprovalView:
    """Everything shown to an approver passes through redact: proposals quote logs and commands."""
    if request.cost_delta_monthly is None:
        cost = "no cost estimate (not an infrastructure change)"
    else:
        cost = f"{request.cost_delta_monthly:+,.2f} USD per month"
    return ApprovalView(
        thread_id=thread_id, request_id=request.id, action=redact(request.action), reason=redact(request.reason),
        environment=request.environment, risk=request.risk, cost=cost, rollback=redact(request.rollback or "none given"),
        still_needed=describe_rules(request.still_needed),
        roles=sorted({role for rule in request.still_needed for role in rule.roles}), why=[redact(r.why) for r in request.still_needed if r.why],
        confirmation=request.confirmation, blocked=[redact(b) for b in request.blocked], unblock_hint=redact(request.unblock_hint),
        requested_by=request.requested_by.name, requested_by_id=request.requested_by.id,
        self_approval=default_policy().self_approval, expires_at=request.expires_at.isoformat() if request.expires_at else None,
    )


def pick_role(user_roles: list[str], request: ApprovalRequest) -> str | None:
    """The user's role that helps most: the one counted by the most rules still needed."""
    best, best_hits = None, 0
    for role in user_roles:
        hits = sum(1 for rule in request.still_needed if role in rule.roles)
        if hits > best_hits:
            best, best_hits = role, hits
    return best
