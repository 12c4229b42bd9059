"""The diagnostician's investigation: the rules' evidence and candidates first, then the model may read more.

The first observation is prompts/diagnose.md filled with the compressed,
redacted evidence, the analyzers' ranked candidates and the rules'
diagnosis. The model may call the catalogue's read tools on the incident's
hosts; what they return becomes Evidence with ids continuing the rules'
E-numbering, so citations and reports work unchanged. The answer is an
`LlmDiagnosis`, accepted only when its category is in the taxonomy and
every cited id exists (one retry); otherwise, or on any spent budget, the
rules' diagnosis stands and a note says why.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.diagnosis.llm import (
    AGENT, PROMPT, LlmDiagnosis, _candidates_text, _incidents_text, _to_diagnosis, compress_evidence, validate_answer,
)
from agents.investigator.budget import load_investigation_config
from agents.investigator.catalogue import loop_tools, read_session
from agents.investigator.loop import run_loop
from agents.llm import load_prompt, render_prompt
from graphs.state import ActionRecord, AgentNote, Diagnosis, Evidence, RoleUsage
from tools.redact import redact

ROLE = "triage"
ANSWER_TOOL = "submit_diagnosis"
ANSWER_HELP = "Your final diagnosis: a taxonomy category (or unknown), confidence, and the evidence ids it rests on."


class Investigated(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    diagnosis: Diagnosis
    evidence: list[Evidence] = Field(default_factory=list)  # what the loop read, beyond the rules' evidence
    actions: list[ActionRecord] = Field(default_factory=list)
    usage: dict[str, RoleUsage] = Field(default_factory=dict)
    notes: list[AgentNote] = Field(default_factory=list)


def _id_counter(evidence: list[Evidence]):
    numbers = [int(m.group(1)) for e in evidence if (m := re.fullmatch(r"E(\d+)", e.id))]
    state = {"n": max(numbers, default=0)}

    def next_id() -> str:
        state["n"] += 1
        return f"E{state['n']}"

    return next_id


def observation(collected: Any, analysis: Any, rules: Diagnosis, taxonomy: set[str], prompts_dir: str) -> str:
    evidence = collected.evidence
    return render_prompt(load_prompt(prompts_dir, PROMPT), {
        "request": redact(collected.situation.words),
        "evidence": compress_evidence(evidence),
        "candidates": _candidates_text(analysis),
        "similar_incidents": _incidents_text(evidence),
        "rules_diagnosis": f"{rules.root_cause} ({rules.confidence:.0%}), citing {', '.join(rules.citations) or 'nothing'}",
        "taxonomy": ", ".join(sorted(taxonomy)),
        "feedback": "",
    })


async def investigate_incident(ctx: Any, models: Any, collected: Any, analysis: Any, rules: Diagnosis, remedies: dict[str, Any],
                               environment: str) -> Investigated:
    taxonomy = set(remedies)
    config = load_investigation_config(str(ctx.settings.config_dir))
    budget = config.budget("diagnosis")
    session = read_session(ctx, AGENT, environment, list(collected.hosts), _id_counter(collected.evidence))
    tools = loop_tools(session, config.tools.families(list(collected.playbooks)), config.tools.max_tools) if session is not None else []
    notes: list[AgentNote] = []
    if session is None:
        notes.append(AgentNote(agent=AGENT, level="limitation",
                               text="the model investigated without read tools: no tool catalogue could be loaded"))

    async def validate(answer: LlmDiagnosis, gathered: list[Evidence]) -> str | None:
        return validate_answer(answer, {e.id for e in collected.evidence} | {e.id for e in gathered}, taxonomy)

    outcome = await run_loop(models, ROLE, agent="diagnostician", observation=observation(
        collected, analysis, rules, taxonomy, str(models.settings.prompts_dir)), tools=tools, answer_schema=LlmDiagnosis,
        answer_tool=ANSWER_TOOL, answer_description=ANSWER_HELP, validate=validate, budget=budget)
    gathered = list(outcome.evidence)
    for n, problem in enumerate(outcome.rejections, 1):
        notes.append(AgentNote(agent=AGENT, level="warning", text=redact(f"LLM answer rejected (attempt {n}): {problem}")))
    if outcome.tool_log:
        notes.append(AgentNote(agent=AGENT, text=redact("the model read: " + "; ".join(outcome.tool_log))[:1500]))
    actions = list(session.actions) if session else []
    if outcome.answer is None:
        notes.append(AgentNote(agent=AGENT, level="warning" if "unavailable" in outcome.stopped else "info",
                               text=redact(f"the rules' diagnosis stands: the investigation stopped, {outcome.stopped} ({outcome.spent})")[:600]))
        return Investigated(diagnosis=rules, evidence=gathered, actions=actions, usage=outcome.usages, notes=notes)
    extended = collected.model_copy(update={"evidence": list(collected.evidence) + gathered})
    diagnosis = _to_diagnosis(outcome.answer, extended, rules, remedies, environment, notes)
    notes.append(AgentNote(agent=AGENT, text=f"decided by the model after {outcome.spent}"))
    return Investigated(diagnosis=diagnosis, evidence=gathered, actions=actions, usage=outcome.usages, notes=notes)
