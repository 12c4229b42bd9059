"""Playbook commands on hosts: which hosts, which commands, run through the guarded tools, read into evidence.

Only commands the guard allows as diagnostics are even attempted; in a
recorded world the commands recorded for the chosen hosts are read too
(discovered through the world's `record`, still run through the guard), and
a second command that the recording answers with the same output is not
counted twice.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from agents.context import AgentContext
from agents.diagnosis.parsers import parse_output, parser_for_command
from agents.diagnosis.playbooks import PLACEHOLDER, Playbook, render, step_applies
from agents.diagnosis.timeline import scan_lines
from graphs.state import AgentNote, Evidence, Request
from tools.guard import describe, judge_command
from tools.redact import redact
from tools.world import NOT_RECORDED_STATUS, CommandResult, normalize_command

AGENT = "diagnostician"
MAX_HOSTS = 4
MAX_RECORDED_HOSTS = 12
MAX_EXTRA_HOSTS = 3
EXCERPT_CHARS = 2000
CONCURRENCY = 6
# Outputs about a cluster or a database rather than one host: worth reading wherever they were recorded.
CLUSTER_PARSERS = {"kube_pods", "kube_events", "kube_describe", "kube_nodes", "mysql_processlist", "db_settings", "pg_activity", "terraform",
                   "kube_replicasets", "kube_rollout_history", "kube_keys", "aws_rds", "aws_security_groups", "aws_network_acls"}


@dataclass
class EvidenceBook:
    items: list[Evidence] = field(default_factory=list)

    def add(self, **fields: Any) -> Evidence:
        item = Evidence(id=f"E{len(self.items) + 1}", **fields)
        self.items.append(item)
        return item


def note(text: str, level: str = "info") -> AgentNote:
    return AgentNote(agent=AGENT, text=redact(text), level=level)  # type: ignore[arg-type]


def recorded_hosts(world: Any) -> dict[str, list[str]] | None:
    """A recorded world's host -> recorded commands (live worlds record nothing: None)."""
    discover = getattr(world, "recorded_hosts", None)
    return discover() if callable(discover) else None


@dataclass
class PlannedCommand:
    host: str
    command: str
    parser: str | None
    timeout: float
    origin: str  # "recorded" or "playbook:<name>"


def choose_hosts(ctx: AgentContext, request: Request, values: dict[str, str], playbooks: list[Playbook], notes: list[AgentNote]) -> list[str]:
    """The alert's host, else its group's hosts, else every recorded host (bounded)."""
    labels = dict(request.alert.labels) if request.alert else {}
    recorded = recorded_hosts(ctx.world)
    hosts: list[str] = []
    if values.get("host"):
        hosts = [values["host"]]
    elif labels.get("group"):
        try:
            hosts = list(ctx.world.hosts_in(labels["group"]))
        except Exception as exc:
            notes.append(note(f"could not list hosts of group {labels['group']}: {exc}", "warning"))
    if hosts and recorded is not None and not any(h in recorded for h in hosts):
        notes.append(note(f"host(s) {', '.join(hosts)} named by the alert are not in this recording; using the recorded hosts", "warning"))
        hosts = []
    if not hosts:
        wants_hosts = any(p.steps for p in playbooks if not p.match.always)
        if recorded is not None:
            hosts = list(recorded)
        elif wants_hosts:
            try:
                hosts = list(ctx.world.hosts_in(None))
            except Exception:
                hosts = []
    limit = MAX_RECORDED_HOSTS if recorded is not None else MAX_HOSTS  # reading a recording costs nothing
    if len(hosts) > limit:
        notes.append(note(f"{len(hosts)} hosts match; diagnosing the first {limit}", "limitation"))
    return hosts[:limit]


def plan_commands(ctx: AgentContext, playbooks: list[Playbook], hosts: list[str], values: dict[str, str], notes: list[AgentNote],
                  environment: str = "dev", *, learned: set[str] | None = None, earlier: list[PlannedCommand] | None = None) -> list[PlannedCommand]:
    """Commands to run. With `learned`, a follow-up round: only the steps that need a newly learned value,
    and nothing `earlier` rounds already planned (recorded outputs were all read in the first round)."""
    recorded = recorded_hosts(ctx.world) or {}
    planned: list[PlannedCommand] = []
    earlier = earlier or []
    seen: set[tuple[str, str]] = {(p.host, normalize_command(p.command)) for p in earlier}

    refused: list[str] = []

    def add(host: str, command: str, parser: str | None, timeout: float, origin: str) -> None:
        key = (host, normalize_command(command))
        if key in seen:
            return
        seen.add(key)
        verdict = judge_command(command, environment)
        if verdict.verdict != "allow":  # diagnostics only: never even ask to run what is not read-only
            refused.append(f"`{command}` ({describe(verdict)})")
            return
        planned.append(PlannedCommand(host, command, parser, timeout, origin))

    for host in hosts if learned is None else []:  # what was recorded on the alert's hosts, when the world is a recording
        for command in recorded.get(host, {}):
            parser = parser_for_command(command)
            if parser:
                add(host, command, parser, 15.0, "recorded")
    extra = [h for h in recorded if h not in hosts][:MAX_EXTRA_HOSTS] if learned is None else []
    for host in extra:  # cluster- and database-level outputs recorded on another host (a bastion, the DB host)
        for command in recorded.get(host, {}):
            parser = parser_for_command(command)
            if parser in CLUSTER_PARSERS:
                add(host, command, parser, 15.0, "recorded")
    recorded_parsers = {(p.host, p.parser) for p in planned + earlier if p.origin == "recorded"}
    skipped: list[str] = []
    for playbook in playbooks:
        for step in playbook.steps:
            if not step_applies(step, values):
                continue
            if learned is not None and not learned.intersection(PLACEHOLDER.findall(step.command)):
                continue
            command = render(step.command, values)
            if command is None:
                skipped.append(step.command)
                continue
            parser = step.parser or parser_for_command(command)
            targets = hosts[:1] if step.scope == "cluster" else hosts
            # a cluster step runs once: skip it when it was planned already, or when a recording
            # already answered that kind of output (two db_settings steps both run live)
            if step.scope == "cluster" and any(p.command == command or (p.parser == parser and p.origin == "recorded")
                                               for p in planned + earlier):
                continue
            for host in targets:
                if recorded and (host, parser) in recorded_parsers:
                    continue  # the recording answers this program with what it holds; it is already read
                add(host, command, parser, step.timeout, f"playbook:{playbook.name}")
    if refused:
        notes.append(note(f"{len(refused)} command(s) not run because the guard does not allow them as diagnostics: {'; '.join(refused[:3])}", "info"))
    if skipped and learned is None:
        notes.append(note(f"{len(skipped)} playbook step(s) skipped for want of a label to fill them (e.g. `{skipped[0]}`)", "info"))
    return planned


async def run_all(ctx: AgentContext, request: Request, planned: list[PlannedCommand]):
    tools = ctx.tools(AGENT, request.environment)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(p: PlannedCommand):
        async with gate:
            try:
                return await tools.run(p.host, p.command, timeout=p.timeout)
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
        book.add(kind="command", source=source, host=plan.host, command=plan.command, ok=False,
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
        facts = parse_output(plan.parser, result.stdout, command=plan.command, stderr=result.stderr)
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
    book.add(kind="command", source=source, host=plan.host, command=plan.command, ok=ok,
             summary=summary[:400], excerpt=_excerpt(result), facts=data)
