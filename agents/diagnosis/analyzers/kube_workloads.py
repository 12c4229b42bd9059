"""Workloads, Jobs, claims, autoscalers and the cluster's events, weighed by what the request is about.

A failed Job is a symptom: `BackoffLimitExceeded` says the pod failed too
often, not why; its pods' last termination (OOMKilled, exit 1 and the log
that explains it) carries the cause, so the Job itself weighs little and is
never read as capacity. A rollout past its progress deadline points at the
new pods; a ReplicaSet that may not create pods says why (quota, a missing
service account). A claim that stays Pending says why in its events (no
such StorageClass: configuration; quota: capacity). Every other warning
event is read with the text rules, counted by whether its object is one
the request names.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.analyzers.kube_pods import kube_view
from agents.diagnosis.signals import RULES_BY_ID, match_rules

# Events the structured rules read themselves (kube_pods.py and below): the generic pass leaves them alone.
STRUCTURED_REASONS = {"FailedScheduling", "NotTriggerScaleUp", "Failed", "BackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                      "Unhealthy", "Killing", "BackoffLimitExceeded", "DeadlineExceeded", "ProvisioningFailed", "FailedCreate",
                      "Pulling", "Pulled", "Created", "Started", "Scheduled", "SuccessfulCreate", "ScalingReplicaSet", "SuccessfulDelete",
                      "Completed", "SawCompletedJob", "TriggeredScaleUp"}
PER_OBJECT_CAP = 3.0


def analyze_kube_workloads(view: EvidenceView) -> list[Signal]:
    state, focus = kube_view(view)
    out: list[Signal] = []
    for (ns, name), seen in state.jobs.items():
        job = seen.obj
        about = focus.named(name) or (job.owner is not None and focus.named(job.owner.name)) or any(focus.pod(p.obj) for p in state.pods_of_job(job))
        weight = focus.weight(ns, about)
        failed = job.failed_for
        if failed is None and job.status != "Failed":
            continue
        reason = failed.reason if failed is not None else "Failed"
        pods = state.pods_of_job(job)
        tries = job.failed or len(pods)
        out.append(Signal(category="service_crashloop", weight=0.8 * weight, evidence_id=seen.eid,
                          reason=f"job {ns}/{name} failed ({reason}) after {tries} failed pod(s); its pods say why"))
        if reason == "DeadlineExceeded":
            out.append(Signal(category="missing_timeout", weight=0.8 * weight, evidence_id=seen.eid,
                              reason=f"job {ns}/{name} ran past its activeDeadlineSeconds: something it waits on does not answer in time"))
        out += _job_reason_from_logs(state, job, reason, weight)
    for (kind, ns, name), seen in state.workloads.items():
        w = seen.obj
        weight = focus.object_weight(ns, name) if kind != "ReplicaSet" else focus.weight(ns, any(focus.named(n) for n in (name, *_rs_parent(name))))
        progressing = w.conditions.get("Progressing")
        if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
            stuck = _new_release_never_ready(state, ns, name)
            out.append(Signal(category="bad_deploy", weight=(2.2 if stuck else 1.0) * weight, evidence_id=seen.eid,
                              reason=f"{kind.lower()} {ns}/{name}: the rollout exceeded its progress deadline"
                                     + (f" ({progressing.message[:120]})" if progressing.message else "") + (f"; {stuck}" if stuck else "")))
        failure = w.conditions.get("ReplicaFailure")
        events = state.events_for(kind.lower(), name, ns)
        texts = ([failure.message] if failure is not None and failure.status == "True" and failure.message else []) + [
            ev.message for ev, _ in events if ev.reason == "FailedCreate"]
        for text in texts[:1]:
            out += _refused_pods(kind.lower(), ns, name, text, weight, seen.eid)
    listed = {(kind.lower(), ns, name) for kind, ns, name in state.workloads}
    for ev, eid in state.events:  # a controller seen only through its events (a ReplicaSet the listings did not show)
        if ev.reason == "FailedCreate" and (ev.kind, ev.namespace, ev.name) not in listed:
            listed.add((ev.kind, ev.namespace, ev.name))
            out += _refused_pods(ev.kind, ev.namespace, ev.name, ev.message, _object_weight(view, ev.kind, ev.name, ev.namespace), eid)
    out += _claims(view)
    out += _budgets_blocking_drains(state)
    out += _suspended_schedules(state, focus)
    out += _autoscalers(view)
    out += _events(view)
    return out


def _refused_pods(kind: str, ns: str, name: str, text: str, weight: float, eid: str | None) -> list[Signal]:
    """A controller that cannot create its pods: over the namespace's quota, or refused by admission."""
    if re.search(r"exceeded quota|forbidden: exceeded|insufficient quota", text, re.I):
        return [Signal(category="capacity_exhausted", weight=2.5 * weight, evidence_id=eid, finding="namespace_quota",
                       reason=f"{kind} {ns}/{name} cannot create pods: {text[:160]}")]
    webhook = re.search(r'failed calling webhook "?([^":\s]+)', text, re.I)
    if webhook and re.search(r"deadline exceeded|timed? ?out|i/o timeout|no route to host", text, re.I):
        return [Signal(category="network_unreachable", weight=2.5 * weight, evidence_id=eid, finding="webhook_unreachable",
                       reason=f"{kind} {ns}/{name} cannot create pods: the API server gets no answer from admission webhook "
                              f"{webhook.group(1)} in time (a network path to its pods, such as a node security group rule, is closed): {text[:140]}")]
    if webhook and re.search(r"no endpoints available|connection refused|service \S+ not found", text, re.I):
        return [Signal(category="dependency_failure", weight=2.5 * weight, evidence_id=eid, finding="webhook_down",
                       reason=f"{kind} {ns}/{name} cannot create pods: admission webhook {webhook.group(1)} has no server to answer: {text[:140]}")]
    if re.search(r"serviceaccount|service account|not found|admission webhook|denied the request|violates PodSecurity", text, re.I):
        return [Signal(category="config_error", weight=2.5 * weight, evidence_id=eid, finding="pods_refused",
                       reason=f"{kind} {ns}/{name} cannot create pods: {text[:160]}")]
    return []


