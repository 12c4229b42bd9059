"""Running the graph for a door: start a thread, resume it with a decision, summarize it.

Doors (CLI, Slack, web, replay) call these functions and never touch the
graph directly, so every door gets the same checkpointing, registry entries
and outcome shape.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import BaseModel, Field, model_validator

from agents.context import AgentContext
from config.settings import Settings
from graphs.errors import UserInputError
from graphs.ops_graph import compile_graph
from graphs.report import build_report
from graphs.state import (
    ActionRecord, AgentNote, ApprovalDecision, ApprovalRequest, Diagnosis, Evidence, Proposal, Question, Report, Request,
    RoleUsage, SpecChange, StageGate, UserRef,
)
from graphs.threads import ThreadInfo, new_thread_id, open_registry as registry  # noqa: F401 (new_thread_id: doors import it here)
from tools.policy import check_decision, default_policy, describe_rules

RECURSION_LIMIT = 60


class RunOutcome(BaseModel):
    """What a door shows and replay records about one run."""

    thread_id: str
    scenario_id: str | None = None
    status: str
    headline: str
    route: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None
    spec_change: SpecChange | None = None
    proposals: list[Proposal] = Field(default_factory=list)
    approval_requests: list[ApprovalRequest] = Field(default_factory=list)
    decisions: list[ApprovalDecision] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)
    notes: list[AgentNote] = Field(default_factory=list)
    usage: dict[str, RoleUsage] = Field(default_factory=dict)
    pending_approval: ApprovalRequest | None = None
    report: Report | None = None
    wall_s: float = 0.0
    error: str | None = None
    # issue 16: the thread goes on. `thread` is the id to answer or follow up with (`ask --thread`, a Slack reply,
    # the widget); `question` is what a needs_input run waits for; `waiting` says what the run waits on.
    thread: str = ""
    question: str | None = None
    questions: list[str] = Field(default_factory=list)
    waiting: Literal["approval", "answer", "gate"] | None = None
    turn: int = 1
    gate: StageGate | None = None  # the gate the run waits at
    stage_gates: list[StageGate] = Field(default_factory=list)  # the gates passed or failed so far

    @model_validator(mode="after")
    def _thread_defaults_to_thread_id(self) -> "RunOutcome":
        if not self.thread:
            self.thread = self.thread_id
        return self


def _config(thread_id: str, ctx: AgentContext) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "ctx": ctx}, "recursion_limit": RECURSION_LIMIT}


def waiting_on(snapshot: Any) -> tuple[str | None, Any]:
    """What a checkpointed run waits for: ("approval", ApprovalRequest), ("answer", Question), ("gate", StageGate)
    or (None, None)."""
    for task in snapshot.tasks:
        for intr in task.interrupts:
            value = intr.value
            kind = value.get("kind") if isinstance(value, dict) else None
            if kind == "question":
                return "answer", Question.model_validate(value)
            if kind == "gate":
                return "gate", StageGate.model_validate({k: v for k, v in value.items() if k != "kind"})
            return "approval", ApprovalRequest.model_validate(value)
    return None, None


async def _outcome(graph: Any, config: dict[str, Any], started: float, scenario_id: str | None = None,
                   thread_id: str | None = None, turn: int = 1) -> RunOutcome:
    snapshot = await graph.aget_state(config)
    values = dict(snapshot.values)
    waiting, payload = waiting_on(snapshot)
    pending = payload if waiting == "approval" else None
    question = payload if waiting == "answer" else None
    gate = payload if waiting == "gate" else None
    rebuild = waiting is not None or values.get("report") is None
    report = build_report(values, interrupted=pending is not None, gate=gate) if rebuild else values["report"]
    return RunOutcome(
        thread_id=thread_id or config["configurable"]["thread_id"], scenario_id=scenario_id, status=report.status,
        headline=report.headline, waiting=waiting, question=question.text if question else None,  # type: ignore[union-attr]
        questions=list(question.questions) if question else [], turn=turn, gate=gate,  # type: ignore[union-attr]
        stage_gates=values.get("stage_gates") or [],
        route=values.get("route") or [], evidence=values.get("evidence") or [], diagnosis=values.get("diagnosis"),
        spec_change=values.get("spec_change"), proposals=values.get("proposals") or [],
        approval_requests=values.get("approval_requests") or [], decisions=values.get("decisions") or [],
        actions=values.get("actions") or [], notes=values.get("notes") or [], usage=values.get("usage") or {},
        pending_approval=pending, report=report, wall_s=round(time.perf_counter() - started, 3),
    )


def _remember(ctx: AgentContext, outcome: RunOutcome) -> None:
    """A finished run with a diagnosis becomes a past incident for the next diagnosis."""
    remember = getattr(ctx.memory, "remember", None)
    if remember is not None and outcome.status == "completed" and outcome.diagnosis is not None:
        remember(outcome, thread_id=outcome.thread_id)


def _record(settings: Settings, defaults: ThreadInfo, outcome: RunOutcome) -> None:
    """Write what doors show without loading the graph: status, headline, the approval waited for, the report."""
    reg = registry(settings)
    info = reg.find(defaults.thread_id) or defaults
    pending = outcome.pending_approval
    info.status = outcome.status
    info.headline = outcome.headline
    info.waiting_for = describe_rules(pending.still_needed) if pending else ""
    info.question = outcome.question
    info.resume_at = outcome.gate.not_before if outcome.gate is not None else None
    if outcome.question:
        info.waiting_for = f"an answer: {outcome.question}"
    elif outcome.gate is not None:
        info.waiting_for = f"the stage gate: {outcome.gate.detail}"
    info.pending = pending
    info.decisions = [d for d in outcome.decisions if pending is not None and d.request_id == pending.id]
    info.report = outcome.report
    reg.save(info)


async def start_run(request: Request, ctx: AgentContext, checkpointer: Any, *, thread_id: str | None = None,
                    world: str = "live", scenario_path: str | None = None, scenario_id: str | None = None,
                    persist: bool = True, seed: dict[str, Any] | None = None, graph_thread: str | None = None,
                    turn: int = 1) -> RunOutcome:
    """Run a new request until it finishes or waits for a person.

    `seed` adds state to the first step (a rollback request arrives with its proposal already made; a follow-up
    arrives with its thread's context). `graph_thread` checkpoints a later turn of a thread apart from the
    thread's first (graphs/conversation.py); the outcome still names the thread."""
    started = time.perf_counter()
    thread_id = thread_id or new_thread_id(request.door)
    graph = compile_graph(checkpointer)
    config = _config(graph_thread or thread_id, ctx)
    await graph.ainvoke({**(seed or {}), "request": request}, config)
    outcome = await _outcome(graph, config, started, scenario_id, thread_id=thread_id, turn=turn)
    if persist:
        _record(ctx.settings, ThreadInfo(thread_id=thread_id, door=request.door, world=world, scenario_path=scenario_path,
                                         environment=request.environment, requested_by=request.user.id, request=request),
                outcome)
        _remember(ctx, outcome)
    return outcome


async def resume_run(ctx: AgentContext, checkpointer: Any, thread_id: str) -> RunOutcome | None:
    """Carry on a thread whose worker stopped mid-run, from its last checkpoint; None when nothing was checkpointed.

    A thread that already waits for a person is only summarized: it has nothing to carry on."""
    started = time.perf_counter()
    graph = compile_graph(checkpointer)
    info = registry(ctx.settings).get(thread_id)
    config = _config(info.graph_thread or thread_id, ctx)
    snapshot = await graph.aget_state(config)
    if not snapshot.values:
        return None
    waiting = any(task.interrupts for task in snapshot.tasks)
    if snapshot.next and not waiting:
        await graph.ainvoke(None, config)
    outcome = await _outcome(graph, config, started, thread_id=thread_id, turn=info.turns)
    _record(ctx.settings, info, outcome)
    _remember(ctx, outcome)
    return outcome


def approval_thread(ctx: AgentContext, thread_id: str) -> str:
    """The checkpointed thread that holds a thread's approval: its first turn's, or the turn that waits."""
    info = registry(ctx.settings).find(thread_id)
    return (info.graph_thread if info is not None and info.graph_thread else None) or thread_id


async def pending_request(ctx: AgentContext, checkpointer: Any, thread_id: str) -> ApprovalRequest | None:
    graph = compile_graph(checkpointer)
    snapshot = await graph.aget_state(_config(approval_thread(ctx, thread_id), ctx))
    waiting, payload = waiting_on(snapshot)
    return payload if waiting == "approval" else None


async def decide(ctx: AgentContext, checkpointer: Any, thread_id: str, decision: ApprovalDecision) -> RunOutcome:
    """Resume a paused thread with one person's decision (checked against the policy first)."""
    started = time.perf_counter()
    info = registry(ctx.settings).get(thread_id)
    graph = compile_graph(checkpointer)
    config = _config(info.graph_thread or thread_id, ctx)
    snapshot = await graph.aget_state(config)
    request = await pending_request(ctx, checkpointer, thread_id)
    if request is None:
        raise UserInputError(f"run {thread_id} is not waiting for an approval (status: {info.status})")
    decision = decision.model_copy(update={"request_id": request.id})
    prior = [d for d in snapshot.values.get("decisions") or [] if d.request_id == request.id]
    check_decision(default_policy(), request, decision, prior)
    await graph.ainvoke(Command(resume=decision.model_dump(mode="json")), config)
    outcome = await _outcome(graph, config, started, thread_id=thread_id, turn=info.turns)
    _record(ctx.settings, info, outcome)
    _remember(ctx, outcome)
    return outcome


async def run_scenario(scenario: Any, settings: Settings, *, models: Any = None, memory: Any = None,
                       checkpointer: Any = None, thread_id: str | None = None, persist: bool = False) -> RunOutcome:
    """Replay one recorded scenario through the same graph, guard and policies.

    A scenario may carry `approvals` (a project key): the decisions people gave, applied in order while the run
    waits for one, each judged by the policy as a live decision is; the deployer then runs what was approved
    against the recording (when it records the remedies' outputs and the state after them)."""
    from graphs.checkpoints import serializer
    from tools.world import RecordedWorld

    world = scenario.world
    ctx = AgentContext(world=RecordedWorld(world), settings=settings, models=models, memory=memory)
    checkpointer = checkpointer or InMemorySaver(serde=serializer())
    thread_id = thread_id or f"replay-{scenario.id}"
    request = scenario.to_request()
    outcome = await start_run(
        request, ctx, checkpointer, thread_id=thread_id,
        world="recorded", scenario_path=scenario.path, scenario_id=scenario.id, persist=persist,
    )
    # Project keys: `approvals` answer the run when it waits for one; `replies` are what people said next in the
    # thread (an answer to its question, or a follow-up), each in turn (graphs/conversation.py).
    approvals = list(getattr(scenario, "approvals", None) or [])
    replies = list(getattr(scenario, "replies", None) or [])
    info = ThreadInfo(thread_id=thread_id, door="replay", world="recorded", environment=scenario.environment, status=outcome.status)
    while True:
        if outcome.pending_approval is not None and approvals:
            outcome = await _replay_decision(ctx, checkpointer, info.graph_thread or thread_id, ApprovalDecision.model_validate(
                {"request_id": outcome.pending_approval.id, **approvals.pop(0)}), scenario.id, thread_id, info.turns)
            continue
        if not replies:
            return outcome
        raw = replies.pop(0)
        said = {"text": raw} if isinstance(raw, str) else dict(raw)
        world = _world_after(world, outcome)
        ctx = AgentContext(world=RecordedWorld(world), settings=settings, models=models, memory=memory)
        info.status = outcome.status
        words = request.model_copy(update={"text": said["text"], "alert": None,
                                           "user": UserRef.model_validate(said["user"]) if said.get("user") else request.user})
        from graphs.conversation import continue_thread

        outcome = await continue_thread(ctx, checkpointer, thread_id, words, info=info, persist=False, scenario_id=scenario.id)


def _world_after(world: Any, outcome: RunOutcome) -> Any:
    """The recording as a live apply would have left it: a completed, approved spec change is in the spec now (of a
    staged delivery that stopped, the stages delivered before it stopped)."""
    change = outcome.spec_change
    if change is None or not change.changes or not outcome.proposals or not world.infra.spec:
        return world
    delivered = {g.environment for g in outcome.stage_gates} if change.stages else set()
    if outcome.status != "completed" and not delivered:
        return world
    applied = {p: v for p, v in change.changes.items() if outcome.status == "completed" or p.split(".")[1] in delivered}
    from tools.spec import SpecError, apply_changes

    try:
        spec = apply_changes(world.infra.spec, applied)
    except SpecError:
        return world
    return world.model_copy(update={"infra": world.infra.model_copy(update={"spec": spec})})


async def _replay_decision(ctx: AgentContext, checkpointer: Any, graph_thread: str, decision: ApprovalDecision, scenario_id: str,
                           thread_id: str | None = None, turn: int = 1) -> RunOutcome:
    started = time.perf_counter()
    graph = compile_graph(checkpointer)
    config = _config(graph_thread, ctx)
    await graph.ainvoke(Command(resume=decision.model_dump(mode="json")), config)
    return await _outcome(graph, config, started, scenario_id, thread_id=thread_id or graph_thread, turn=turn)