"""Threads that continue: an answer resumes the run that asked, a follow-up in a finished thread is a new turn.

Every door (`cloud-doctor ask --thread`, a reply in the Slack thread, the
widget's conversation) hands the words it got to `continue_thread`, which
looks at what the thread's run waits for:

- a question (`needs_input`): the words are the answer; the same run resumes
  (graphs/questions.py) and goes on to its plan, approvals and delivery;
- a stage gate: the gate is checked again (graphs/stages.py); words that only
  ask about the thread ("why?") are answered beside it;
- an approval: the words are a follow-up answered beside the approval (they
  may read, never start another change while one waits);
- nothing (the run finished): the words are a new turn of the same thread,
  started with the last turn's context (its plan, diagnosis, evidence and
  proposals) so "why?", "show me E3", "do the same in prod" or "roll it back"
  mean what they say (agents/conversation).

A later turn is checkpointed under its own graph thread (`<thread>~<turn>`):
each turn's state, report and approvals stay its own, and the registry keeps
which turn holds the thread's state now.
"""

from __future__ import annotations

import time
from typing import Any

from langgraph.types import Command

from agents.context import AgentContext
from graphs.errors import UserInputError
from graphs.ops_graph import compile_graph
from graphs.runner import RunOutcome, _config, _outcome, _record, _remember, start_run, waiting_on
from graphs.state import (
    ConversationContext, Diagnosis, Evidence, OpsState, Proposal, Reply, Request, SpecChange, TurnSummary,
)
from graphs.threads import ThreadInfo, open_registry

TURN_MARK = "~"
EXCERPT_CHARS = 2000  # evidence excerpts a later turn keeps (the report quotes them, it never re-reads the world)


def turn_thread(thread_id: str, turn: int) -> str:
    """The checkpointed thread of a turn: the thread's own id for the first turn, `<thread>~<turn>` after."""
    return thread_id if turn <= 1 else f"{thread_id}{TURN_MARK}{turn}"


def _environment_of(values: OpsState) -> str | None:
    change: SpecChange | None = values.get("spec_change")
    if change is not None and change.environment and change.environment != "all":
        return change.environment
    proposals: list[Proposal] = values.get("proposals") or []
    if proposals:
        return proposals[-1].environment
    request: Request | None = values.get("request")
    if request is not None and (request.environment_explicit or request.alert is not None):
        return request.environment
    return None


def conversation_context(thread_id: str, turn: int, values: OpsState, *, waiting: str | None = None) -> ConversationContext:
    """What the next turn of a thread knows: the last turn's words, plan, diagnosis, evidence and proposals."""
    request: Request | None = values.get("request")
    before: ConversationContext | None = values.get("conversation")
    report = values.get("report")
    previous = list(before.previous) if before is not None else []
    previous.append(TurnSummary(turn=turn - 1, text=(request.text or "") if request else "",
                                status=report.status if report else "", headline=report.headline if report else "",
                                environment=_environment_of(values)))
    evidence: list[Evidence] = [e.model_copy(update={"excerpt": e.excerpt[:EXCERPT_CHARS]}) for e in values.get("evidence") or []]
    diagnosis: Diagnosis | None = values.get("diagnosis")
    context = ConversationContext(
        thread_id=thread_id, turn=turn, previous=previous[-10:], text=(request.text or "") if request else "",
        environment=_environment_of(values), spec_change=values.get("spec_change"), diagnosis=diagnosis,
        evidence=evidence, proposals=list(values.get("proposals") or []),
        approval_status=values.get("approval_status") or "none", deployed=bool(values.get("deployed")), waiting=waiting,
        notes=list(values.get("notes") or [])[-40:], approvals=list(values.get("approval_requests") or []),
        stage_gates=list(values.get("stage_gates") or []),
    )
    return _carried(context, before)


