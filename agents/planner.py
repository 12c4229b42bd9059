"""The planner: words about infrastructure in, a SpecChange (or one clarifying question, or an answer) out.

1. the current spec: the world's (a scenario's, a live repository's), else
   config/spec.yaml (tools/spec.py `current_spec`);
2. the rules read the words with config/planner.yaml's lexicon and resolve
   them against the spec (agents/planning): intent, dotted-path changes with
   absolute values, validated by the spec schema, or questions (one per
   ambiguous part of a compound request); the kind of request decides the
   plan (agents/planning/requests.py: follow-ups in a thread, drift,
   forecasts, schedules, staged delivery, promotion, conditions), and the
   replies the run got so far are folded into the parts that asked;
3. with a triage model configured, the model reads the same words of a plain
   change and its plan is used only if it passes the same checks
   (agents/planning/llm.py); otherwise the rules stand and a note says why.

The node only reads (a refresh-only plan and metrics included): re-running it
gives the same answer, so LangGraph may repeat it safely.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.context import context_from
from agents.planning.clarify import ask_anything
from agents.planning.llm import plan_with_model
from agents.planning.requests import plan_request
from graphs.errors import ProviderError
from graphs.state import AgentNote, OpsState, RoleUsage, SpecChange
from tools.redact import redact
from tools.spec import SpecError, apply_changes, current_spec, render_diff, value_at

AGENT = "planner"


def _note(text: str, level: str = "info") -> AgentNote:
    return AgentNote(agent=AGENT, text=redact(text), level=level)  # type: ignore[arg-type]


def _environment_explicit(request: Any) -> bool:
    """Whether the environment was chosen for these words, so words that name none may use it.

    A default (a Request built without `environment`) is nobody's choice. A
    replayed scenario's `environment` says which approval rules apply
    (FORMAT.md), not which environment the words meant, so replays count as
    a default too: "노드 하나 더" with dev 3 / staging 2 / prod 4 asks which.
    """
    return bool(getattr(request, "environment_explicit", False))


async def planner(state: OpsState, config: RunnableConfig) -> dict[str, Any]:
    ctx = context_from(config)
    request = state["request"]
    text = (request.text or "").strip()
    if not text and request.alert is not None:
        text = " ".join(p for p in (request.alert.name, request.alert.summary) if p)
    usage: dict[str, RoleUsage] = {}
    try:
        spec = current_spec(ctx)
    except SpecError as exc:
        change = SpecChange(intent="query", question=f"{exc}. Add an infrastructure spec (config/spec.yaml) and ask again.",
                            rationale="no spec")
        return {"route": [AGENT], "spec_change": change, "notes": [_note(str(exc), "limitation")], "usage": usage}
    if not text:
        language = "en"
        change = SpecChange(intent="query", question=ask_anything(language), rationale="no words")
        return {"route": [AGENT], "spec_change": change, "notes": [], "usage": usage}

    explicit = _environment_explicit(request)
    conversation = state.get("conversation")
    replies = list(state.get("replies") or [])
    rules, proposals = await plan_request(ctx, text, spec, request, conversation, replies)
    change = rules.change
    notes = [_note(n.text, n.level) for n in rules.notes]
    if replies:
        notes.append(_note(f"planned again with {len(replies)} answer(s): " + "; ".join(repr(r.text[:80]) for r in replies)))

    models = ctx.models
    plain = (change.task in (None, "change") and not replies and conversation is None and change.condition is None
             and not change.questions and rules.reading is not None)
    if plain and models is not None and models.available("triage") and not rules.reading.refusals:
        try:
            result = await plan_with_model(models, text, spec, rules.reading, request.environment, explicit, rules)
        except ProviderError as exc:
            notes.append(_note(f"triage model unavailable, planned by rules: {exc}", "warning"))
            usage.update(getattr(exc, "usages", None) or {})
        else:
            usage.update(result.usages)
            if result.change is None:
                notes.append(_note(f"the triage model's plan was rejected ({result.rejected}); planned by rules", "warning"))
            elif rules.ambiguity == "environment" and result.change.question is None:
                notes.append(_note("the triage model chose an environment the words do not name; asking instead", "warning"))
            else:
                change = result.change
                if rules.change.parts and change.changes == rules.change.changes:
                    change = change.model_copy(update={"parts": rules.change.parts})
                if change.intent == "modify" and rules.change.changes and change.changes != rules.change.changes:
                    notes.append(_note(f"the triage model's plan differs from the rules' ({rules.change.changes}); using the model's"))

    if change.changes and change.question is None:
        try:
            after = apply_changes(spec, change.changes)
            notes.append(_note("spec change:\n" + render_diff(spec, after).rstrip()))
        except SpecError as exc:  # cannot happen for checked plans; never let a report line break the run
            notes.append(_note(f"could not render the spec diff: {exc}", "warning"))
        change = change.model_copy(update={"before": {p: value_at(spec, p) for p in change.changes if _known(p)}})
    notes.append(_note(f"intent {change.intent}" + (f" ({change.environment})" if change.environment else "")
                       + (f", {change.task}" if change.task else "")
                       + f", decided by {change.decided_by}" + (": asks a question" if change.question else "")))
    update: dict[str, Any] = {"route": [AGENT], "spec_change": change, "notes": notes, "usage": usage}
    if proposals:
        update["proposals"] = proposals
    return update


def _known(path: str) -> bool:
    try:
        value_at(None, path)
    except SpecError:
        return False
    return True


__all__ = ["planner"]
