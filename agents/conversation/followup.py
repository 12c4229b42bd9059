"""The first node of a follow-up turn: what the words ask of the thread, and who answers.

- "why?", "왜?" — answered here from the thread's context (explain.py);
- "show me E3", "E3 보여줘" — the evidence quoted (explain.py);
- anything about the infrastructure ("do the same in prod", "what would that
  cost in prod?", "roll it back", "apply S2", a new request) — the planner,
  which reads the same context (agents/planning/followups.py);
- words about trouble — the diagnostician, as a new incident of the thread.

A follow-up that names no environment is about the environment of the turn
before it ("add redis too" after a dev change is about dev).
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from agents.context import context_from
from agents.conversation.explain import evidence_ids, explain, show_evidence
from agents.conversation.words import word_book
from agents.planning.text import has_hangul
from graphs.routing import classify_text
from graphs.state import AgentNote, OpsState, SpecChange

FollowUp = Literal["explain", "evidence", "rollback", "apply", "same", "request"]
SHORT_WORDS = 8  # "why?" is short; "why don't you add two nodes to prod" is a request


def classify_follow_up(text: str, config_dir: Any = None) -> FollowUp:
    """What a follow-up asks, by rule (config/conversation.yaml)."""
    book = word_book("conversation", config_dir)
    keys = book.keys(text, "follow_up")
    words = len(text.split())
    if evidence_ids(text) and ("evidence" in keys or words <= SHORT_WORDS):
        return "evidence"
    if "rollback" in keys:
        return "rollback"
    if "apply" in keys and ("all" in keys or _names_suggestion(text)):
        return "apply"
    if "explain" in keys and words <= SHORT_WORDS and "same" not in keys:
        return "explain"
    if "evidence" in keys:
        return "evidence"
    if "same" in keys:
        return "same"
    return "request"


def _names_suggestion(text: str) -> bool:
    import re

    return bool(re.search(r"\b[sS]\d{1,2}\b|\d{1,2}\s*번|suggestion\s*\d|제안\s*\d", text))


async def follow_up(state: OpsState, config: RunnableConfig) -> Command[Literal["planner", "diagnostician", "supervisor"]]:
    """Answer from the thread's context, or hand the words on with it."""
    ctx = context_from(config)
    conversation = state["conversation"]
    assert conversation is not None
    request = state["request"]
    text = (request.text or "").strip()
    language = "ko" if has_hangul(text) else "en"
    kind = classify_follow_up(text, ctx.settings.config_dir) if request.alert is None else "request"
    if kind in ("explain", "evidence"):
        answer = explain(conversation, language) if kind == "explain" else show_evidence(conversation, evidence_ids(text), language)
        change = SpecChange(intent="query", task="explain", environment=conversation.environment,  # type: ignore[arg-type]
                            answer=answer, rationale=f"follow-up ({kind}) answered from turn {conversation.turn - 1} of the thread")
        note = AgentNote(agent="planner", text=f"follow-up in turn {conversation.turn}: {kind}, answered from the thread's context")
        return Command(goto="supervisor", update={"route": ["follow_up"], "spec_change": change, "notes": [note]})
    update: dict[str, Any] = {}
    if not request.environment_explicit and conversation.environment and request.alert is None:
        # the environment of the turn before, as if the person had chosen it again
        update["request"] = request.model_copy(update={"environment": conversation.environment, "environment_explicit": True})
    if kind == "request" and (request.alert is not None or classify_text(text) == "diagnostician"):
        return Command(goto="diagnostician", update=update)
    return Command(goto="planner", update=update)


__all__ = ["classify_follow_up", "follow_up"]