def _carried(context: ConversationContext, before: ConversationContext | None) -> ConversationContext:
    """A turn that only talked ("why?", a cost question) leaves the thread's last change, diagnosis and evidence in place:
    "do the same in prod" after "why?" still means the change before it."""
    if before is None:
        return context
    update: dict[str, Any] = {}
    change = context.spec_change
    made_something = change is not None and bool(change.changes or change.suggestions or change.drift or change.stages)
    if not made_something and before.spec_change is not None:
        update.update(spec_change=before.spec_change, text=before.text, proposals=before.proposals, approvals=before.approvals,
                      approval_status=before.approval_status, deployed=before.deployed, notes=before.notes,
                      stage_gates=before.stage_gates,
                      environment=context.environment or before.environment)
    if context.diagnosis is None and before.diagnosis is not None:
        update.update(diagnosis=before.diagnosis, evidence=before.evidence or context.evidence)
    return context.model_copy(update=update) if update else context


async def continue_thread(ctx: AgentContext, checkpointer: Any, thread_id: str, request: Request, *,
                          info: ThreadInfo | None = None, persist: bool = True, scenario_id: str | None = None,
                          check_status: bool = True) -> RunOutcome:
    """Carry a thread on with a person's words: the answer its run waits for, or a new turn (see the module docstring).

    `info` and `persist=False` serve replay, which keeps the thread in memory instead of the registry."""
    if not (request.text or "").strip():
        raise UserInputError("say something to continue the thread with (an answer or a follow-up)")
    reg = open_registry(ctx.settings) if persist else None
    if info is None:
        assert reg is not None
        info = reg.get(thread_id)
    if check_status and info.status in ("queued", "running"):
        raise UserInputError(f"run {thread_id} is still {info.status}; reply when it has answered")
    started = time.perf_counter()
    graph = compile_graph(checkpointer)
    current = info.graph_thread or thread_id
    config = _config(current, ctx)
    snapshot = await graph.aget_state(config)
    if not snapshot.values:
        raise UserInputError(f"thread {thread_id} has no checkpointed run to continue (status: {info.status})")
    waiting, payload = waiting_on(snapshot)
    if waiting == "answer" or (waiting == "gate" and not _only_asks(request.text or "")):
        resume: dict[str, Any]
        if waiting == "answer":
            resume = Reply(text=request.text or "", user=request.user, question_id=payload.id).model_dump(mode="json")
        else:
            resume = {"kind": "recheck", "by": request.user.id, "text": request.text or ""}
        await graph.ainvoke(Command(resume=resume), config)
        outcome = await _outcome(graph, config, started, scenario_id, thread_id=thread_id, turn=info.turns)
        if persist:
            _record(ctx.settings, info, outcome)
            _remember(ctx, outcome)
        return outcome
    beside = waiting in ("approval", "gate")  # the waiting turn keeps the thread; this one only reads beside it
    turn = info.turns + 1
    seed = {"conversation": conversation_context(thread_id, turn, snapshot.values, waiting=waiting if beside else None)}
    graph_id = turn_thread(thread_id, turn)
    outcome = await start_run(request, ctx, checkpointer, thread_id=thread_id, graph_thread=graph_id, seed=seed,
                              persist=False, scenario_id=scenario_id, turn=turn)
    info.turns = turn
    if not beside:
        info.graph_thread = graph_id
    if persist:
        assert reg is not None
        stored = reg.find(thread_id) or info
        stored.turns, stored.graph_thread = info.turns, info.graph_thread
        reg.save(stored)
        if not beside:
            _record(ctx.settings, stored, outcome)
            _remember(ctx, outcome)
    return outcome


async def already_continued(ctx: AgentContext, checkpointer: Any, thread_id: str, request: Request) -> bool:
    """Whether these words already reached the thread's run (a worker stopped after resuming it, before finishing):
    its current turn started with them, or its run holds them as a reply."""
    info = open_registry(ctx.settings).find(thread_id)
    if info is None:
        return False
    snapshot = await compile_graph(checkpointer).aget_state(_config(info.graph_thread or thread_id, ctx))
    values = snapshot.values or {}
    current: Request | None = values.get("request")
    if current is not None and info.turns > 1 and current.text == request.text and current.user.id == request.user.id:
        return True
    return any(r.text == (request.text or "").strip() and r.user.id == request.user.id for r in values.get("replies") or [])


def _only_asks(text: str) -> bool:
    """Words that ask about the thread ("why?", "show me E3") rather than ask the gate to be checked again."""
    from agents.conversation.followup import classify_follow_up

    return classify_follow_up(text) in ("explain", "evidence")


__all__ = ["TURN_MARK", "already_continued", "continue_thread", "conversation_context", "turn_thread"]
