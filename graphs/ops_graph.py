"""The one graph every door runs: supervisor, five agents, the approval gate, the reporter.

Read top to bottom, this is the whole flow:

    START -> supervisor -> planner | diagnostician | terraform_author | code_healer | deployer
                 ^             (each agent returns to the supervisor)
                 |-> request_approval -> await_approval (interrupt) -> supervisor -> deployer
                 |-> await_answer (interrupt: a question; a reply resumes) -> planner
                 |-> follow_up (a later turn of a thread) -> planner | diagnostician | supervisor
                 |-> stage_gate (staged delivery: the previous environment healthy long enough) -> request_approval
                 |-> register_schedule (a recurring check becomes a scheduled run) -> supervisor
                 '-> reporter -> END
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from agents.code_healer import code_healer
from agents.conversation.followup import follow_up
from agents.deployer import deployer
from agents.diagnostician import diagnostician
from agents.planner import planner
from agents.remedies import command_proposals
from agents.terraform_author import terraform_author
from graphs.approval import await_approval, request_approval
from graphs.questions import await_answer
from graphs.schedules import register_schedule
from graphs.stages import stage_gate
from graphs.report import build_report
from graphs.routing import supervisor
from graphs.state import OpsState


async def diagnose_and_remedy(state: OpsState, config: RunnableConfig) -> dict[str, Any]:
    """The diagnostician, plus the command remedy its diagnosis calls for (if any)."""
    update = await diagnostician(state, config)
    diagnosis = update.get("diagnosis")
    if diagnosis is not None and diagnosis.fix_kind == "command" and not update.get("proposals"):
        proposals, notes = command_proposals(diagnosis, state["request"], update.get("evidence") or [])
        update["proposals"] = proposals
        update["notes"] = [*(update.get("notes") or []), *notes]
    return update


async def reporter(state: OpsState, config: RunnableConfig) -> dict[str, Any]:
    return {"report": build_report(state)}


def build_graph() -> StateGraph:
    graph = StateGraph(OpsState)
    graph.add_node("supervisor", supervisor)
    graph.add_node("planner", planner)
    graph.add_node("diagnostician", diagnose_and_remedy)
    graph.add_node("terraform_author", terraform_author)
    graph.add_node("code_healer", code_healer)
    graph.add_node("deployer", deployer)
    graph.add_node("request_approval", request_approval)
    graph.add_node("await_approval", await_approval)
    graph.add_node("reporter", reporter)
    graph.add_node("follow_up", follow_up)
    graph.add_node("await_answer", await_answer)
    graph.add_node("stage_gate", stage_gate)
    graph.add_node("register_schedule", register_schedule)
    graph.add_edge("register_schedule", "supervisor")
    graph.add_edge(START, "supervisor")
    for agent in ("planner", "diagnostician", "terraform_author", "code_healer", "deployer"):
        graph.add_edge(agent, "supervisor")
    graph.add_edge("reporter", END)
    return graph


def compile_graph(checkpointer: Any = None):
    return build_graph().compile(checkpointer=checkpointer)
