"""The gate between two stages of a staged delivery ("dev → staging → prod").

After one environment's change is delivered, the next environment's change is
put to its approvers only when the environment before it has stayed healthy
for the configured time since (config/stages.yaml): every metric read inside
its limits for the whole window, and every health read answering as expected
(catalogue reads through the guard). Until the time has passed the run waits
here (an interrupt: a person's "continue" in the thread, or the worker's
scheduler, checks again); a breach stops the rollout there, and the
environments after it are never started.

In a recorded world the recording is the clock: the window runs from the
request's time to the last recorded point.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, interrupt

from agents.context import AgentContext, context_from
from graphs.routing import next_stage
from graphs.state import AgentNote, OpsState, StageGate
from tools.catalogue import ToolCall, ToolParamError
from tools.spec import SpecError, current_spec
from tools.stage_health import GateVerdict, MetricLimit, StagesConfig, judge_metrics, load_stages_config


def _delivered(state: OpsState, ctx: AgentContext) -> tuple[bool, str]:
    """Whether the previous stage's change was delivered (a replay counts its skipped steps as delivered)."""
    if state.get("deployed"):
        return True, ""
    mine = [a for a in state.get("actions") or [] if a.by == "deployer"]
    if ctx.world.name == "recorded" and mine and all(a.status == "skipped" for a in mine[-3:]):
        return True, "replay: not applied (recorded world)"
    last = next((a for a in reversed(mine) if a.status in ("failed", "refused")), None)
    return False, (f"{last.action}: {last.status}" if last else "nothing was applied")


def _since(state: OpsState, ctx: AgentContext) -> datetime:
    request = state["request"]
    if ctx.world.name == "recorded":
        return request.effective_time()
    deliveries = [a.at for a in state.get("actions") or [] if a.by == "deployer"]
    return max(deliveries) if deliveries else request.effective_time()


def _limits(config: StagesConfig, project: str, env: str) -> list[MetricLimit]:
    return [limit.model_copy(update={"name": limit.name.format(project=project, env=env)}) for limit in config.health.metrics]


async def _health_reads(ctx: AgentContext, config: StagesConfig, env: str) -> tuple[list[str], list[str]]:
    """(lines, failures) of the configured health reads, run now through the guard."""
    lines: list[str] = []
    failures: list[str] = []
    tools = ctx.tools("stage_gate", env)
    for check in config.health.checks:
        params = {k: (v.format(env=env) if isinstance(v, str) else v) for k, v in check.params.items()}
        try:
            outcome = await tools.call(ToolCall(tool=check.tool, params=params))
        except ToolParamError as exc:
            failures.append(f"{check.tool} could not run: {exc}")
            lines.append(f"{check.tool} {params}: not run ({exc})")
            continue
        facts = outcome.facts or {}
        code = facts.get("http_code")
        if outcome.result is None or not outcome.result.ok or code != check.expect_status:
            why = (outcome.action.output or "") if outcome.result is None else (outcome.result.stderr.strip() or f"HTTP {code}")
            failures.append(f"{check.tool} {params.get('url', '')}: {why or 'no answer'}")
            lines.append(f"{check.tool} {params.get('url', '')}: {why or 'no answer'} (want {check.expect_status})")
        else:
            lines.append(f"{check.tool} {params.get('url', '')}: HTTP {code}")
    return lines, failures


async def evaluate_gate(state: OpsState, ctx: AgentContext, previous: str, following: str) -> GateVerdict:
    config = load_stages_config(ctx.settings.config_dir)
    delivered, why = _delivered(state, ctx)
    if not delivered:
        return GateVerdict(status="failed", detail=f"{previous} was not delivered ({why}); {following} is not started")
    try:
        project = str(current_spec(ctx).get("project") or "")
    except SpecError:
        project = ""
    limits = _limits(config, project, previous)
    series: dict[str, list[tuple[str, float]]] = {}
    errors: list[str] = []
    for limit in limits:
        try:
            series[limit.name] = list(await ctx.world.read_metric(limit.name))
        except Exception as exc:  # a provider error is never health: the metric counts as without data
            series[limit.name] = []
            errors.append(f"{limit.name}: not read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
    since = _since(state, ctx)
    if ctx.world.name == "recorded":
        points = [datetime.fromisoformat(t.replace("Z", "+00:00")) for s in series.values() for t, _ in s]
        now = max(points) if points else since
    else:
        now = datetime.now(timezone.utc)
    verdict = judge_metrics(series, limits, since=since, now=now, healthy_for=config.healthy_for(previous),
                            no_data=config.health.no_data)
    verdict.lines = errors + verdict.lines
    if verdict.status != "passed":
        return verdict
    lines, failures = await _health_reads(ctx, config, previous)
    verdict.lines += lines
    if failures:
        return verdict.model_copy(update={"status": "failed", "detail": "health read failed: " + "; ".join(failures)})
    return verdict


async def stage_gate(state: OpsState, config: RunnableConfig) -> Command[Literal["request_approval", "supervisor", "stage_gate"]]:
    """Check the previous environment; pass to the next environment's approval, wait, or stop the rollout."""
    ctx = context_from(config)
    change = state["spec_change"]
    following = next_stage(state)
    assert change is not None and following is not None
    stages = change.stages
    previous = stages[stages.index(following) - 1] if stages.index(following) > 0 else stages[0]
    verdict = await evaluate_gate(state, ctx, previous, following)
    gate = StageGate(environment=previous, next_environment=following, status=verdict.status, detail=verdict.detail,
                     not_before=verdict.not_before, checks=verdict.lines)
    ctx.audit.append("stage_gate", environment=previous, next=following, status=gate.status, detail=gate.detail)
    if gate.status == "waiting":
        interrupt({"kind": "gate", **gate.model_dump(mode="json")})
        return Command(goto="stage_gate")  # resumed: check again, from the top
    if gate.status == "failed":
        note = AgentNote(agent="deployer", level="warning",
                         text=f"staged delivery stopped before {following}: {gate.detail}; "
                              f"{', '.join(stages[stages.index(following):])} not started. To undo what was delivered, "
                              "say \"roll it back\" in this thread (the change is reversed where it was applied, with its approvals)")
        return Command(goto="supervisor", update={"stage_gates": [gate], "approval_status": "blocked", "notes": [note]})
    note = AgentNote(agent="deployer", text=f"stage gate {previous} → {following} passed: {gate.detail}")
    update: dict[str, Any] = {"stage_gates": [gate], "approval_status": "none", "deployed": False, "notes": [note]}
    return Command(goto="request_approval", update=update)


__all__ = ["evaluate_gate", "stage_gate"]
