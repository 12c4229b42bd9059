"""The run report: what happened, on what evidence, what waits for whom.

A pure function of the state, so the reporter node, a paused thread shown by
a door, and replay all print the same thing. Everything is redacted.
"""

from __future__ import annotations

from graphs.report_requests import gate_section, request_sections
from graphs.state import OpsState, Report, StageGate
from tools.policy import describe_rules
from tools.redact import redact

SKIPPED_CHECKS_PREFIX = "_Checks that did not run: "
_CHECK_WORDS = {"passed": "passed", "failed": "FAILED", "skipped": "skipped (did not run)"}


def run_status(state: OpsState, interrupted: bool = False, gate: StageGate | None = None) -> str:
    approval = state.get("approval_status") or "none"
    change = state.get("spec_change")
    if gate is not None:
        return "waiting"
    if interrupted or approval == "pending":
        return "awaiting_approval"
    if approval in ("rejected", "blocked"):
        return approval
    if change is not None and change.question:
        return "needs_input"
    if any(a.status == "failed" for a in state.get("actions") or []) and not state.get("deployed") and approval == "approved":
        return "failed"
    return "completed"


def headline(state: OpsState, status: str, gate: StageGate | None = None) -> str:
    diagnosis = state.get("diagnosis")
    change = state.get("spec_change")
    approvals = state.get("approval_requests") or []
    if status == "waiting" and gate is not None:
        return f"waiting for the stage gate: {gate.detail}"
    failed_gate = next((g for g in reversed(state.get("stage_gates") or []) if g.status == "failed"), None)
    if status == "blocked" and failed_gate is not None:
        return f"stopped at the stage gate: {failed_gate.detail}"
    if status == "awaiting_approval" and approvals:
        return f"waiting for approval: {describe_rules(approvals[-1].still_needed)}"
    if status == "blocked" and approvals:
        return "blocked by policy: " + approvals[-1].blocked[0]
    if status == "rejected":
        return "rejected: nothing was changed"
    if status == "needs_input" and change is not None:
        return f"question: {change.question}"
    if diagnosis is not None:
        return f"root cause: {diagnosis.root_cause} ({diagnosis.confidence:.0%})"
    if change is not None:
        if change.intent == "query" or (change.answer and not change.changes):
            return change.answer or "query answered"
        return f"{change.intent}: " + (", ".join(f"{k} = {v}" for k, v in change.changes.items()) or change.environment or "")
    return "finished"


def build_report(state: OpsState, interrupted: bool = False, gate: StageGate | None = None) -> Report:
    status = run_status(state, interrupted, gate)
    lines: list[str] = []
    request = state.get("request")
    if request is not None:
        what = request.alert.name + (f" — {request.alert.summary}" if request.alert.summary else "") if request.alert else ""
        lines.append(f"**Request** ({request.environment}, via {request.door}, by {request.user.name}): {what or ''}{' — ' if what and request.text else ''}{request.text or ''}")
    route = state.get("route") or []
    lines.append(f"**Route**: {' → '.join(['supervisor', *route]) if route else 'supervisor'}")
    lines += _diagnosis_section(state)
    lines += _plan_section(state)
    lines += request_sections(state)
    lines += _proposals_section(state)
    lines += _approvals_section(state)
    lines += _actions_section(state)
    lines += gate_section(state, gate)
    notes = state.get("notes") or []
    if notes:
        lines.append("\n### Notes")
        lines += [f"- [{n.agent}{'' if n.level == 'info' else ', ' + n.level}] {n.text}" for n in notes]
    usage = state.get("usage") or {}
    if usage:
        lines.append("\n### Model usage")
        for role, u in usage.items():
            lines.append(f"- {role}{f' ({u.label()})' if u.label() else ''}: {u.calls} call(s), {u.input_tokens} in / {u.output_tokens} out tokens, "
                         f"${u.cost_usd:.4f}" + (f", {u.cache_read_tokens} cached" if u.cache_read_tokens else "")
                         + (f", {u.reasoning_tokens} thinking" if u.reasoning_tokens else "")
                         + (f", {u.failed_calls} failed call(s)" if u.failed_calls else ""))
    else:
        lines.append("\n_Model usage: none (embedded default: rules, analyzers and templates; no LLM)._")
    head = headline(state, status, gate)
    body = f"## {status.replace('_', ' ')}: {head}\n\n" + "\n".join(lines)
    return Report(status=status, headline=redact(head), markdown=redact(body))