def _job_reason_from_logs(state, job, reason: str, weight: float) -> list[Signal]:
    """A failed Job's real reason is what its pods said: the strongest cause their log names, confirmed by the failure."""
    out = []
    for pod in state.pods_of_job(job):
        for stream in state.pod_logs.get(pod.obj.name, []):
            hits = [(RULES_BY_ID[h.rule].weight, h) for h in stream.facts.hits if h.rule in RULES_BY_ID and h.rule not in ("crashloop", "killed_sigkill")]
            if not hits:
                continue
            _, hit = max(hits, key=lambda wh: wh[0])
            out.append(Signal(category=hit.category, weight=1.0 * weight, evidence_id=stream.evidence_id,
                              reason=f"job {job.namespace}/{job.name} failed ({reason}); its pod's log says why: \"{hit.sample.strip()[:140]}\""))
            return out
    return out


def _rs_parent(name: str) -> tuple[str, ...]:
    m = re.match(r"^(.+)-[a-z0-9]{6,10}$", name)
    return (m.group(1),) if m else ()


def _claims(view: EvidenceView) -> list[Signal]:
    state, focus = kube_view(view)
    out: list[Signal] = []
    claimed = {(s.obj.namespace, c) for s in state.pods.values() if focus.pod(s.obj) for c in s.obj.claims}
    for (ns, name), seen in state.claims.items():
        claim = seen.obj
        if claim.phase in ("Bound", ""):
            continue
        weight = focus.weight(ns, (ns, name) in claimed or focus.object_weight(ns, name) == 1.0 or any(n in name for n in focus.names))
        said = [ev.message for ev, _ in state.events_for("persistentvolumeclaim", name, ns) if ev.type == "Warning"] + \
               [ev.message for ev, _ in state.events_for("pvc", name, ns) if ev.type == "Warning"]
        text = " ".join(said)
        if re.search(r"storageclass[\w.]*\s+\"[^\"]+\" not found|storage ?class \S+ (?:not found|does not exist)", text, re.I):
            out.append(Signal(category="config_error", weight=2.8 * weight, evidence_id=seen.eid, finding="claim_unbound",
                              reason=f"claim {ns}/{name} is {claim.phase}: its StorageClass {claim.storage_class or ''} does not exist (\"{said[0][:120]}\")"))
        elif re.search(r"exceeded quota|quota|InsufficientCapacity|insufficient capacity|max volume count|VolumeLimitExceeded", text, re.I):
            out.append(Signal(category="capacity_exhausted", weight=2.5 * weight, evidence_id=seen.eid,
                              finding="namespace_quota" if re.search(r"quota", text, re.I) else "",
                              reason=f"claim {ns}/{name} is {claim.phase}: no room for the volume (\"{said[0][:120]}\")"))
        elif re.search(r"waiting for first consumer", text, re.I) and not said[1:]:
            continue
        elif re.search(r"no persistent volumes available|storageclass|storage class|not found|failed to provision|ProvisioningFailed", text, re.I) or (
                claim.phase == "Pending" and not claim.storage_class):
            out.append(Signal(category="config_error", weight=2.2 * weight, evidence_id=seen.eid, finding="claim_unbound",
                              reason=f"claim {ns}/{name} is {claim.phase}" + (f": \"{said[0][:140]}\"" if said else ": nothing can bind it")))
        elif claim.phase == "Pending":
            out.append(Signal(category="config_error", weight=1.2 * weight, evidence_id=seen.eid, finding="claim_unbound",
                              reason=f"claim {ns}/{name} is Pending"))
    return out


