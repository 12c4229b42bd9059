"""Evidence collection: playbook commands (commands.py), logs, Terraform output, code, metrics, past incidents.

Evidence ids are E1, E2, ... in collection order, so a re-run of the node
(LangGraph re-runs a node after an interrupt) produces the same ids. Every
command goes through `ctx.tools(...).run`, which asks the guard, audits and
redacts; only `allow` commands run here. Text that arrives from the world
(log lines, alert text, outputs) is data: nothing in it is ever executed.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from agents.context import AgentContext
from agents.diagnosis.analyzers.base import Situation
from agents.diagnosis.code_smells import find_code_smells
from agents.diagnosis.learn import follow_up_playbooks, learn_values
from agents.diagnosis.commands import (
    EXCERPT_CHARS,
    MAX_HOSTS,
    EvidenceBook,
    choose_hosts,
    command_evidence,
    known_hosts,
    note,
    peer_hosts,
    plan_commands,
    run_all,
)
from agents.diagnosis.metrics import summarize_series
from agents.diagnosis.parsers.terraform import parse_terraform
from agents.diagnosis.playbooks import Playbook, load_playbooks, render, select_playbooks
from agents.diagnosis.situation import placeholder_values, situation_of
from agents.diagnosis.subjects import environment_runs_cluster, playbooks_for_subjects
from agents.diagnosis.timeline import scan_lines
from config.settings import CONFIG_DIR
from graphs.state import ActionRecord, AgentNote, Evidence, Request
from tools.redact import redact, redact_lines

MAX_LOG_SOURCES = 12
MAX_METRICS = 12
MAX_REPO_FILES = 200
FOLLOW_UP_ROUNDS = 3  # evidence -> a value (a Secret's name, an RDS instance) -> a step that needed it -> its evidence


class Collected(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    evidence: list[Evidence]
    actions: list[ActionRecord]
    notes: list[AgentNote]
    situation: Situation
    values: dict[str, str]
    playbooks: list[str]
    hosts: list[str]


def _log_budget(ctx: AgentContext) -> int:
    return int(getattr(ctx.settings, "log_token_budget", 2000) or 2000)


def _digest(lines: list[str], budget: int, source: str) -> tuple[list[dict], str]:
    """Templates (for facts) and text (for the excerpt) from tools.logs; a plain head when it is absent."""
    try:
        from tools.logs import summarize_logs
    except ImportError:
        return [], "\n".join(lines[:40])[:EXCERPT_CHARS * 2]
    digest = summarize_logs(lines, budget, source=source)
    templates = [t.model_dump(mode="json", include={"id", "template", "count", "level", "first_seen", "last_seen"}) for t in digest.templates[:15]]
    return templates, digest.to_text(budget)


async def collect_logs(ctx: AgentContext, book: EvidenceBook, request: Request, situation: Situation, playbooks: list[Playbook],
                       values: dict[str, str], notes: list[AgentNote], skip: set[str] | None = None) -> set[str]:
    """Read the world's log sources and the playbooks' hints; returns the sources read (a second call skips them)."""
    try:
        sources = list(ctx.world.log_sources())
    except Exception as exc:
        notes.append(note(f"could not list log sources: {exc}", "warning"))
        sources = []
    configured = set(sources)
    for playbook in playbooks:  # the playbooks' journald/file hints too, in every world
        for hint in playbook.logs:
            name = render(hint, values)
            if name and name not in sources:
                sources.append(name)
    skip = skip or set()
    sources = [s for s in sources if s not in skip]
    if not sources:
        return set(skip)
    names = situation.names
    sources.sort(key=lambda s: 0 if any(n in s.lower() for n in names) else 1)
    if len(sources) > MAX_LOG_SOURCES:
        notes.append(note(f"{len(sources)} log sources; reading the {MAX_LOG_SOURCES} most related", "limitation"))
    at = situation.at
    start = at - timedelta(hours=2) if at else None
    end = at + timedelta(minutes=30) if at else None
    budget = _log_budget(ctx)
    for source in sources[:MAX_LOG_SOURCES]:
        try:
            raw = await ctx.world.read_logs(source, start, end)
        except Exception as exc:
            book.add(kind="log", source=source, ok=False, summary=f"could not read: {redact(str(exc))[:200]}")
            continue
        lines = redact_lines([str(line) for line in raw])  # as one stream: a key split over lines is masked whole
        if not lines and source not in configured:
            continue  # a playbook's guess at a source that has nothing: not evidence
        facts = scan_lines(lines, year=at.year if at else None)
        templates, text = _digest(lines, budget, source) if lines else ([], "")
        facts.templates = templates
        book.add(kind="log", source=source, ok=bool(lines), summary=facts.summary() if lines else "no lines in the window",
                 excerpt=text[:EXCERPT_CHARS * 2], facts=facts.model_dump(mode="json"))
    return set(skip) | set(sources[:MAX_LOG_SOURCES])


def collect_terraform(ctx: AgentContext, book: EvidenceBook, notes: list[AgentNote]) -> None:
    try:
        infra = ctx.world.infra()
    except Exception:
        return
    text = getattr(infra, "terraform_output", None)
    if not text:
        return
    clean = redact(text)
    facts = parse_terraform(clean) if clean.strip() else None
    data = facts.model_dump(mode="json") if facts else {}
    data["raw"] = clean[:20000]
    book.add(kind="terraform", source="terraform", ok=True, summary=facts.summary() if facts else "terraform output",
             excerpt=clean[:EXCERPT_CHARS], facts=data)


def collect_code(ctx: AgentContext, book: EvidenceBook) -> None:
    try:
        repo = ctx.world.repo()
    except Exception:
        return
    for path, text in list((repo or {}).items())[:MAX_REPO_FILES]:
        facts = find_code_smells(path, str(text))
        if facts is None:
            continue
        lines = str(text).splitlines()
        first = facts.smells[0].line
        excerpt = "\n".join(f"{n + 1:4d}  {lines[n]}" for n in range(max(0, first - 4), min(len(lines), first + 12)))
        book.add(kind="file", source=f"repo:{path}", ok=True, summary=facts.summary(), excerpt=redact(excerpt), facts=facts.model_dump(mode="json"))


async def collect_metrics(ctx: AgentContext, book: EvidenceBook, playbooks: list[Playbook], values: dict[str, str],
                          subjects: set[str] | None = None) -> None:
    """The metrics the playbooks name, and the ones the world lists for the request's own subjects (a service,
    a deployment, a host, a database: what CloudWatch's ListMetrics by dimension would return), nothing else."""
    names: list[str] = []
    for playbook in playbooks:
        for hint in playbook.metrics:
            name = render(hint, values)
            if name and name not in names:
                names.append(name.replace("'", ""))
    listing = getattr(ctx.world, "metric_names", None)
    if callable(listing) and subjects:
        for name in listing(sorted(subjects)):
            if name not in names:
                names.append(name)
    for name in names[:MAX_METRICS]:
        try:
            series = await ctx.world.read_metric(name)
        except Exception:
            continue
        facts = summarize_series(name, series or [])
        if facts is None:
            continue
        book.add(kind="metric", source=f"metric:{name}", ok=True, summary=facts.summary(), facts=facts.model_dump(mode="json"))


