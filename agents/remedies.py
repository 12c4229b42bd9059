"""Command remedies: turn a diagnosis whose fix is a command into a reviewable proposal.

Only approve-class commands become remedies (allow-class commands are
diagnostics, forbidden ones never run). A Terraform state lock becomes an
unlock proposal carrying the evidence about its holder; it is never
force-unlocked automatically.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from graphs.state import AgentNote, Diagnosis, Evidence, Proposal, Request
from tools.guard import describe, judge_command


def _proposal_id(kind: str, body: str) -> str:
    return f"P-{kind}-{hashlib.sha1(body.encode()).hexdigest()[:8]}"


def command_proposals(diagnosis: Diagnosis, request: Request, evidence: list[Evidence]) -> tuple[list[Proposal], list[AgentNote]]:
    notes: list[AgentNote] = []
    if diagnosis.root_cause == "terraform_state_lock":
        proposal = _unlock_proposal(diagnosis, request, evidence)
        if proposal is not None:
            return [proposal], notes
    commands: list[str] = []
    for command in diagnosis.suggested_commands:
        verdict = judge_command(command, request.environment)
        if verdict.verdict == "approve":
            commands.append(command)
        elif verdict.verdict == "forbid":
            notes.append(AgentNote(agent="remedies", level="warning", text=f"suggested `{command}` dropped — {describe(verdict)}"))
    if not commands:
        if diagnosis.fix_kind == "command":
            notes.append(AgentNote(agent="remedies", level="limitation", text="no safe remedy command for this diagnosis; a person must act"))
        return [], notes
    host = diagnosis.target.get("host") or (request.alert.labels.get("host") if request.alert else None)
    body = "\n".join(commands)
    return [Proposal(
        id=_proposal_id("command", f"{host}\n{body}"),
        kind="command",
        title=f"run {len(commands)} remedy command(s) on {host or 'the affected host'}",
        description=f"Remedy for {diagnosis.root_cause}: {diagnosis.summary}",
        environment=request.environment,
        commands=commands,
        rollback="commands are not transactional: the report lists each result; restarting restores a service's previous state",
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