def _autoscalers(view: EvidenceView) -> list[Signal]:
    state, focus = kube_view(view)
    out: list[Signal] = []
    for (ns, name), seen in state.autoscalers.items():
        hpa = seen.obj
        target = hpa.target.split("/", 1)[-1]
        weight = focus.weight(ns, focus.named(name) or focus.named(target))
        over = []
        for metric in hpa.metrics:
            m = re.search(r"(\d+)%/(\d+)%", metric)
            if m and int(m.group(1)) > int(m.group(2)):
                over.append(metric)
        if hpa.max_replicas and hpa.current is not None and hpa.current >= hpa.max_replicas and over:
            category = "cpu_saturation" if any(m.startswith("cpu") or not m.split(":")[0].strip().isalpha() for m in over) else "memory_pressure"
            out.append(Signal(category=category, weight=2.0 * weight, evidence_id=seen.eid, finding="autoscaler_at_max",
                              reason=f"autoscaler {ns}/{name} is at its maximum {hpa.max_replicas} replicas and still over target ({', '.join(over)})"))
            used = sorted(eid for (used_ns, pod), (_, eid) in state.usage.items() if used_ns in (ns, "") and pod.startswith(f"{target}-"))
            if used and used[0] != seen.eid:  # what its pods use now, beside what the autoscaler averages
                out.append(Signal(category=category, weight=0.3 * weight, evidence_id=used[0], finding="autoscaler_at_max",
                                  reason=f"the usage of {ns}/{target}'s pods (kubectl top)"))
        active = hpa.conditions.get("ScalingActive")
        said = (active.reason + " " + active.message) if active is not None and active.status == "False" else ""
        said += " " + " ".join(ev.message for ev, _ in state.events_for("horizontalpodautoscaler", name, ns) if ev.type == "Warning")
        if re.search(r"missing request for", said, re.I):
            out.append(Signal(category="config_error", weight=1.5 * weight, evidence_id=seen.eid, finding="autoscaler_no_requests",
                              reason=f"autoscaler {ns}/{name} cannot compute utilization: its pods set no resource request ({said.strip()[:120]})"))
        elif re.search(r"unable to (?:get|fetch) metrics|FailedGetResourceMetric|no metrics returned|metrics\.k8s\.io|currently unable to handle the request", said, re.I) \
                or any("<unknown>" in m for m in hpa.metrics):
            out += _metrics_pipeline(state, ns, name, weight, seen.eid)
    return out


def _suspended_schedules(state, focus) -> list[Signal]:
    """A CronJob left suspended (after maintenance, a migration) creates no Jobs: the report that "did not run"."""
    out: list[Signal] = []
    for (ns, name), seen in sorted(state.cronjobs.items()):
        cron = seen.obj
        if not cron.suspend:
            continue
        about = focus.named(name) or focus.object_weight(ns, name) == 1.0
        out.append(Signal(category="config_error", weight=2.4 if about else 0.5, evidence_id=seen.eid, finding="cronjob_suspended",
                          reason=f"cronjob {ns}/{name} is suspended" + (f" (last scheduled {cron.last_schedule} ago)" if cron.last_schedule else "")
                                 + f": it creates no jobs on its schedule {cron.schedule}".rstrip()))
    return out


def _budgets_blocking_drains(state) -> list[Signal]:
    """A node cordoned for a drain (an upgrade, a scale-in) that cannot empty: a PodDisruptionBudget that allows no
    disruption refuses every eviction of its pods (minAvailable equal to the replicas, or pods already unready)."""
    cordoned = sorted(name for name, s in state.nodes.items() if s.obj.unschedulable)
    if not cordoned:
        return []
    out: list[Signal] = []
    for (ns, name), seen in sorted(state.budgets.items()):
        budget = seen.obj
        if budget.allowed != 0:
            continue
        covered = [p.obj for p in (state.pods_of_selector(ns, budget.selector) if budget.selector else [])
                   or [p for p in state.pods.values() if p.obj.namespace == ns and p.obj.name.startswith(f"{name}-")]]
        on_node = [p for p in covered if p.node in cordoned]
        if covered and not on_node and all(p.node for p in covered):
            continue  # its pods run elsewhere: not what blocks this drain
        limit = f"min available {budget.min_available}" if budget.min_available else f"max unavailable {budget.max_unavailable}"
        out.append(Signal(category="config_error", weight=2.4 if on_node else 1.8, evidence_id=seen.eid, finding="pdb_blocks_drain",
                          reason=f"node {cordoned[0]} is cordoned for a drain, and PodDisruptionBudget {ns}/{name} ({limit}) allows 0 disruptions"
                                 + (f": the eviction of {on_node[0].name} on it is refused" if on_node else ": evictions of its pods are refused")))
    return out


