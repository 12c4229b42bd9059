"""The supervisor: which agent acts next, decided from the state.

Structured state routes by rule (an alert goes to the diagnostician, a
diagnosis whose fix is Terraform to the Terraform author, ...). Only free
text needs classifying: keyword rules by default, the triage model when one
is configured. The LLM can change the choice, never the graph's shape.
"""

from __future__ import annotations

import re
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


class RoutingWords(BaseModel):
    """config/routing.yaml, lower-cased: the phrases the rules route free text by."""

    health: list[str]
    incident: list[str]
    change: list[str]


@lru_cache(maxsize=1)
def _words() -> RoutingWords:
    raw = yaml.safe_load((CONFIG_DIR / "routing.yaml").read_text(encoding="utf-8"))

    def flat(key: str) -> list[str]:
        return [str(w).lower() for lang in (raw.get(key) or {}).values() for w in lang]

    return RoutingWords(health=flat("health_questions"), incident=flat("incident_words"), change=flat("change_words") or flat("infra_words"))


def _count_changes(lowered: str, phrases: list[str]) -> int:
    """Change words as whole words in English ("add" is not "address"), as substrings in Korean."""
    count = 0
    for phrase in phrases:
        if phrase.isascii():
            count += 1 if re.search(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])", lowered) else 0
        else:
            count += 1 if phrase in lowered else 0
    return count


def classify_text(text: str) -> Literal["planner", "diagnostician"]:
    """Words about trouble go to the diagnostician, requests for changes to the planner.

    A question about a thing's health ("what's wrong with redis?", "상태 확인해줘") is trouble whatever it names;
    resource names ("redis", "rds") never outvote a symptom; a text with trouble goes to the planner only when it
    asks for more changes than it reports trouble ("the db is slow, bump it one size up and double the nodes")."""
    lowered = text.lower()
    words = _words()
    changes = _count_changes(lowered, words.change)
    for phrase in words.change:  # "tear down" is a request, not an outage: its "down" must not count
        if " " in phrase:
            lowered = lowered.replace(phrase, " ")
    asks = any(marker in lowered for marker in REQUEST_MARKERS)
    if any(phrase in lowered for phrase in words.health):
        # changes a person only mentions ("after the PR that cleaned up the module", "we need to raise it but apply is
        # stuck") do not make a health question a request; changes asked for ("and bump it, please") do
        return "diagnostician" if changes <= 1 or not asks else "planner"
    incident = sum(1 for w in words.incident if _has_incident_word(lowered, w))
    if incident > changes:
        return "diagnostician"
    return "diagnostician" if incident > 0 and incident == changes and not asks else "planner"


# Words that make a sentence a request ("can you bump it", "늘려줘"): with as many changes as troubles, a request wins.
REQUEST_MARKERS = ("please", "can you", "could you", "would you", "i want", "we need", "let's", "해줘", "해 줘", "주세요", "바랍니다", "부탁")


def _has_incident_word(lowered: str, word: str) -> bool:
    """English words start a word ("hang" is not "change"; "throttl" finds "throttling"); status codes stand alone
    ("502s" counts, "500으로" and "max_connections 500" count only as codes); Korean words are substrings."""
    if not word.isascii():
        return word in lowered
    if word.isdigit():
        return re.search(r"(?<![\w.])" + word + r"s?(?![\w\uac00-\ud7a3])", lowered) is not None and not re.search(
            r"(?:max_connections|connections|size|gb|mb|to|=)\s*" + word, lowered)
    return re.search(r"(?<![a-z0-9])" + re.escape(word), lowered) is not None


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
