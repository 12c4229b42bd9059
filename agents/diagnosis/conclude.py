"""Analysis -> Diagnosis: the winner, its citations, the kind of fix, a target for the fix author,
next checks and remedy commands (each judged by the guard; forbidden ones are dropped with a note)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from agents.diagnosis.advice import NEXT_CHECKS, TITLES
from agents.diagnosis.analyzers import Analysis, EvidenceView, Situation
from agents.diagnosis.analyzers.rollout import releases
from agents.diagnosis.code_smells import CodeFacts
from agents.diagnosis.parsers.cpu import TopFacts
from agents.diagnosis.parsers.database import PgActivityFacts, ProcesslistFacts
from agents.diagnosis.parsers.disk import DiskFacts, IostatFacts
from agents.diagnosis.parsers.kubernetes import KubeDescribeFacts, KubePodsFacts
from agents.diagnosis.parsers.processes import ProcessFacts
from agents.diagnosis.parsers.rollout import RolloutHistoryFacts
from agents.diagnosis.parsers.systemd import UnitFacts
from agents.diagnosis.parsers.terraform import TerraformFacts
from agents.diagnosis.parsers.tls import TlsFacts
from agents.diagnosis.deciding import deciding_reads
from agents.diagnosis.remedies import Remedy, load_findings
from agents.diagnosis.timeline import parse_timestamp
from graphs.state import AgentNote, Diagnosis, Evidence, RootCauseCandidate, SuggestedAction
from tools.guard import describe, judge_command
from tools.redact import redact

_DEPLOYMENT_FROM_POD = re.compile(r"^(.+?)-[a-f0-9]{8,10}-[a-z0-9]{5}$")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
IAM_WORDS = re.compile(r"AccessDenied|not authorized|UnauthorizedOperation|\biam\b|InvalidClientTokenId|ExpiredToken|SignatureDoesNotMatch|forbidden: User", re.I)
SPEC_PATHS = {
    "capacity_exhausted": ("eks", ["node_count", "node_max", "node_instance_type"]),
    "db_connection_exhaustion": ("rds", ["max_connections", "instance_class"]),
    "memory_pressure": ("ec2", []),
    "disk_io_bottleneck": ("rds", ["storage_gb"]),
}


def build_target(category: str, view: EvidenceView, values: dict[str, str], citations: list[str]) -> dict[str, Any]:
    """What the fix author needs: where (host, unit, pod, file, db) and which resource."""
    target: dict[str, Any] = {}
    cited = [view.get(eid) for eid in citations]
    hosts = [e.host for e in cited if e is not None and e.host]
    host = values.get("host") if values.get("host") in hosts or not hosts else hosts[0]
    if host:
        target["host"] = host
    for key in ("service", "unit", "db", "engine", "namespace", "pod", "deployment", "url", "cert_path", "config_path"):
        if values.get(key):
            target[key] = values[key]
    for e, unit in view.facts(UnitFacts):
        if unit.unit and unit.found and (not host or e.host == host):
            target.setdefault("unit", unit.unit.removesuffix(".service"))
            break
    if category in ("memory_leak", "memory_pressure"):
        for e, ps in view.facts(ProcessFacts):
            if ps.top_mem and (not host or e.host == host):
                target.update(process=ps.top_mem[0].name, pid=ps.top_mem[0].pid)
                break
    if category == "cpu_saturation":
        for e, ps in view.facts(ProcessFacts):
            if ps.top_cpu and (not host or e.host == host):
                target.update(process=ps.top_cpu[0].name, pid=ps.top_cpu[0].pid)
                break
        else:
            for _, top in view.facts(TopFacts):
                if top.processes:
                    target.update(process=top.processes[0].command, pid=top.processes[0].pid)
                    break
    if category in ("disk_full", "inode_exhaustion"):
        for _, df in view.facts(DiskFacts):
            if df.inodes == (category == "inode_exhaustion") and df.worst() is not None:
                worst = df.worst()
                target.update(mount=worst.mount, filesystem=worst.filesystem, use_pct=worst.use_pct)
                break
    if category == "disk_io_bottleneck":
        for _, io in view.facts(IostatFacts):
            if io.busiest() is not None:
                target["device"] = io.busiest().device
                break
    if category in ("db_slow_query", "db_connection_exhaustion", "connection_leak"):
        for _, plist in view.facts(ProcesslistFacts):
            target.setdefault("engine", "mysql")
            if plist.long_running and category == "db_slow_query":
                target.update(query_id=plist.long_running[0].id, query=plist.long_running[0].query[:200])
            break
        for _, pg in view.facts(PgActivityFacts):
            target.setdefault("engine", "postgres")
            if pg.long_running and category == "db_slow_query":
                target.update(query_id=pg.long_running[0].id, query=pg.long_running[0].query[:200])
            break
    if category == "bad_deploy":
        target.update(_release_target(view, citations))
    for _, pods in view.facts(KubePodsFacts):
        if pods.unhealthy:
            names = view.situation.names
            pod = next((p for p in pods.unhealthy if any(n in p.name for n in names)), pods.unhealthy[0])
            target.setdefault("pod", pod.name)
            if pod.namespace:
                target.setdefault("namespace", pod.namespace)
        break
    for _, pod_desc in view.facts(KubeDescribeFacts):
        if pod_desc.kind == "pod":
            target.setdefault("pod", pod_desc.name)
            if pod_desc.namespace:
                target.setdefault("namespace", pod_desc.namespace)
            if pod_desc.containers and pod_desc.containers[0].image:
                target.setdefault("image", pod_desc.containers[0].image)
            break
    if "pod" in target and "deployment" not in target:
        m = _DEPLOYMENT_FROM_POD.match(str(target["pod"]))
        if m:
            target["deployment"] = m.group(1)
    if category == "bad_deploy":
        for eid in citations:
            e = view.get(eid)
            versions = (e.facts or {}).get("versions") if e is not None and e.kind in ("log", "command") else None
            if versions:
                target["version"] = versions[-1]
                if len(versions) >= 2:
                    target["previous_version"] = versions[-2]
                break
        if target.get("deployment") and "rollback_revision" not in target:
            target.update(_history_target(view, target["deployment"], str(target.get("version") or "")))
    if category == "certificate_expired":
        for eid in citations:
            e = view.get(eid)
            m = re.search(r"-in\s+(\S+)", (e.command or "") if e is not None else "")
            if m:
                target.setdefault("cert_path", m.group(1))
                live = re.search(r"/letsencrypt/live/([^/]+)/", m.group(1))
                if live:
                    target.setdefault("cert_name", live.group(1))
                break
        for _, tls in view.facts(TlsFacts):
            named = [c for c in tls.certificates if c.name]
            if named:
                target["cert_name"] = named[0].name
                break
    for _, code in view.facts(CodeFacts):
        smells = [s for s in code.smells if s.kind == category]
        if smells:
            target.update(file=code.file, line=smells[0].line)
            break
    for _, tf in view.facts(TerraformFacts):
        for issue in tf.issues:
            if issue.category == category:
                if issue.resource:
                    target["resource"] = issue.resource
                if issue.lock is not None:
                    target.update(lock_id=issue.lock.id, lock_who=issue.lock.who, lock_created=issue.lock.created, lock_path=issue.lock.path)
                break
    labels = view.situation.labels
    for key in ("dir", "workspace", "node_group", "nodegroup", "cluster", "region", "account"):
        if labels.get(key):
            target[key] = labels[key]
    if category in SPEC_PATHS:
        block, keys = SPEC_PATHS[category]
        target["spec_paths"] = [f"environments.{view.situation.environment}.{block}.{k}" for k in keys] or [f"environments.{view.situation.environment}.{block}"]
    return target


def _release_target(view: EvidenceView, citations: list[str]) -> dict[str, Any]:
    """The release a bad deploy rests on (a cited ReplicaSet) and where a rollback returns: the previous one."""
    for eid, release in releases(view):
        if eid not in citations:
            continue
        out: dict[str, Any] = {"deployment": release.current.deployment, "replicaset": release.current.name,
                               "image": release.current.images[0], "previous_replicaset": release.previous.name,
                               "previous_image": release.previous.images[0]}
        if release.current.namespace:
            out["namespace"] = release.current.namespace
        out.update(_history_target(view, release.current.deployment))
        return out
    return {}


def _history_target(view: EvidenceView, deployment: str, blamed_version: str | None = None) -> dict[str, Any]:
    """The revision before the newest in the deployment's rollout history: where a rollback by revision returns.
    With `blamed_version` (a release the logs blame, not a cited ReplicaSet), only when the newest revision's
    change cause names that version: otherwise a rollback by revision could return somewhere nobody chose, and
    plain `rollout undo` (the previous revision) stays the remedy."""
    for _, history in view.facts(RolloutHistoryFacts):
        if history.name not in ("", deployment) or history.previous is None or history.current is None:
            continue
        names_it = bool(blamed_version) and re.search(rf"(?<![\w.]){re.escape(blamed_version or '')}(?![\w.])", history.current.change_cause)
        if blamed_version is None or names_it:
            return {"rollback_revision": history.previous.number}
    return {}


HOLDER_QUIET = timedelta(minutes=30)  # Terraform prints progress every 10 s while it works


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def lock_holder_active(view: EvidenceView, target: dict[str, Any]) -> str | None:
    """The log line showing the lock's holder still at work (progress after the lock was taken, no finish), or None."""
    created = parse_timestamp(str(target.get("lock_created") or ""))
    at = view.situation.at
    if created is None or at is None:
        return None
    for stream in view.logs():
        progress, finished = stream.facts.hit("tf_progress"), stream.facts.hit("tf_finished")
        if progress is None or progress.last_at is None:
            continue
        last = _aware(progress.last_at)
        if last >= _aware(created) and _aware(at) - last <= HOLDER_QUIET and not (finished and finished.last_at and _aware(finished.last_at) >= last):
            return progress.sample
    return None


