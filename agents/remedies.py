"""Command remedies: turn a diagnosis's typed actions into a reviewable proposal.

Only catalogue actions become remedies (config/tools/): each is validated and
rendered here, so the approval shows the exact argv and its hash, and the
deployer runs that argv and nothing else. A Terraform state lock becomes an
unlock proposal carrying the evidence about its holder; it is never
force-unlocked automatically.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from graphs.state import AgentNote, Diagnosis, Evidence, PlannedAction, Proposal, Request
from tools.actions import approval_line, plan_action
from tools.catalogue import ToolCall, ToolParamError


def _proposal_id(kind: str, body: str) -> str:
    return f"P-{kind}-{hashlib.sha1(body.encode()).hexdigest()[:8]}"


def command_proposals(diagnosis: Diagnosis, request: Request, evidence: list[Evidence]) -> tuple[list[Proposal], list[AgentNote]]:
    notes: list[AgentNote] = []
    if diagnosis.root_cause == "terraform_state_lock":
        proposal = _unlock_proposal(diagnosis, request, evidence)
        if proposal is not None:
            return [proposal], notes
    host = diagnosis.target.get("host") or (request.alert.labels.get("host") if request.alert else None)
    actions: list[PlannedAction] = []
    for suggestion in diagnosis.suggested_actions:
        call = ToolCall(tool=suggestion.tool, params=suggestion.params, host=suggestion.host or host)
        try:
            action = plan_action(call, why=suggestion.why or diagnosis.summary[:300])
            if suggestion.capture:
                action = action.model_copy(update={"capture_tool": suggestion.capture.get("tool"),
                                                   "capture_params": dict(suggestion.capture.get("params") or {})})
            actions.append(action)
        except ToolParamError as exc:
            notes.append(AgentNote(agent="remedies", level="warning", text=f"remedy {suggestion.tool} dropped — {exc}"))
    if not actions:
        if diagnosis.fix_kind == "command":
            notes.append(AgentNote(agent="remedies", level="limitation", text="no catalogue action fits this diagnosis; a person must act"))
        return [], notes
    body = "\n".join(a.argv_hash for a in actions)
    where = host or "the affected system"
    return [Proposal(
        id=_proposal_id("command", f"{host}\n{body}"),
        kind="command",
        title=f"run {len(actions)} remedy action(s) on {where}: {', '.join(a.tool for a in actions)}",
        description=f"Remedy for {diagnosis.root_cause}: {diagnosis.summary}",
        environment=request.environment,
        commands=[approval_line(a) for a in actions],
        actions=actions,
        rollback="; ".join(f"{a.tool}: {a.rollback}" for a in actions if a.rollback),
        risk="medium" if request.environment != "prod" else "high",
        author="diagnostician",
        host=host,
    )], notes


def _unlock_proposal(diagnosis: Diagnosis, request: Request, evidence: list[Evidence]) -> Proposal | None:
    try:
        from tools.terraform_errors import build_unlock_proposal, lock_holder_evidence, parse_terraform_output
    except ImportError:
        return None
    for item in evidence:
        if item.kind != "terraform":
            continue
        text = item.facts.get("raw") or item.excerpt
        for issue in parse_terraform_output(text):
            lock = getattr(issue, "lock", None)
            if lock is None:
                continue
            now = request.effective_time() if request.at or request.alert else datetime.now(timezone.utc)
            holder = lock_holder_evidence(lock, now, None)
            workspace = diagnosis.target.get("dir") or (request.alert.labels.get("dir") if request.alert else None) or "."
            proposal = build_unlock_proposal(lock, workspace, holder)
            return proposal.model_copy(update={"environment": request.environment})
    return None