def _new_release_never_ready(state, ns: str, deployment: str) -> str:
    """A rollout stuck because the new ReplicaSet's pods never become ready while the previous one's still serve."""
    by_release: dict[str, list] = {}
    for s in state.pods.values():
        m = re.match(rf"^{re.escape(deployment)}-([a-z0-9]{{6,10}})-[a-z0-9]{{5}}$", s.obj.name)
        if s.obj.namespace == ns and m:
            by_release.setdefault(m.group(1), []).append(s.obj)
    ready = {h for h, pods in by_release.items() if all(p.healthy for p in pods)}
    unready = [h for h, pods in by_release.items() if not any(p.healthy for p in pods)]
    if ready and unready:
        return f"the new release's pods ({by_release[unready[0]][0].name}) never become ready while the previous release's serve"
    return ""


def _metrics_pipeline(state, ns: str, name: str, weight: float, eid: str | None) -> list[Signal]:
    """An autoscaler blind to its metrics: the metrics API's server (metrics-server, prometheus-adapter) is what fails;
    seen down, it is the dependency, and what killed it (its memory limit) the deeper cause."""
    servers = [s for s in state.pods.values() if re.match(r"(?:metrics-server|prometheus-adapter|keda-operator-metrics)", s.obj.name)]
    down = [s for s in servers if not s.obj.healthy]
    if not down:
        return [Signal(category="dependency_failure", weight=1.0 * weight, evidence_id=eid,
                       reason=f"autoscaler {ns}/{name} cannot read its metrics: the metrics API does not answer")]
    server = down[0]
    out = [Signal(category="dependency_failure", weight=2.5 * weight, evidence_id=server.eid, finding="metrics_api_down",
                  reason=f"autoscaler {ns}/{name} cannot read its metrics: {server.obj.namespace}/{server.obj.name} is {server.obj.status or 'not ready'}"),
           Signal(category="dependency_failure", weight=0.3 * weight, evidence_id=eid, reason=f"autoscaler {ns}/{name} sees no metrics")]
    if any(c.last_reason == "OOMKilled" or c.reason == "OOMKilled" for c in server.obj.all_containers):
        out.append(Signal(category="memory_pressure", weight=2.0 * weight, evidence_id=server.eid,
                          reason=f"{server.obj.namespace}/{server.obj.name}, which serves the metrics API, is OOMKilled at its memory limit"))
    return out


def _object_weight(view: EvidenceView, kind: str, name: str, namespace: str) -> float:
    state, focus = kube_view(view)
    if kind == "pod":
        seen = state.pods.get((namespace, name)) or state.pods.get(("", name))
        if seen is not None:
            return focus.pod_weight(seen.obj)
        from agents.diagnosis.parsers.kube_model import Pod

        return focus.pod_weight(Pod(namespace=namespace, name=name))
    if kind == "job":
        return focus.weight(namespace, focus.named(name) or any(focus.named(n) for n in workload_chain_of_job(name)))
    return focus.object_weight(namespace, name)


def workload_chain_of_job(name: str) -> list[str]:
    m = re.match(r"^(.+)-\d{6,12}$", name)
    return [m.group(1)] if m else []


def _events(view: EvidenceView) -> list[Signal]:
    """Warning events the structured rules do not read, through the text rules, counted by their object's relevance."""
    state, _ = kube_view(view)
    per: dict[tuple[str, str], list[tuple[float, str, str]]] = defaultdict(list)
    seen_messages: set[tuple[str, str]] = set()
    for ev, eid in state.events:
        if ev.type != "Warning" or ev.reason in STRUCTURED_REASONS or (ev.object, ev.message) in seen_messages:
            continue
        seen_messages.add((ev.object, ev.message))
        weight = _object_weight(view, ev.kind, ev.name, ev.namespace)
        for rule in match_rules(ev.message):
            if rule.id in ("crashloop", "killed_sigkill"):
                continue
            factor = min(1.2, 0.8 + 0.15 * math.log2(max(ev.count, 1)))
            per[(rule.category, eid)].append((rule.weight * factor * weight, f"event {ev.reason} on {ev.object}: {ev.message[:140]}", rule.id))
    out = []
    for (category, eid), items in per.items():
        items.sort(key=lambda x: -x[0])
        total = items[0][0] + 0.3 * sum(w for w, _, _ in items[1:])
        out.append(Signal(category=category, weight=round(min(total, PER_OBJECT_CAP), 3), evidence_id=eid,
                          reason=f"{RULES_BY_ID[items[0][2]].why}: {items[0][1]}"))
    return out
