"""Playbook reads on hosts: which hosts, which catalogue calls, run through the guarded tools, read into evidence.

Every step is a typed catalogue read (config/tools/): its parameters are
filled from the alert and the evidence, validated by type and rendered by the
catalogue; the guard reads the rendering back as the same tool before it
runs. Cluster, database and account reads run once (on the first host, the
control host); host reads run on each chosen host. In a recorded world a
call is answered only by a recording of the same read (tools/world.py): the
diagnostician never reads what it did not ask for.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from agents.context import AgentContext
from agents.diagnosis.parsers import parse_output
from agents.diagnosis.playbooks import Playbook, fill_params, step_applies
from agents.diagnosis.timeline import scan_lines
from graphs.state import AgentNote, Evidence, Request
from tools.catalogue import RenderedCall, ToolCall, ToolParamError, default_catalogue
from tools.redact import redact
from tools.world import NOT_RECORDED_STATUS, CommandResult

AGENT = "diagnostician"
MAX_HOSTS = 4
EXCERPT_CHARS = 2000
CONCURRENCY = 6


@dataclass
class EvidenceBook:
    items: list[Evidence] = field(default_factory=list)

    def add(self, **fields: Any) -> Evidence:
        item = Evidence(id=f"E{len(self.items) + 1}", **fields)
        self.items.append(item)
        return item


def note(text: str, level: str = "info") -> AgentNote:
    return AgentNote(agent=AGENT, text=redact(text), level=level)  # type: ignore[arg-type]


@dataclass
class PlannedCommand:
    """One typed read to run: the call, its rendering and where it runs."""

    host: str
    call: ToolCall
    rendered: RenderedCall
    parser: str | None
    timeout: float
    origin: str  # "playbook:<name>"

    @property
    def command(self) -> str:
        return shlex.join(self.rendered.argv)


def choose_hosts(ctx: AgentContext, request: Request, values: dict[str, str], playbooks: list[Playbook], notes: list[AgentNote]) -> list[str]:
    """The alert's host, else its group's hosts, else the world's hosts (the inventory; a recording's hosts), bounded."""
    labels = dict(request.alert.labels) if request.alert else {}
    known = known_hosts(ctx)
    hosts: list[str] = []
    if values.get("host"):
        hosts = [values["host"]]
    elif labels.get("group"):
        try:
            hosts = list(ctx.world.hosts_in(labels["group"]))
        except Exception as exc:
            notes.append(note(f"could not list hosts of group {labels['group']}: {exc}", "warning"))
    if hosts and known and not any(h in known for h in hosts):
        notes.append(note(f"host(s) {', '.join(hosts)} named by the alert are not known here; using the known hosts", "warning"))
        hosts = []
    if not hosts and any(p.steps for p in playbooks):
        hosts = known
    if len(hosts) > MAX_HOSTS:
        notes.append(note(f"{len(hosts)} hosts match; diagnosing the first {MAX_HOSTS}", "limitation"))
    return hosts[:MAX_HOSTS]


_FAILING = re.compile(r"error|fail|refused|timed? ?out|unreachable|no ACK|no response|cannot connect|could not connect|retry|reset by peer", re.I)


def peer_hosts(evidence: list, known: list[str], current: list[str]) -> list[str]:
    """Known hosts the evidence of the current ones names in failing lines ("no ACK response from log1.internal:24224",
    "connect() to db2:5432 failed"): the run follows the failure to the host it points at, as an engineer would."""
    others = [h for h in known if h not in current]
    if not others:
        return []
    found: list[str] = []
    for e in evidence:
        if e.kind not in ("command", "log") or not e.ok or not e.excerpt:
            continue
        for line in e.excerpt.splitlines():
            if not _FAILING.search(line):
                continue
            for host in others:
                if host not in found and re.search(rf"(?<![\w.-]){re.escape(host)}(?:\.[a-z0-9-]+)*(?::\d+)?(?![\w-])", line, re.I):
                    found.append(host)
    return found


def known_hosts(ctx: AgentContext) -> list[str]:
    try:
        return list(ctx.world.hosts_in(None))
    except Exception:
        return []


def plan_commands(ctx: AgentContext, playbooks: list[Playbook], hosts: list[str], values: dict[str, str], notes: list[AgentNote],
                  environment: str = "dev", *, learned: set[str] | None = None, earlier: list[PlannedCommand] | None = None) -> list[PlannedCommand]:
    """Reads to run. With `learned`, a follow-up round: only the steps that need a newly learned value,
    and nothing earlier rounds already planned."""
    catalogue = default_catalogue()
    pick = getattr(ctx.world, "control_host", None)
    control = (pick() if callable(pick) and ctx.world.name != "recorded" else None) or (hosts[0] if hosts else None)
    planned: list[PlannedCommand] = []
    seen: set[tuple[str, tuple[str, ...]]] = {_key(p) for p in earlier or []}
    skipped: list[str] = []
    invalid: list[str] = []
    for playbook in playbooks:
        for step in playbook.steps:
            if not step_applies(step, values):
                continue
            if learned is not None and not learned.intersection(step.placeholders()):
                continue
            params = fill_params(step.params, values)
            if params is None:
                skipped.append(f"{step.tool}({', '.join(sorted(step.placeholders()))})")
                continue
            tool = catalogue.get(step.tool or "")
            targets = ([control] if control else []) if tool.scope != "host" else hosts
            for host in targets:
                call = ToolCall(tool=tool.name, params=params, host=host)
                try:
                    rendered = catalogue.render(call)
                except ToolParamError as exc:
                    invalid.append(str(exc))
                    continue
                plan = PlannedCommand(host, call, rendered, tool.parser_for(rendered.params), step.timeout or tool.timeout_s,
                                      f"playbook:{playbook.name}")
                if _key(plan) in seen:
                    continue
                seen.add(_key(plan))
                planned.append(plan)
    if invalid:
        notes.append(note(f"{len(invalid)} step(s) not run because a value did not fit its parameter: {'; '.join(invalid[:2])}", "info"))
    if skipped and learned is None:
        notes.append(note(f"{len(skipped)} playbook step(s) skipped for want of a value to fill them (e.g. {skipped[0]})", "info"))
    return planned


def _key(plan: PlannedCommand) -> tuple[str, tuple[str, ...]]:
    return ("*" if plan.rendered.scope != "host" else plan.host, tuple(plan.rendered.argv))


async def run_all(ctx: AgentContext, request: Request, planned: list[PlannedCommand]):
    tools = ctx.tools(AGENT, request.environment)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(p: PlannedCommand):
        async with gate:
            try:
                return await tools.call(p.call, timeout=p.timeout)
            except Exception as exc:  # a tool failure is a fact about the world, not a crash of the graph
                return exc

    return await asyncio.gather(*(one(p) for p in planned))


def _excerpt(result: CommandResult) -> str:
    text = result.stdout or ""
    if result.stderr:
        text = (text + "\n[stderr]\n" + result.stderr) if text else result.stderr
    return text[:EXCERPT_CHARS]


# A control-plane client refused for lack of rights speaks about the credentials we run with, not about the
# incident: `aws ... AccessDenied`, `kubectl ... Forbidden: User "system:serviceaccount:ops:cloud-doctor" cannot get`.
_OWN_ACCESS = re.compile(r"AccessDenied|UnauthorizedOperation|not authorized to perform|\(Forbidden\)|is forbidden: User|"
                         r"error: You must be logged in|Unable to locate credentials|ExpiredToken|InvalidClientTokenId", re.I)
CONTROL_PLANE_CLIENTS = ("aws", "kubectl")


def own_access_refused(command: str, stderr: str) -> bool:
    program = command.split(None, 1)[0].rsplit("/", 1)[-1] if command.strip() else ""
    return program in CONTROL_PLANE_CLIENTS and _OWN_ACCESS.search(stderr or "") is not None


def command_evidence(book: EvidenceBook, plan: PlannedCommand, outcome: Any, notes: list[AgentNote], seen_outputs: dict[tuple[str, str], str]) -> None:
    source = f"{plan.host}: {plan.command}"
    if isinstance(outcome, Exception):
        book.add(kind="command", source=source, host=plan.host, command=plan.command, ok=False,
                 summary=f"could not run: {type(outcome).__name__}: {redact(str(outcome))[:200]}")
        return
    result: CommandResult | None = outcome.result
    if result is None:  # the guard did not allow it: recorded as an action, not evidence
        notes.append(note(f"`{plan.command}` on {plan.host} was not run: {outcome.verdict.verdict} ({outcome.verdict.rule})", "warning"))
        return
    if result.exit_status == NOT_RECORDED_STATUS and not result.stdout:
        book.add(kind="command", source=source, host=plan.host, command=plan.command, tool=plan.rendered.tool, ok=False,
                 summary="not recorded in this incident" if "not recorded" in (result.stderr or "") else f"command not found: {result.stderr[:160]}",
                 facts={"parser": plan.parser or "", "ok": False, "error": "not recorded"})
        return
    if result.error is not None:
        book.add(kind="command", source=source, host=plan.host, command=plan.command, ok=False,
                 summary=f"could not run: {result.error[:200]}")
        return
    if result.stdout.strip():
        key = (plan.host, result.stdout)
        if key in seen_outputs:  # the recording answered a second command of the same program with the same output
            return
        seen_outputs[key] = plan.command
    if plan.parser:
        # A recording answers with the output of the command it recorded: read it as that command's output.
        facts = parse_output(plan.parser, result.stdout, command=result.command or plan.command, stderr=result.stderr)
        data = facts.model_dump(mode="json")
        summary = facts.summary()
        ok = facts.ok
    else:
        data, summary, ok = {"parser": "", "ok": result.ok}, (result.stdout.strip().splitlines() or [""])[0][:200], result.ok
    if result.exit_status != 0 and result.stderr.strip():
        if own_access_refused(plan.command, result.stderr):
            notes.append(note(f"`{plan.command[:120]}` on {plan.host}: the diagnostician's own credentials may not read this "
                              f"({result.stderr.strip().splitlines()[0][:160]})", "limitation"))
        else:
            data["stderr_log"] = scan_lines(result.stderr.splitlines()).model_dump(mode="json")
        if not ok:
            summary = f"exit {result.exit_status}: {result.stderr.strip().splitlines()[0][:200]}"
    if result.timed_out:
        summary = f"timed out; {summary}"
    book.add(kind="command", source=source, host=plan.host, command=plan.command, tool=plan.rendered.tool, ok=ok,
             summary=summary[:400], excerpt=_excerpt(result), facts=data)
