"""One bounded tool-calling loop, shared by the diagnostician, the planner and the Terraform author.

The model sees a system prompt (prompts/loop.md), a first observation (the
agent's own prompt: evidence, candidates, the rules' answer) and the tools:
the answer tool first, then read tools. Each turn it may call read tools or
answer. The loop
- validates every tool call's parameters against the tool's JSON Schema
  (and the tool's own typed check) and sends errors back as tool results;
- refuses identical repeated calls, and calls beyond the tool budget;
- cuts oversized results with a note naming the parameters that narrow them;
- checks the answer (schema, then the agent's own validation) and sends a
  rejection back once;
- stops on any spent budget (steps, tokens, cost, wall time) or model
  failure, saying which; the caller then keeps the best answer it has
  (the rules').
Nothing in a tool result is ever executed: it is text for the model and
evidence for the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Generic, TypeVar

from jsonschema import Draft202012Validator
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from agents.investigator.budget import BudgetTracker, LoopBudget
from agents.llm import load_prompt, parse_answer, render_prompt, schema_tool
from agents.llm_usage import usages_of
from graphs.errors import ProviderError
from graphs.state import Evidence, RoleUsage, merge_usage
from tools.redact import redact

A = TypeVar("A", bound=BaseModel)


class ToolParamProblem(Exception):
    """A tool refused its parameters; the message names the parameter and what is allowed."""


@dataclass
class ToolReply:
    """What one read returned: text for the model (already redacted) and, for world reads, the evidence it became."""

    text: str
    evidence: Evidence | None = None
    ref: str = ""  # how a repeated call is told where the first result is ("[E14]")


@dataclass
class LoopTool:
    name: str  # as the model sees it (provider-safe: letters, digits, _ and -)
    description: str
    schema: dict[str, Any]  # JSON Schema of the parameters object
    run: Callable[[dict[str, Any]], Awaitable[ToolReply]]
    volume_params: tuple[str, ...] = ()  # parameters that make a result smaller, named when it is cut

    def definition(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": self.description, "parameters": self.schema}}


@dataclass
class LoopOutcome(Generic[A]):
    answer: A | None = None
    stopped: str = ""  # why the loop ended without an accepted answer ("" when answered)
    usages: dict[str, RoleUsage] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    tool_log: list[str] = field(default_factory=list)  # one line per tool call, for the report
    spent: str = ""


def cut_result(text: str, limit: int, volume_params: tuple[str, ...]) -> str:
    if len(text) <= limit:
        return text
    how = f" with {', '.join(volume_params)}" if volume_params else ""
    return (text[:limit] + f"\n[cut: {limit:,} of {len(text):,} characters shown; the rest is in the evidence. "
            f"Narrow the query{how} if you need a different part.]")


def parameter_problem(schema: dict[str, Any], params: Any) -> str | None:
    """The first way `params` breaks the schema, in one line naming the parameter, or None."""
    if not isinstance(params, dict):
        return "parameters must be an object"
    errors = sorted(Draft202012Validator(schema).iter_errors(params), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    err = errors[0]
    where = ".".join(str(p) for p in err.absolute_path) or "parameters"
    return f"parameter {where!r}: {err.message}"[:400]


async def run_loop(models: Any, role: str, *, agent: str, observation: str, tools: list[LoopTool], answer_schema: type[A],
                   answer_tool: str, answer_description: str, validate: Callable[[A, list[Evidence]], Awaitable[str | None]],
                   budget: LoopBudget) -> LoopOutcome[A]:
    """Run the loop until an accepted answer, a spent budget or a model failure."""
    outcome: LoopOutcome[A] = LoopOutcome()
    tracker = BudgetTracker(budget)
    system = render_prompt(load_prompt(str(models.settings.prompts_dir), "loop"), {
        "agent": agent, "max_steps": str(budget.max_steps), "max_tool_calls": str(budget.max_tool_calls), "answer_tool": answer_tool})
    messages: list[BaseMessage] = [SystemMessage(content=system), HumanMessage(content=redact(observation))]
    answer_def = schema_tool(answer_schema, name=answer_tool, description=answer_description)
    by_name = {t.name: t for t in tools}
    seen: dict[str, str] = {}
    for step in range(1, budget.max_steps + 1):
        reason = tracker.spent()
        if reason:
            outcome.stopped = reason
            break
        last = step == budget.max_steps
        offered = [answer_def] + ([t.definition() for t in tools] if tools and not last and tracker.tools_left() > 0 else [])
        choice = answer_tool if len(offered) == 1 else "any"
        try:
            reply = await models.converse(role, messages, tools=offered, tool_choice=choice,
                                          timeout=max(1.0, min(models.limits.call_timeout_s, tracker.wall_left())))
        except ProviderError as exc:
            outcome.usages = merge_usage(outcome.usages, usages_of(exc))
            for spent in usages_of(exc).values():
                tracker.spend(spent)
            outcome.stopped = f"the model is unavailable ({exc})"
            break
        outcome.usages = merge_usage(outcome.usages, {reply.key: reply.usage})
        tracker.spend(reply.usage)
        message: AIMessage = reply.message
        messages.append(message)
        calls = list(message.tool_calls or [])
        if not calls:
            messages.append(HumanMessage(content=f"Call a tool, or call `{answer_tool}` with your answer."))
            continue
        answered: A | None = None
        results: list[ToolMessage] = []
        for call in calls:
            name, args, call_id = call.get("name", ""), call.get("args") or {}, call.get("id") or f"call_{step}"
            if name == answer_tool:
                text, answered = await _judge_answer(outcome, answer_schema, answer_tool, args, validate, budget)
            else:
                text = await _run_tool(outcome, tracker, by_name, seen, name, args, budget)
            results.append(ToolMessage(content=text, tool_call_id=call_id, name=name))
        messages.extend(results)
        if answered is not None:
            outcome.answer = answered
            break
        if len(outcome.rejections) > budget.answer_retries:
            outcome.stopped = f"no acceptable answer in {len(outcome.rejections)} attempts"
            break
    else:
        outcome.stopped = f"step budget ({budget.max_steps} model calls) reached without an accepted answer"
    outcome.spent = tracker.describe()
    return outcome


async def _judge_answer(outcome: LoopOutcome[A], schema: type[A], tool: str, args: dict[str, Any],
                        validate: Callable[[A, list[Evidence]], Awaitable[str | None]], budget: LoopBudget) -> tuple[str, A | None]:
    try:
        answer = parse_answer(AIMessage(content="", tool_calls=[{"name": tool, "args": args, "id": "answer"}]), schema, tool)
        problem = await validate(answer, outcome.evidence)  # the loop's own reads may be cited too
    except ValueError as exc:
        answer, problem = None, f"the answer does not fit the schema: {exc}"
    if problem is None and answer is not None:
        return "accepted", answer
    outcome.rejections.append(redact(problem or "rejected"))
    left = budget.answer_retries + 1 - len(outcome.rejections)
    return (f"rejected: {problem}. " + ("Answer again." if left > 0 else "No attempts left.")), None


async def _run_tool(outcome: LoopOutcome[Any], tracker: BudgetTracker, by_name: dict[str, LoopTool], seen: dict[str, str],
                    name: str, args: dict[str, Any], budget: LoopBudget) -> str:
    tool = by_name.get(name)
    shown = f"{name}({json.dumps(args, ensure_ascii=False, sort_keys=True)[:200]})"
    if tool is None:
        outcome.tool_log.append(f"{shown}: unknown tool")
        return f"error: there is no tool {name!r}; the tools are: {', '.join(sorted(by_name)) or 'none'}"
    key = json.dumps([name, args], sort_keys=True, ensure_ascii=False)
    if key in seen:
        outcome.tool_log.append(f"{shown}: refused (repeated)")
        return f"refused: you already called {name} with these parameters; its result is {seen[key] or 'above'}"
    problem = parameter_problem(tool.schema, args)
    if problem:
        outcome.tool_log.append(f"{shown}: {problem}")
        return f"error: {problem}"
    if tracker.tools_left() <= 0:
        outcome.tool_log.append(f"{shown}: refused (tool budget)")
        return f"refused: the tool budget ({budget.max_tool_calls} calls) is spent; answer with what you have"
    tracker.tool_calls += 1
    try:
        reply = await tool.run(args)
    except ToolParamProblem as exc:
        outcome.tool_log.append(f"{shown}: {exc}")
        return f"error: {exc}"
    except Exception as exc:  # a failing read is a result for the model, never the end of the run
        outcome.tool_log.append(f"{shown}: failed")
        return redact(f"error: the tool failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")[:400]
    seen[key] = reply.ref
    if reply.evidence is not None:
        outcome.evidence.append(reply.evidence)
    outcome.tool_log.append(f"{shown} -> {reply.ref or 'read'}")
    return cut_result(redact(reply.text), budget.max_result_chars, tool.volume_params)