async def collect_incidents(ctx: AgentContext, book: EvidenceBook, request: Request, notes: list[AgentNote]) -> None:
    if ctx.memory is None:
        return
    query = " ".join(x for x in [request.alert.name if request.alert else "", request.alert.summary if request.alert else "", request.text or ""] if x)
    if not query.strip():
        return
    try:
        found = ctx.memory.search(redact(query), k=3)
        if inspect.isawaitable(found):
            found = await found
    except Exception as exc:
        notes.append(note(f"incident memory unavailable: {type(exc).__name__}: {exc}", "warning"))
        return
    for inc in found or []:
        def get(key: str, default: Any = None, inc: Any = inc) -> Any:
            return inc.get(key, default) if isinstance(inc, dict) else getattr(inc, key, default)

        book.add(kind="incident", source=f"incident:{get('id', '?')}", ok=True,
                 summary=redact(f"{get('title', '')}: {get('root_cause', 'unknown')} -> {get('fix', '')} ({get('outcome', '')})")[:400],
                 excerpt=redact(str(get("summary", "")))[:1000],
                 facts={"root_cause": get("root_cause", ""), "score": float(get("score", 0.0) or 0.0), "fix": redact(str(get("fix", ""))),
                        "outcome": str(get("outcome", "")), "title": redact(str(get("title", "")))})


def alert_evidence(book: EvidenceBook, request: Request) -> None:
    """The request itself, as data: cited when its words matter, scanned as text at low weight."""
    parts = []
    if request.alert is not None:
        parts += [request.alert.name, request.alert.summary] + list(request.alert.annotations.values())
    if request.text:
        parts.append(request.text)
    text = redact("\n".join(p for p in parts if p))
    if not text.strip():
        return
    source = f"alert:{request.alert.name}" if request.alert is not None else "request"
    summary = (request.alert.summary if request.alert is not None and request.alert.summary else (request.text or text)).strip()
    book.add(kind="alert", source=source, ok=True, summary=redact(summary)[:300], excerpt=text[:EXCERPT_CHARS],
             facts={"log": scan_lines(text.splitlines()).model_dump(mode="json"), "labels": dict(request.alert.labels) if request.alert else {}})