def fix_kind_for(category: str, remedies: dict[str, Remedy], target: dict[str, Any], reasons: list[str]) -> str:
    fix = remedies.get(category, Remedy()).fix
    if category == "terraform_state_lock" and target.get("lock_holder_active"):
        return "none"  # the holder is still working: wait; never unlock under a live run
    if category in ("connection_leak", "missing_timeout") and target.get("file"):
        return "code_patch"
    if category == "cpu_saturation" and any(re.search(r"steal|credit|burstable", r, re.I) for r in reasons):
        return "terraform"  # a burstable or oversubscribed instance: a bigger or non-burstable instance type
    if category == "permission_denied" and reasons and not any(IAM_WORDS.search(r) for r in reasons):
        return "none"  # a filesystem permission: chmod/chown are not ours to run
    return fix if fix in ("terraform", "code_patch", "command", "none") else "none"


def remedy_actions(category: str, target: dict[str, Any], view: EvidenceView | None = None, at: datetime | None = None,
                   defaults: Any = None) -> tuple[list[SuggestedAction], list[AgentNote]]:
    """The typed remedies that fit this diagnosis's evidence (agents/diagnosis/remedy_choice.py), validated; those whose
    values do not fit their types are dropped, saying why."""
    from agents.diagnosis.remedy_choice import RemedyDefaults, choose_remedies
    from tools.actions import plan_action
    from tools.catalogue import ToolCall, ToolParamError

    view = view or EvidenceView([], Situation())
    choices, why_none = choose_remedies(category, view, target, defaults or RemedyDefaults(), at)
    out: list[SuggestedAction] = []
    notes: list[AgentNote] = [AgentNote(agent="diagnostician", level="limitation", text=redact(why_none))] if why_none else []
    for choice in choices:
        host = target.get("host") if choice.platform_host else None
        try:
            planned = plan_action(ToolCall(tool=choice.tool, params=choice.params, host=host))
        except ToolParamError as exc:
            notes.append(AgentNote(agent="diagnostician", level="info", text=redact(f"remedy {choice.tool} not suggested: {exc}")))
            continue
        out.append(SuggestedAction(tool=choice.tool, params={k: v for k, v in planned.params.items() if v is not None}, host=host,
                                   why=redact(choice.why)[:400], capture=choice.capture))
    return out, notes


