"""The supervisor: which agent acts next, decided from the state.

Structured state routes by rule (an alert goes to the diagnostician, a
diagnosis whose fix is Terraform to the Terraform author, ...). Only free
text needs classifying: keyword rules by default, the triage model when one
is configured. The LLM can change the choice, never the graph's shape.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import yaml
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END
from langgraph.types import Command
from pydantic import BaseModel, Field

from agents.context import context_from
from config.settings import CONFIG_DIR
from graphs.errors import ProviderError
from graphs.state import AgentNote, OpsState, Proposal

Next = Literal["planner", "diagnostician", "terraform_author", "code_healer", "deployer", "request_approval", "reporter",
               "follow_up", "await_answer", "stage_gate", "register_schedule"]


class RouteChoice(BaseModel):
    """The triage model's answer when it classifies free text."""

    agent: Literal["planner", "diagnostician"]
    reason: str = Field(default="", max_length=300)


@lru_cache(maxsize=1)
def _words() -> tuple[list[str], list[str]]:
    raw = yaml.safe_load((CONFIG_DIR / "routing.yaml").read_text(encoding="utf-8"))
    incident = [w.lower() for lang in raw["incident_words"].values() for w in lang]
    infra = [w.lower() for lang in raw["infra_words"].values() for w in lang]
    return incident, infra


def classify_text(text: str) -> Literal["planner", "diagnostician"]:
    """Words about trouble go to the diagnostician, words about infrastructure to the planner."""
    lowered = text.lower()
    incident_words, infra_words = _words()
    infra = sum(1 for w in infra_words if w in lowered)
    for phrase in infra_words:  # "tear down" is a request, not an outage: its "down" must not count
        if " " in phrase:
            lowered = lowered.replace(phrase, " ")
    incident = sum(1 for w in incident_words if w in lowered)
    return "diagnostician" if incident > 0 and incident >= infra else "planner"


def next_stage(state: OpsState) -> str | None:
    """Staged delivery: the next environment whose proposal has not been through the approval gate, if any."""
    change = state.get("spec_change")
    if change is None or len(change.stages) < 2 or (state.get("approval_status") or "none") in ("rejected", "blocked", "pending"):
        return None
    waiting = {p.environment for p in pending_proposals(state)}
    return next((env for env in change.stages if env in waiting), None)


def _next_environment(state: OpsState) -> bool:
    """A planned spec change made one proposal per environment: after one is delivered, the next goes to its approvers."""
    change = state.get("spec_change")
    if change is None or change.stages or (state.get("approval_status") or "none") not in ("approved", "not_required"):
        return False
    pending = pending_proposals(state)
    return bool(pending) and all(p.author == "terraform_author" and p.kind == "terraform" for p in pending) and bool(change.changes)


def next_proposal(state: OpsState) -> Proposal:
    """The proposal the approval gate takes next: the next stage's in a staged delivery, else the first pending."""
    pending = pending_proposals(state)
    stage = next_stage(state)
    return next((p for p in pending if p.environment == stage), pending[0])


def pending_proposals(state: OpsState) -> list[Proposal]:
    """Valid proposals that have not been through the approval gate yet."""
    asked = {r.proposal_id for r in state.get("approval_requests") or []}
    return [p for p in state.get("proposals") or [] if p.valid and p.id not in asked]


async def supervisor(state: OpsState, config: RunnableConfig) -> Command[Next]:
    """Route the run; every agent returns here."""
    route = state.get("route") or []
    request = state["request"]
    if not route:
        if state.get("conversation") is not None:  # a follow-up in a thread: its context decides (agents/conversation)
            return Command(goto="follow_up", update={"next": "follow_up"})
        if request.alert is not None:
            return Command(goto="diagnostician", update={"next": "diagnostician"})
        text = request.text or ""
        choice, update = classify_text(text), {}
        ctx = context_from(config)
        if ctx.models is not None and ctx.models.available("triage"):
            try:
                answer = await ctx.models.structured("triage", "route", {"text": text}, RouteChoice)
                choice = answer.value.agent
                update["usage"] = answer.usages or {"triage": answer.usage}
            except ProviderError as exc:
                update["notes"] = [AgentNote(agent="supervisor", level="warning", text=f"triage model unavailable, routed by rules: {exc}")]
                update["usage"] = dict(getattr(exc, "usages", None) or {})
        return Command(goto=choice, update={**update, "next": choice})

    last = route[-1]
    status = state.get("approval_status") or "none"
    if status in ("approved", "not_required") and not state.get("deployed") and last != "deployer":
        return Command(goto="deployer", update={"next": "deployer"})
    if status in ("rejected", "blocked", "pending"):
        return Command(goto="reporter", update={"next": "reporter"})

    if last == "diagnostician":
        diagnosis = state.get("diagnosis")
        if diagnosis is not None and diagnosis.fix_kind == "terraform":
            return Command(goto="terraform_author", update={"next": "terraform_author"})
        if diagnosis is not None and diagnosis.fix_kind == "code_patch":
            return Command(goto="code_healer", update={"next": "code_healer"})
    if last == "deployer" and next_stage(state) is not None:  # staged delivery: the gate before the next environment
        return Command(goto="stage_gate", update={"next": "stage_gate"})
    if last == "deployer" and _next_environment(state):  # one change of several environments: the next one's approvals
        return Command(goto="request_approval", update={"next": "request_approval"})
    if last in ("planner", "follow_up"):
        change = state.get("spec_change")
        if change is not None and change.question:  # the run waits for an answer, in the same thread
            return Command(goto="await_answer", update={"next": "await_answer"})
        if change is not None and change.schedule is not None and change.schedule.kind == "check" and change.schedule.id is None:
            return Command(goto="register_schedule", update={"next": "register_schedule"})
        if pending_proposals(state):  # proposals the planner made itself (reverting drift)
            return Command(goto="request_approval", update={"next": "request_approval"})
        if change is not None and change.question is None and change.intent != "query" and (change.changes or change.intent in ("create_all", "destroy_all")):
            return Command(goto="terraform_author", update={"next": "terraform_author"})
        return Command(goto="reporter", update={"next": "reporter"})
    if last != "deployer" and pending_proposals(state):
        return Command(goto="request_approval", update={"next": "request_approval"})
    return Command(goto="reporter", update={"next": "reporter"})


__all__ = ["supervisor", "classify_text", "pending_proposals", "next_proposal", "next_stage", "END"]
