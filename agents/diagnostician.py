"""The diagnostician: an alert (or words about trouble) in, evidence and a cited Diagnosis out.

1. playbooks (config/playbooks) pick read-only commands; they run through
   the guarded tools on the alert's hosts; logs, Terraform output, code,
   metrics and similar past incidents are collected as evidence (collect.py);
2. analyzers turn the evidence into scored root-cause candidates from the
   taxonomy, or `unknown` (analyzers/);
3. the winner becomes a Diagnosis with citations, the kind of fix, a target
   and guard-judged remedy commands (conclude.py);
4. with an LLM configured for the triage role, the model weighs the same
   redacted evidence and candidates and may read more through the
   catalogue's read tools, within budgets (agents/investigator); its answer
   is used only if every evidence id it cites exists (one retry), else the
   rules stand.

Everything before the return is read-only and deterministic, so LangGraph
may re-run the node safely.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.context import context_from
from agents.diagnosis.analyzers import analyze
from agents.diagnosis.collect import collect_evidence
from agents.diagnosis.conclude import conclude
from agents.diagnosis.remedies import load_remedies
from agents.investigator.diagnose import investigate_incident
from graphs.state import AgentNote, OpsState

AGENT = "diagnostician"


async def diagnostician(state: OpsState, config: RunnableConfig) -> dict[str, Any]:
    ctx = context_from(config)
    request = state["request"]
    collected = await collect_evidence(ctx, request)
    analysis = analyze(collected.evidence, collected.situation)
    remedies = load_remedies(ctx.settings.config_dir)
    diagnosis, notes = conclude(analysis, collected.evidence, collected.situation, collected.values, remedies, request.environment)
    notes = collected.notes + notes
    for failure in analysis.failures:
        notes.append(AgentNote(agent=AGENT, level="warning", text=failure))
    usage = {}
    evidence, actions = list(collected.evidence), list(collected.actions)
    if ctx.models is not None and _available(ctx.models, "triage"):
        found = await investigate_incident(ctx, ctx.models, collected, analysis, diagnosis, remedies, request.environment)
        diagnosis, usage = found.diagnosis, found.usage
        notes += found.notes
        evidence += found.evidence
        actions += found.actions
    notes.append(AgentNote(agent=AGENT, text=(
        f"playbooks: {', '.join(collected.playbooks) or 'none'}; hosts: {', '.join(collected.hosts) or 'none'}; "
        f"{len(evidence)} evidence item(s); decided by {diagnosis.decided_by}")))
    return {
        "route": [AGENT],
        "evidence": evidence,
        "diagnosis": diagnosis,
        "actions": actions,
        "notes": notes,
        "usage": usage,
    }


def _available(models: Any, role: str) -> bool:
    try:
        return bool(models.available(role))
    except Exception:
        return False