def _spec_or_reference(ctx: AgentContext, spec: dict | None) -> dict | None:
    """The world's spec, else the reference spec the planner also reads (tools/spec.py current_spec)."""
    if spec:
        return spec
    from tools.spec import SpecError, current_spec

    try:
        return current_spec(ctx)
    except SpecError:
        return None


async def collect_evidence(ctx: AgentContext, request: Request) -> Collected:
    notes: list[AgentNote] = []
    spec = None
    try:
        spec = ctx.world.infra().spec
    except Exception:
        spec = None
    values = placeholder_values(request, spec)
    situation = situation_of(request, spec)
    folder = ctx.settings.config_dir / "playbooks"
    if not folder.is_dir():  # a custom config folder without playbooks still gets the shipped ones
        notes.append(note(f"no playbooks in {folder}; using the built-in ones", "warning"))
        folder = CONFIG_DIR / "playbooks"
    every = load_playbooks(folder)
    playbooks = select_playbooks(every, request)
    playbooks += playbooks_for_subjects(every, playbooks, situation.subjects, values, environment_runs_cluster(_spec_or_reference(ctx, spec), request.environment))
    book = EvidenceBook()
    alert_evidence(book, request)
    hosts = choose_hosts(ctx, request, values, playbooks, notes)
    if hosts and "host" not in values:
        values = {**values, "host": hosts[0]}
    # The logs first, as a person reads them: what they say decides which reads follow.
    read_logs = await collect_logs(ctx, book, request, situation, playbooks, values, notes)
    collect_terraform(ctx, book, notes)
    collect_code(ctx, book)
    planned = plan_commands(ctx, playbooks, hosts, values, notes, request.environment)
    actions: list[ActionRecord] = []
    seen_outputs: dict[tuple[str, str], str] = {}
    done: list = []
    for round_ in range(FOLLOW_UP_ROUNDS + 1):
        outcomes = await run_all(ctx, request, planned)
        for plan, outcome in zip(planned, outcomes):
            if not isinstance(outcome, Exception):
                actions.append(outcome.action)
            command_evidence(book, plan, outcome, notes, seen_outputs)
        done += planned
        if round_ == FOLLOW_UP_ROUNDS:
            break
        learned = learn_values(book.items, values, situation)
        called = [p for p in every if p.name in follow_up_playbooks(book.items, situation) and p not in playbooks]
        peers = peer_hosts(book.items, known_hosts(ctx), hosts)[:max(0, MAX_HOSTS - len(hosts))]
        if not learned and not called and not peers:
            break
        values = {**values, **learned}
        planned = plan_commands(ctx, playbooks, hosts, values, notes, request.environment, learned=set(learned), earlier=done)
        planned += plan_commands(ctx, called, hosts, values, notes, request.environment, earlier=done + planned)
        if peers:  # the failing peer a host's lines name: the same reads there
            planned += plan_commands(ctx, playbooks + called, peers, values, notes, request.environment, earlier=done + planned)
            notes.append(note(f"{', '.join(peers)} named in failing lines of {', '.join(hosts)}: read there too", "info"))
            hosts = hosts + peers
        playbooks = playbooks + called
        if planned:
            why = []
            if learned:
                why.append(f"learned {', '.join(f'{k} {v!r}' for k, v in learned.items())}")
            if called:
                why.append(f"the evidence points at {', '.join(p.name for p in called)}")
            notes.append(note(f"{'; '.join(why)} from the evidence; {len(planned)} follow-up read(s)", "info"))
    missing = sum(1 for e in book.items if e.kind == "command" and e.summary == "not recorded in this incident")
    if missing:
        notes.append(note(f"{missing} playbook command(s) were not recorded in this incident", "info"))
    await collect_logs(ctx, book, request, situation, playbooks, values, notes, skip=read_logs)  # sources a learned value names
    subjects = {v.lower() for k, v in values.items() if k in ("service", "deployment", "host", "db", "unit", "pod") and v} | situation.names
    await collect_metrics(ctx, book, playbooks, values, subjects)
    await collect_incidents(ctx, book, request, notes)
    return Collected(evidence=book.items, actions=actions, notes=notes, situation=situation, values=values,
                     playbooks=[p.name for p in playbooks], hosts=hosts)
