"""The run asks people, and waits: a clarifying question is an interrupt, and a reply resumes the same run.

The planner puts its question (or one question per ambiguous part of a compound
request, asked together) in the SpecChange; this node turns it into a
`Question` and waits with `interrupt()`. A reply from any door (the CLI's
`ask --thread`, a Slack reply in the thread, the widget) resumes the run with
a `Reply`, and the planner plans again with the answer folded in
(agents/planning/replies.py). Nothing before the interrupt has side effects,
so re-running this node on resume is safe.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from agents.context import context_from
from graphs.state import AgentNote, OpsState, Question, Reply
from tools.redact import redact


def question_for(state: OpsState) -> Question:
    """The question the run's plan asks now; its id counts the questions asked before it in this run."""
    change = state["spec_change"]
    assert change is not None and change.question
    asked = len(state.get("replies") or []) + 1
    return Question(id=f"Q{asked}", text=change.question, questions=list(change.questions) or [change.question],
                    choices=list(change.choices), environment=change.environment if change.environment != "all" else None)


def is_question(payload: Any) -> bool:
    """Whether an interrupt's payload is a question (an approval request has no `kind`)."""
    return isinstance(payload, dict) and payload.get("kind") == "question"


async def await_answer(state: OpsState, config: RunnableConfig) -> Command[Literal["planner", "await_answer"]]:
    """Wait for one reply to the plan's question; the planner then plans again with it."""
    ctx = context_from(config)
    question = question_for(state)
    payload = interrupt(question.model_dump(mode="json"))
    try:
        reply = Reply.model_validate(payload)
    except ValidationError as exc:
        message = str(exc).splitlines()[0]
        return Command(goto="await_answer", update={"notes": [AgentNote(agent="planner", level="warning",
                                                                        text=f"reply refused: {message}")]})
    reply = reply.model_copy(update={"question_id": question.id, "text": reply.text.strip()})
    ctx.audit.append("answer", question=question.id, user=reply.user.id, name=reply.user.name, text=redact(reply.text)[:500])
    return Command(goto="planner", update={"replies": [reply]})


__all__ = ["await_answer", "is_question", "question_for"]
