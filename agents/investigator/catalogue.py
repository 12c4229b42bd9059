"""The one place the loop meets the typed tool catalogue (tools/catalogue.py, tools/executor.py).

The catalogue's READ tools become loop tools: the model-facing name is the
catalogue name with dots as underscores (providers allow no dots), the
parameters are the tool's own JSON Schema plus `host` for host-scoped tools
(one of the incident's hosts). A call becomes a typed `ToolCall` run by the
guarded executor (`ctx.tools(agent, environment).call`): its verdict, its
redacted and capped output and its parser's facts come back; the outcome
becomes ordinary Evidence with the next E-number. Actions are never offered
and never run here.

Where no catalogue can be loaded (a custom config folder without
config/tools), the loop runs with no read tools: the model answers from
the rules' evidence and the report says so.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable

from agents.investigator.loop import LoopTool, ToolParamProblem, ToolReply
from graphs.errors import CloudDoctorError
from graphs.state import ActionRecord, Evidence

EXCERPT_CHARS = 4000


def load_catalogue() -> Any | None:
    """The typed tool catalogue, or None where it is not installed (yet) or its folder is missing."""
    try:
        from tools.catalogue import default_catalogue  # type: ignore[import-not-found]

        return default_catalogue()
    except (ImportError, CloudDoctorError):
        return None


def _catalogue_types() -> tuple[Any, type[Exception]]:
    """(ToolCall, ToolParamError) of the catalogue."""
    from tools.catalogue import ToolCall, ToolParamError  # type: ignore[import-not-found]

    return ToolCall, ToolParamError


def model_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]


@dataclass
class ReadSession:
    """Read tools for one loop: the specs, how to run a call, and where evidence ids continue."""

    specs: list[Any]
    call: Callable[..., Any]  # async (ToolCall, *, timeout) -> ToolOutcome
    tool_call_type: Any
    param_error: type[Exception]
    hosts: list[str]
    next_id: Callable[[], str]
    actions: list[ActionRecord]
    timeout_s: float = 30.0


def read_session(ctx: Any, agent: str, environment: str, hosts: list[str], next_id: Callable[[], str],
                 catalogue: Any | None = None) -> ReadSession | None:
    """Read tools from the catalogue through the guarded executor, or None without a catalogue."""
    guarded = ctx.tools(agent, environment)
    if not hasattr(guarded, "call"):  # an executor without typed calls
        return None
    catalogue = catalogue if catalogue is not None else load_catalogue()
    if catalogue is None:
        return None
    tool_call_type, param_error = _catalogue_types()
    return ReadSession(specs=[s for s in catalogue.tools("read") if s.kind == "read"], call=guarded.call, tool_call_type=tool_call_type,
                       param_error=param_error, hosts=hosts, next_id=next_id, actions=[])


def loop_tools(session: ReadSession, families: list[str] | None = None, max_tools: int = 200) -> list[LoopTool]:
    """The session's read tools as loop tools: those of `families` (all when None), at most `max_tools`.

    Every tool takes `host`, one of the incident's hosts: required where the tool reads a host, optional
    where it reads a cluster, a database or an account (the executor then uses the control host)."""
    out = []
    chosen = session.specs if families is None else _fair_share(session.specs, families)
    for spec in chosen[:max_tools]:
        schema = json.loads(json.dumps(spec.json_schema()))
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        if spec.scope == "host" and not session.hosts:
            continue  # nowhere to run it
        if session.hosts:
            schema["properties"] = {"host": {"type": "string", "enum": list(session.hosts), "description": "which host to read (or run the client on)"},
                                    **schema["properties"]}
            if spec.scope == "host":
                schema["required"] = ["host", *[r for r in schema.get("required", []) if r != "host"]]
        volume = tuple(name for name, p in spec.params.items() if getattr(p, "role", "") == "volume")
        out.append(LoopTool(name=model_name(spec.name), description=f"{spec.description} (scope: {spec.scope})", schema=schema,
                            run=_runner(session, spec), volume_params=volume))
    return out


def _fair_share(specs: list[Any], families: list[str]) -> list[Any]:
    """The tools of `families`, one from each family in turn (the families in their order, each family's tools
    in catalogue order), so a cut at `max_tools` leaves every family its first reads instead of letting the
    largest family (host has 30) crowd out the journal of a memory incident."""
    queues = [[s for s in specs if s.name.split(".")[0] == family] for family in families]
    out: list[Any] = []
    while any(queues):
        out += [queue.pop(0) for queue in queues if queue]
    return out


def _runner(session: ReadSession, spec: Any) -> Callable[[dict[str, Any]], Any]:
    async def run(args: dict[str, Any]) -> ToolReply:
        params = dict(args)
        host = params.pop("host", None)
        call = session.tool_call_type(tool=spec.name, params=params, host=host)
        try:
            outcome = await session.call(call, timeout=session.timeout_s)
        except session.param_error as exc:
            raise ToolParamProblem(str(exc)) from None
        session.actions.append(outcome.action)
        return outcome_reply(session.next_id(), spec.name, host, outcome)

    return run


def outcome_reply(evidence_id: str, tool: str, host: str | None, outcome: Any) -> ToolReply:
    """A guarded read's outcome as evidence and as text for the model."""
    verdict, result, facts = outcome.verdict, outcome.result, outcome.facts or {}
    rendered = getattr(outcome, "call", None)
    argv = (rendered.argv if rendered is not None else None) or getattr(verdict, "argv", None)
    command = shlex.join(argv) if argv else tool
    where = f"{host}: " if host else ""
    if result is None:  # the guard did not let it run
        evidence = Evidence(id=evidence_id, kind="command", source=f"{where}{tool}", host=host, command=command, ok=False,
                            summary=f"not run: {verdict.verdict} by {verdict.rule}")
        return ToolReply(text=f"[{evidence_id}] {tool}: not run ({verdict.verdict} by {verdict.rule}: {verdict.reason})",
                         evidence=evidence, ref=f"[{evidence_id}]")
    first = next((line.strip() for line in (result.stdout or result.stderr or "").splitlines() if line.strip()), "")
    summary = str(facts.get("summary") or "") or (f"exit {result.exit_status}: {first}" if not result.ok else first) or "no output"
    evidence = Evidence(id=evidence_id, kind="command", source=f"{where}{command}", host=host, command=command,
                        summary=summary[:300], excerpt=(result.stdout or result.stderr)[:EXCERPT_CHARS], facts=dict(facts), ok=result.ok)
    parts = [f"[{evidence_id}] {where}{tool} (exit {result.exit_status}{', timed out' if result.timed_out else ''}"
             f"{', output truncated' if result.truncated else ''})"]
    if facts:
        parts.append("facts: " + json.dumps(facts, ensure_ascii=False, default=str)[:3000])
    parts.append("output:\n" + (result.stdout or "") + (f"\nstderr:\n{result.stderr}" if result.stderr else ""))
    return ToolReply(text="\n".join(parts), evidence=evidence, ref=f"[{evidence_id}]")