def _diagnosis_section(state: OpsState) -> list[str]:
    diagnosis = state.get("diagnosis")
    if diagnosis is None:
        return []
    evidence = {e.id: e for e in state.get("evidence") or []}
    out = ["\n### Diagnosis", f"{diagnosis.summary}", f"- root cause: **{diagnosis.root_cause}** (confidence {diagnosis.confidence:.0%}, by {diagnosis.decided_by})"]
    if diagnosis.runners_up:
        out.append("- runners-up: " + ", ".join(f"{c.category} ({c.confidence:.0%})" for c in diagnosis.runners_up))
    out.append(f"- fix kind: {diagnosis.fix_kind}")
    if diagnosis.citations:
        out.append("- evidence:")
        for eid in diagnosis.citations:
            e = evidence.get(eid)
            out.append(f"  - [{eid}] {e.source}: {e.summary}" if e else f"  - [{eid}] (missing)")
    if diagnosis.next_checks:
        out.append("- next checks: " + "; ".join(diagnosis.next_checks))
    return out


def _plan_section(state: OpsState) -> list[str]:
    change = state.get("spec_change")
    if change is None:
        return []
    out = ["\n### Plan", f"- intent: {change.intent} (environment: {change.environment or 'unspecified'}, by {change.decided_by})"]
    for path, value in change.changes.items():
        out.append(f"- `{path}` → `{value}`")
    if change.question:
        out.append(f"- question: {change.question}")
    if change.answer:
        out.append(f"- answer: {change.answer}")
    return out


def _proposals_section(state: OpsState) -> list[str]:
    out: list[str] = []
    skipped = skipped_checks_line(state.get("proposals") or [])
    for p in state.get("proposals") or []:
        out.append(f"\n### Proposal {p.id}: {p.title} ({p.kind}, {p.environment}, risk {p.risk})")
        if p.description:
            out.append(p.description)
        if p.commands:
            out += [f"- command: `{c}`" for c in p.commands]
        if p.cost is not None:
            out.append(f"- cost: ${p.cost.monthly_before:,.2f} → ${p.cost.monthly_after:,.2f} per month ({p.cost.monthly_delta:+,.2f})")
        if p.plan is not None:
            out.append(f"- plan: {p.plan.add} to add, {p.plan.change} to change, {p.plan.destroy} to destroy"
                       + (f"; replaced: {', '.join(p.plan.replace)}" if p.plan.replace else ""))
        for v in p.validation:
            out.append(f"- check {v.check}: {_CHECK_WORDS[v.status or 'failed']}{' — ' + v.details if v.details else ''}")
        if p.rollback:
            out.append(f"- rollback: {p.rollback}")
        if p.diff:
            out.append("```diff\n" + p.diff.rstrip() + "\n```")
    if skipped:
        out.append("\n" + skipped)
    return out


def skipped_checks_line(proposals: list) -> str:
    """One line naming each check that did not run and how to enable it; empty when every check ran."""
    hints: dict[str, str] = {}
    for p in proposals:
        for v in p.validation:
            if v.status == "skipped":
                hints.setdefault(v.check, v.enable)
    if not hints:
        return ""
    return SKIPPED_CHECKS_PREFIX + "; ".join(f"{check}" + (f" (to enable: {how})" if how else "") for check, how in hints.items()) + "._"


def _approvals_section(state: OpsState) -> list[str]:
    requests = state.get("approval_requests") or []
    if not requests:
        return []
    out = ["\n### Approvals"]
    for r in requests:
        out.append(f"- {r.id} for {r.proposal_id} in {r.environment}: rules {describe_rules(r.rules)}")
        if r.blocked:
            out += [f"  - blocked: {b}" for b in r.blocked]
            if r.unblock_hint:
                out.append(f"  - to unblock: {r.unblock_hint}")
        elif r.still_needed:
            out.append(f"  - still needed: {describe_rules(r.still_needed)}")
        if r.confirmation:
            out.append(f"  - an approver must type `{r.confirmation}` to confirm")
    for d in state.get("decisions") or []:
        out.append(f"- {'approved' if d.approved else 'rejected'} by {d.user.name} ({d.role}) at {d.at:%Y-%m-%d %H:%M} UTC{': ' + d.reason if d.reason else ''}")
    return out


def _actions_section(state: OpsState) -> list[str]:
    actions = state.get("actions") or []
    if not actions:
        return []
    out = ["\n### Actions"]
    for a in actions:
        where = f" on {a.host}" if a.host else ""
        out.append(f"- {a.status}: `{a.action}`{where} ({a.verdict}: {a.rule})" + (f" — {a.output[:200]}" if a.output and a.status != "executed" else ""))
    return out