def judge_suggestions(commands: list[str], environment: str) -> tuple[list[SuggestedAction], list[AgentNote]]:
    """Free-form suggestions (a model's) as typed actions: a catalogue action is kept with its typed parameters;
    anything else is dropped, saying why (reads are not remedies; other commands are not catalogue actions)."""
    kept: list[SuggestedAction] = []
    notes: list[AgentNote] = []
    for command in commands:
        verdict = judge_command(command, environment)
        shown = redact(command[:200])
        if verdict.verdict == "forbid":
            notes.append(AgentNote(agent="diagnostician", level="warning", text=f"suggested command `{shown}` dropped — {redact(describe(verdict))}"))
        elif verdict.tool is None or verdict.tool_kind != "action":
            notes.append(AgentNote(agent="diagnostician", level="info",
                                   text=f"suggested command `{shown}` dropped — it is not a catalogue action ({redact(describe(verdict))})"))
        else:
            action = SuggestedAction(tool=verdict.tool, params={k: v for k, v in verdict.params.items() if v is not None})
            if action not in kept:
                kept.append(action)
    return kept, notes


def action_lines(actions: list[SuggestedAction]) -> list[str]:
    """Each suggested action's argv, for people."""
    from tools.actions import approval_line, plan_action
    from tools.catalogue import ToolCall, ToolParamError

    lines = []
    for action in actions:
        try:
            lines.append(approval_line(plan_action(ToolCall(tool=action.tool, params=action.params, host=action.host))))
        except ToolParamError:
            continue
    return lines


def next_checks_for(category: str, target: dict[str, Any]) -> list[str]:
    out = []
    for template in NEXT_CHECKS.get(category, NEXT_CHECKS["unknown"]):
        filled = _PLACEHOLDER.sub(lambda m: str(target.get(m.group(1), {"process": "the process", "service": "the service", "mount": "the filesystem", "dir": "the workspace"}.get(m.group(1), m.group(1)))), template)
        out.append(filled)
    return out


def summarize(category: str, analysis: Analysis, target: dict[str, Any], kube: bool = False) -> str:
    workload = target.get("deployment") or target.get("pod")
    if kube and target.get("namespace") and workload:
        where = f"{target['namespace']}/{workload}"
    else:
        where = target.get("host") or target.get("pod") or target.get("dir") or ""
    title = TITLES.get(category, category)
    scored = analysis.get(category)
    if category == "unknown":
        top = analysis.ranked[0] if analysis.ranked else None
        lead = (top.reasons or top.hints or ["no direct evidence"])[0] if top else ""
        tail = f"; the strongest lead, {top.category}, is too weak ({lead})" if top else ""
        return redact(f"{title[0].upper()}{title[1:]}{tail}.")[:600]
    reasons = "; ".join(r for r in (scored.reasons if scored else [])[:3])
    head = f"{title[0].upper()}{title[1:]}" + (f" on {where}" if where else "")
    return redact(f"{head}: {reasons}." if reasons else f"{head}.")[:800]


def apply_finding(category: str, analysis: Analysis, findings: dict[str, Remedy], fix_kind: str, target: dict[str, Any]) -> str:
    """The fix kind a finding of the winning category calls for (config/remedies.yaml `findings`), else `fix_kind`.
    A finding listed under another category (a NetworkPolicy that blocks DNS) still names its remedy."""
    scored = analysis.get(category)
    for name in (scored.findings if scored else [])[:1]:
        finding = findings.get(name)
        if finding is not None:
            target["finding"] = name
            target["remedy"] = finding.remedy
            if finding.category in ("", category) and finding.fix in ("terraform", "code_patch", "command", "none"):
                return finding.fix
    return fix_kind


def conclude(analysis: Analysis, evidence: list[Evidence], situation: Situation, values: dict[str, str],
             remedies: dict[str, Remedy], environment: str, findings: dict[str, Remedy] | None = None) -> tuple[Diagnosis, list[AgentNote]]:
    view = EvidenceView(evidence, situation)
    category = analysis.winner
    scored = analysis.get(category)
    if category == "unknown":
        lead = analysis.ranked[0] if analysis.ranked else None
        citations = [eid for eid, _ in (lead.evidence if lead else [])][:3]
    else:
        citations = [eid for eid, _ in (scored.evidence if scored else [])][:6]
    target = build_target(category, view, values, citations)
    if category == "terraform_state_lock":
        active = lock_holder_active(view, target)
        if active:
            target["lock_holder_active"] = True
    fix_kind = fix_kind_for(category, remedies, target, scored.reasons if scored else [])
    from agents.diagnosis.remedies import load_remedy_defaults
    from config.settings import get_settings

    config_dir = get_settings().config_dir
    if category != "unknown":
        fix_kind = apply_finding(category, analysis, findings if findings is not None else load_findings(config_dir), fix_kind, target)
    suggested, notes = remedy_actions(category, target, view, situation.at, load_remedy_defaults(config_dir))
    runners = [c for c in analysis.candidates(6) if c.category != category][:3]
    next_checks = next_checks_for(category, target)
    if category == "unknown":
        next_checks = deciding_reads(analysis, evidence, values) + next_checks  # the read that would decide, first
    if target.get("lock_holder_active"):
        next_checks.insert(0, f"wait for the run holding the lock ({target.get('lock_who') or 'another run'}) to finish: it is still working")
        notes.append(AgentNote(agent="diagnostician", level="warning", text="the lock's holder is still running; unlocking now would let two writers corrupt the state"))
    diagnosis = Diagnosis(
        summary=summarize(category, analysis, target, kube=any((view.get(c).command or "").startswith("kubectl") for c in citations if view.get(c))),
        root_cause=category,
        confidence=analysis.confidence,
        runners_up=runners,
        citations=citations,
        fix_kind=fix_kind,  # type: ignore[arg-type]
        next_checks=next_checks,
        suggested_commands=action_lines(suggested),
        suggested_actions=suggested,
        decided_by="rules",
        target=target,
    )
    if category == "unknown":
        notes.append(AgentNote(agent="diagnostician", level="limitation",
                               text="the evidence does not support any root-cause category; see next checks"))
    return diagnosis, notes


__all__ = ["RootCauseCandidate", "action_lines", "build_target", "conclude", "fix_kind_for", "judge_suggestions", "next_checks_for",
           "remedy_actions"]
