"""Pods and their containers, read as k8sgpt's pod analyzer reads them, weighed by what the request is about.

Per container: waiting in ImagePullBackOff (image_pull_failure, with the
registry's reason), CreateContainerConfigError (config_error), a last run
that ended OOMKilled at the memory limit (memory: how long it ran tells a
leak from a limit too small), a crash loop and its exit code (127: the
command does not exist), probes that fail and why (a probe aimed at a port
or path the container does not serve is configuration), CPU used at the
limit (throttled). Per pod: why it is Pending (the scheduler's message:
room, node selector or affinity, taints, unbound claims), evictions, the
node it runs on. Findings on the workload the request names count fully;
a noisy neighbour counts a quarter (kube_state.Focus).
"""

from __future__ import annotations

import re

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.analyzers.kube_state import ClusterState, Focus, Seen, workload_chain
from agents.diagnosis.parsers.kube_model import Container, KubeEvent, Pod
from agents.diagnosis.signals import RULES_BY_ID

PULL_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable")
CONFIG_REASONS = ("CreateContainerConfigError", "CreateContainerError")
PULL_DETAIL = (
    (re.compile(r"manifest unknown|not found|no such manifest|manifest for \S+ not found|name unknown|failed to resolve reference.*not found", re.I),
     "image_not_found", "the image or tag does not exist"),
    (re.compile(r"pull access denied|unauthorized|authentication required|no basic auth credentials|denied: |403 Forbidden|"
                r"not authorized|UNAUTHORIZED|imagepullsecret", re.I), "registry_auth", "the registry refuses the credentials"),
    (re.compile(r"no such host|i/o timeout|connection refused|dial tcp|TLS handshake timeout|x509|network is unreachable|"
                r"context deadline exceeded", re.I), "registry_unreachable", "the registry cannot be reached"),
    (re.compile(r"toomanyrequests|rate limit", re.I), "registry_rate_limited", "the registry rate-limits pulls"),
)
PROBE_EVENT = re.compile(r"^(Liveness|Readiness|Startup) probe (?:failed|errored)", re.I)
SICK_TAINTS = re.compile(r"node\.kubernetes\.io/(?:not-ready|unreachable|disk-pressure|memory-pressure|pid-pressure|network-unavailable|unschedulable)")


def kube_view(view: EvidenceView) -> tuple[ClusterState, Focus]:
    """The cluster state and focus of this evidence, computed once per view."""
    cached = getattr(view, "_kube", None)
    if cached is None:
        state = ClusterState(view)
        cached = (state, Focus(view, state))
        view._kube = cached  # type: ignore[attr-defined]
    return cached


def _who(pod: Pod) -> str:
    return f"{pod.namespace}/{pod.name}" if pod.namespace else pod.name


def _messages(events: list[tuple[KubeEvent, str]]) -> list[str]:
    return [ev.message for ev, _ in events]


def analyze_kube_pods(view: EvidenceView) -> list[Signal]:
    state, focus = kube_view(view)
    grouped: dict[tuple, list[Signal]] = {}
    behind = _pods_behind_refused_services(view, state, focus)
    for seen in state.pods.values():
        weight = 1.0 if seen.obj.name in behind else focus.pod_weight(seen.obj)
        events = state.events_for("pod", seen.obj.name, seen.obj.namespace)
        found = (_pulls(seen, events, weight) + _config(seen, events, weight) + _memory(state, seen, weight) + _crashes(seen, events, weight)
                 + _probes(seen, events, weight) + _usage(state, seen, weight) + _scheduling(state, seen, events, weight) + _evicted(state, seen, events, weight))
        if any(s.category == "service_crashloop" and s.weight >= weight for s in found):
            found += _crash_reason_from_logs(state, seen, weight)
        workload = (seen.obj.namespace, (workload_chain(seen.obj) or [seen.obj.name])[-1])
        for signal in found:
            grouped.setdefault((workload, signal.category, signal.finding), []).append(signal)
    out = [s for key, signals in grouped.items() for s in _one_per_workload(signals, key[0][1])]
    return out + _nodes(state, focus)


def _pods_behind_refused_services(view: EvidenceView, state: ClusterState, focus: Focus) -> set[str]:
    """The pods of the Services the request's own pods are refused at: why those do not serve is why it fails."""
    from agents.diagnosis.analyzers.kube_network import refused_services

    out: set[str] = set()
    for ns, name in refused_services(view, state, focus):
        svc = state.services[(ns, name)].obj
        selected = state.pods_of_selector(ns, svc.selector) if svc.selector else []
        out |= {p.obj.name for p in selected} or {p.obj.name for p in state.pods.values() if p.obj.namespace == ns and p.obj.name.startswith(f"{name}-")}
    return out


CORROBORATION = 0.25  # what another piece of evidence saying the same about the same workload adds


def _one_per_workload(signals: list[Signal], workload: str) -> list[Signal]:
    """Pods of one workload say one thing: the strongest pod's finding, a little more for each pod that repeats it
    (so four replicas killed alike do not outweigh, by count alone, what each of them says). Other evidence saying
    the same (the events listing beside the description) stays cited, at a quarter of its weight."""
    best = max(signals, key=lambda s: s.weight)
    if len(signals) == 1 or best.weight <= 0:
        return [best]
    pods = len({s.reason.split(":")[0] for s in signals})
    extra = min(0.45, 0.15 * (pods - 1))
    head = best.model_copy(update={"weight": round(best.weight + extra * (1 if best.weight >= 1 else best.weight), 3),
                                   "reason": best.reason + (f" (and {pods - 1} more pod(s) of {workload})" if pods > 1 else "")})
    others: dict[str, Signal] = {}
    for s in signals:
        if s.evidence_id != best.evidence_id and (s.evidence_id not in others or s.weight > others[s.evidence_id].weight):
            others[s.evidence_id] = s
    return [head] + [s.model_copy(update={"weight": round(CORROBORATION * s.weight, 3)}) for s in others.values()]


def _pulls(seen: Seen[Pod], events: list[tuple[KubeEvent, str]], weight: float) -> list[Signal]:
    pod = seen.obj
    stuck = [c for c in pod.all_containers if c.state == "waiting" and c.reason in PULL_REASONS]
    said = [ev for ev, _ in events if re.search(r"Failed to pull image|ErrImagePull|Back-off pulling image|ImagePullBackOff|InvalidImageName", ev.message)
            or ev.reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName")]
    if not stuck and not said and pod.status not in PULL_REASONS and not pod.status.removeprefix("Init:") in PULL_REASONS:
        return []
    texts = [c.message for c in stuck] + [ev.message for ev in said]
    finding, why = "image_pull", "the image cannot be pulled"
    for pattern, name, words in PULL_DETAIL:
        if any(pattern.search(t) for t in texts):
            finding, why = name, words
            break
    container = stuck[0] if stuck else None
    image = container.image if container and container.image else next((m.group(1) for t in texts if (m := re.search(r'image "([^"]+)"', t))), "")
    detail = next((t for t in texts if t), pod.status)
    out = [Signal(category="image_pull_failure", weight=3.0 * weight, evidence_id=seen.eid, finding=finding,
                  reason=f"{_who(pod)}: {container.name + ' ' if container else ''}{container.reason if container else pod.status}"
                         f"{' for ' + image if image else ''}: {why} (\"{detail[:160]}\")")]
    if said:
        eid = next(e for ev, e in events if ev in said)
        if eid != seen.eid:
            out.append(Signal(category="image_pull_failure", weight=1.2 * weight, evidence_id=eid, finding=finding,
                              reason=f"events: {said[-1].reason}: {said[-1].message[:160]}"))
    return out


def _config(seen: Seen[Pod], events: list[tuple[KubeEvent, str]], weight: float) -> list[Signal]:
    pod = seen.obj
    stuck = [c for c in pod.all_containers if c.state == "waiting" and c.reason in CONFIG_REASONS]
    if not stuck and pod.status not in CONFIG_REASONS:
        return []
    said = next((ev.message for ev, _ in events if ev.type == "Warning" and re.search(r"not found|couldn't find|invalid", ev.message)), "")
    what = stuck[0].message or said if stuck else said
    return [Signal(category="config_error", weight=2.5 * weight, evidence_id=seen.eid, finding="missing_config_object",
                   reason=f"{_who(pod)}: {stuck[0].reason if stuck else pod.status} (a ConfigMap, Secret or key it needs is missing)"
                          + (f": \"{what[:160]}\"" if what else ""))]


def _oom(c: Container) -> bool:
    return "OOMKilled" in (c.last_reason, c.reason)


def _memory(state: ClusterState, seen: Seen[Pod], weight: float) -> list[Signal]:
    """A container killed at its memory limit: how long it lived says leak (hours, again and again) or a limit too small (minutes)."""
    pod = seen.obj
    killed = [c for c in pod.all_containers if _oom(c)]
    if not killed:
        if pod.status == "OOMKilled":
            return [Signal(category="memory_pressure", weight=1.8 * weight, evidence_id=seen.eid, reason=f"{_who(pod)} OOMKilled"),
                    Signal(category="memory_leak", weight=0.8 * weight, evidence_id=seen.eid, reason=f"{_who(pod)} OOMKilled")]
        return []
    c = killed[0]
    limit = f"{c.memory_limit_mb:.0f} MiB" if c.memory_limit_mb else "its memory limit"
    exit_code = c.last_exit_code if c.last_reason == "OOMKilled" else c.exit_code
    run = c.last_run_s
    lived = f", after running {_duration(run)}" if run is not None else ""
    head = f"{_who(pod)}: container {c.name} was OOMKilled (exit {exit_code if exit_code is not None else 137}) at {limit}{lived}, {c.restarts} restarts"
    if run is not None and run >= 3600 and c.restarts >= 2:
        leak, pressure, why = 2.0, 1.0, "it grows for hours and dies at the limit, again and again"
    elif run is not None and run < 900:
        leak, pressure, why = 0.6, 2.4, "it dies within minutes of starting: its working set does not fit the limit"
    else:
        leak, pressure, why = 1.2, 1.8, "the container needs more memory than its limit"
    return [Signal(category="memory_pressure", weight=pressure * weight, evidence_id=seen.eid, reason=f"{head}: {why}", finding="container_memory_limit"),
            Signal(category="memory_leak", weight=leak * weight, evidence_id=seen.eid, reason=f"{head}: {why}")]


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def _crashes(seen: Seen[Pod], events: list[tuple[KubeEvent, str]], weight: float) -> list[Signal]:
    pod = seen.obj
    out: list[Signal] = []
    looping = [c for c in pod.all_containers if (c.state == "waiting" and c.reason == "CrashLoopBackOff") or c.restarts >= 3
               or (c.state == "terminated" and c.reason == "Error" and c.restarts >= 1)]
    table_loop = pod.status in ("CrashLoopBackOff", "Init:CrashLoopBackOff", "RunContainerError") or (
        pod.status in ("Error", "Init:Error") and pod.restarts >= 3)
    if not looping and not table_loop:
        if pod.restarts >= 5:
            out.append(Signal(category="service_crashloop", weight=1.0 * weight, evidence_id=seen.eid, reason=f"{_who(pod)} restarted {pod.restarts} times"))
        return out
    c = looping[0] if looping else None
    if c is not None and _oom(c):
        out.append(Signal(category="service_crashloop", weight=0.8 * weight, evidence_id=seen.eid,
                          reason=f"{_who(pod)}: container {c.name} restarts after memory kills ({c.restarts} restarts)"))
        return out
    exit_code = (c.last_exit_code if c.last_exit_code is not None else c.exit_code) if c else None
    what = f"container {c.name}: {c.reason or c.state or pod.status}, {c.restarts} restarts, last exit {exit_code}" if c else f"{pod.status}, {pod.restarts} restarts"
    out.append(Signal(category="service_crashloop", weight=2.0 * weight if c is None or c.restarts >= 1 or table_loop else 1.5 * weight,
                      evidence_id=seen.eid, reason=f"{_who(pod)} crash-looping: {what}"))
    message = " ".join(x for x in ((c.last_message, c.message) if c else ()) if x) + " " + " ".join(_messages(events))
    if exit_code in (126, 127) or re.search(r"executable file not found|exec format error|no such file or directory.*(?:exec|entrypoint)|"
                                             r"StartError|failed to create containerd task", message, re.I):
        out.append(Signal(category="config_error", weight=2.2 * weight, evidence_id=seen.eid, finding="bad_command",
                          reason=f"{_who(pod)}: the container's command cannot run (exit {exit_code}): the image or its command is wrong"))
    elif c is not None and c.last_reason == "Completed" and exit_code == 0:
        out.append(Signal(category="config_error", weight=1.2 * weight, evidence_id=seen.eid, finding="bad_command",
                          reason=f"{_who(pod)}: the main process exits 0 and is restarted: a command that finishes instead of serving"))
    return out


def _crash_reason_from_logs(state: ClusterState, seen: Seen[Pod], weight: float) -> list[Signal]:
    """A container that keeps exiting says why in its own log (the previous instance's last lines): the strongest
    cause its lines name, confirmed by the crash loop, weighs as the reason, not as one more line of text."""
    for stream in state.pod_logs.get(seen.obj.name, []):
        hits = [(RULES_BY_ID[h.rule].weight, h) for h in stream.facts.hits
                if h.rule in RULES_BY_ID and RULES_BY_ID[h.rule].category != "service_crashloop" and h.rule != "killed_sigkill"]
        if hits:
            _, hit = max(hits, key=lambda wh: wh[0])
            return [Signal(category=hit.category, weight=1.5 * weight, evidence_id=stream.evidence_id, finding=RULES_BY_ID[hit.rule].finding, direct=False,
                           reason=f"{_who(seen.obj)} keeps exiting; its log says why: \"{hit.sample.strip()[:140]}\"")]
    return []


def _probe_failures(events: list[tuple[KubeEvent, str]]) -> list[tuple[str, str, int, str]]:
    """(probe kind, message, count, evidence id) of every probe failure event."""
    out = []
    for ev, eid in events:
        m = PROBE_EVENT.match(ev.message or "")
        if m:
            out.append((m.group(1).lower(), ev.message, ev.count, eid))
        elif ev.reason == "Killing" and "failed liveness probe" in ev.message:
            out.append(("liveness", ev.message, ev.count, eid))
    return out


def _probes(seen: Seen[Pod], events: list[tuple[KubeEvent, str]], weight: float) -> list[Signal]:
    pod = seen.obj
    failures = _probe_failures(events)
    if not failures:
        return []
    out: list[Signal] = []
    kind, message, _, eid = max(failures, key=lambda f: f[2])
    total = sum(f[2] for f in failures)
    kills = any(k == "liveness" for k, *_ in failures)
    container = pod.containers[0] if pod.containers else None
    probe = container.probe(kind) if container else None
    served = {p.split("/")[0] for c in pod.containers for p in c.ports}
    aimed_elsewhere = bool(probe and probe.port and served and probe.port.isdigit() and probe.port not in served)
    where = f" ({probe.action})" if probe and probe.action else ""
    if re.search(r"connection refused|statuscode: 404|status code 404|no such file|not found|exit code 127", message, re.I) or aimed_elsewhere:
        w = 2.2 + (0.8 if aimed_elsewhere else 0.0)
        because = f"the probe asks port {probe.port}, the container serves {', '.join(sorted(served))}" if aimed_elsewhere else "the probe's target does not answer"
        out.append(Signal(category="config_error", weight=w * weight, evidence_id=eid, finding="probe_misconfigured",
                          reason=f"{_who(pod)}: {kind} probe{where} fails {total}x: \"{message[:140]}\"; {because}"))
        if kills:
            out.append(Signal(category="service_crashloop", weight=0.8 * weight, evidence_id=eid, reason=f"{_who(pod)}: the liveness probe restarts it"))
    elif re.search(r"statuscode: 5\d\d|status code 5\d\d|HTTP probe failed with statuscode: 5", message, re.I):
        out.append(Signal(category="dependency_failure", weight=1.0 * weight, evidence_id=eid,
                          reason=f"{_who(pod)}: {kind} probe{where} gets an error answer {total}x: the service reports itself unhealthy (\"{message[:120]}\")"))
    elif re.search(r"timeout|timed out|deadline exceeded|Client\.Timeout", message, re.I):
        out.append(Signal(category="service_crashloop" if kills else "dependency_failure", weight=(1.0 if kills else 0.6) * weight, evidence_id=eid,
                          reason=f"{_who(pod)}: {kind} probe{where} times out {total}x (the process answers too slowly)"))
    return out


def _template(state: ClusterState, pod: Pod) -> list[Container]:
    """The pod's containers if they carry resources, else its workload's template containers."""
    if any(c.cpu_limit_m or c.memory_limit_mb or c.cpu_request_m for c in pod.containers):
        return pod.containers
    for name in workload_chain(pod):
        for (kind, ns, wname), w in state.workloads.items():
            if wname == name and ns in (pod.namespace, "") and kind != "ReplicaSet" and w.obj.containers:
                return w.obj.containers
    return []


def _requests(state: ClusterState, pod: Pod) -> float | None:
    containers = _template(state, pod)
    return sum(c.cpu_request_m for c in containers if c.cpu_request_m) if containers and all(c.cpu_request_m for c in containers) else None


def _limits(state: ClusterState, pod: Pod) -> tuple[float | None, float | None]:
    """The pod's CPU and memory limits (millicores, MiB), from the pod or its workload's template."""
    containers = pod.containers if any(c.cpu_limit_m or c.memory_limit_mb for c in pod.containers) else []
    if not containers:
        for name in workload_chain(pod):
            for (kind, ns, wname), w in state.workloads.items():
                if wname == name and ns in (pod.namespace, "") and kind != "ReplicaSet" and w.obj.containers:
                    containers = w.obj.containers
    cpu = sum(c.cpu_limit_m for c in containers if c.cpu_limit_m) if containers and all(c.cpu_limit_m for c in containers) else None
    mem = sum(c.memory_limit_mb for c in containers if c.memory_limit_mb) if containers and all(c.memory_limit_mb for c in containers) else None
    return cpu, mem


def _usage(state: ClusterState, seen: Seen[Pod], weight: float) -> list[Signal]:
    pod = seen.obj
    used = state.usage.get((pod.namespace, pod.name)) or state.usage.get(("", pod.name))
    if used is None:
        return []
    entry, eid = used
    cpu_limit, mem_limit = _limits(state, pod)
    out = []
    if cpu_limit and entry.cpu_millicores is not None and entry.cpu_millicores >= 0.9 * cpu_limit:
        out.append(Signal(category="cpu_saturation", weight=2.2 * weight, evidence_id=eid, finding="cpu_throttled_at_limit",
                          reason=f"{_who(pod)} uses {entry.cpu_millicores:.0f}m of its {cpu_limit:.0f}m CPU limit: the kernel throttles it"))
    request = _requests(state, pod)
    if not cpu_limit and request and entry.cpu_millicores is not None and entry.cpu_millicores >= 1.3 * request:
        out.append(Signal(category="cpu_saturation", weight=1.0 * weight, evidence_id=eid,
                          reason=f"{_who(pod)} uses {entry.cpu_millicores:.0f}m, {entry.cpu_millicores / request:.0%} of the {request:.0f}m it requests"))
    if mem_limit and entry.memory_mb is not None and entry.memory_mb >= 0.9 * mem_limit:
        out.append(Signal(category="memory_pressure", weight=1.0 * weight, evidence_id=eid,
                          reason=f"{_who(pod)} uses {entry.memory_mb:.0f} MiB of its {mem_limit:.0f} MiB memory limit"))
    return out


def _scheduling(state: ClusterState, seen: Seen[Pod], events: list[tuple[KubeEvent, str]], weight: float) -> list[Signal]:
    pod = seen.obj
    condition = pod.conditions.get("PodScheduled")
    said = [(ev, eid) for ev, eid in events if ev.reason in ("FailedScheduling", "NotTriggerScaleUp")]
    pending = pod.status == "Pending" or pod.phase == "Pending" or (condition is not None and condition.status == "False")
    if not pending or pod.node not in ("", "<none>") and not said:
        return []
    texts = ([condition.message] if condition is not None and condition.message else []) + [ev.message for ev, _ in said]
    text = " ".join(texts)
    eid = next((e for _, e in said), seen.eid) if not (condition and condition.message) else seen.eid
    insufficient = re.findall(r"Insufficient ([\w./-]+)|Too many pods", text)
    selector = re.search(r"didn't match (?:Pod's )?node (?:affinity|selector)|didn't match node selector|node\(s\) didn't satisfy", text)
    taint = re.search(r"untolerated taint[s]? ?\{([^}]*)\}|had taint \{([^}]*)\}", text)
    claims = re.search(r"unbound (?:immediate )?PersistentVolumeClaims|persistentvolumeclaim \"[^\"]+\" not found", text)
    # A zonal volume (EBS) no schedulable node can reach: the pod pinned to another zone is the pod's configuration;
    # unpinned, the nodes are missing from the volume's zone (the node group's subnets)
    zone = re.search(r"volume node affinity conflict", text) if not any("zone" in k for k in pod.node_selector) else None
    if zone:
        selector = None
    max_size = re.search(r"max node group size reached|max(?:imum)? (?:cluster|node group) size", text)
    who = _who(pod)
    out: list[Signal] = []
    if insufficient and not selector:
        what = ", ".join(sorted({(i or "pods").rstrip(".,") for i in insufficient}))
        out.append(Signal(category="capacity_exhausted", weight=2.5 * weight, evidence_id=eid, reason=f"{who} Pending: insufficient {what} on every node"))
    elif selector and not insufficient:
        out.append(Signal(category="config_error", weight=2.5 * weight, evidence_id=eid, finding="node_selector_mismatch",
                          reason=f"{who} Pending: no node matches its node selector or affinity (\"{text[:160]}\")"))
        wanted = pod.node_selector
        labelled = [n.obj for n in state.nodes.values() if n.obj.labels]
        if wanted and labelled and not any(all(n.labels.get(k) == v for k, v in wanted.items()) for n in labelled):
            out.append(Signal(category="config_error", weight=1.0 * weight, evidence_id=seen.eid, finding="node_selector_mismatch",
                              reason=f"{who} asks for nodes labelled {', '.join(f'{k}={v}' for k, v in wanted.items())}; no node has that label"))
    elif selector and insufficient:
        out.append(Signal(category="capacity_exhausted", weight=1.6 * weight, evidence_id=eid, reason=f"{who} Pending: the nodes it may use are full"))
        out.append(Signal(category="config_error", weight=1.0 * weight, evidence_id=eid, finding="node_selector_mismatch",
                          reason=f"{who}: its node selector or affinity rules out most nodes"))
    if taint and not insufficient:
        key = taint.group(1) or taint.group(2) or ""
        if SICK_TAINTS.search(key):
            out.append(Signal(category="capacity_exhausted", weight=1.8 * weight, evidence_id=eid, reason=f"{who} Pending: the nodes are tainted {key} (sick or cordoned)"))
        elif not selector:
            out.append(Signal(category="config_error", weight=2.0 * weight, evidence_id=eid, finding="untolerated_taint",
                              reason=f"{who} Pending: it does not tolerate the nodes' taint {{{key}}}"))
    if claims:
        out.append(Signal(category="config_error", weight=1.0 * weight, evidence_id=eid, finding="claim_unbound",
                          reason=f"{who} Pending: {claims.group(0)}"))
    if zone:
        out.append(Signal(category="config_error", weight=2.4 * weight, evidence_id=eid, finding="volume_zone_conflict",
                          reason=f"{who} Pending: volume node affinity conflict: its volume lives in a zone where no node it may use runs"))
    if max_size:
        out.append(Signal(category="capacity_exhausted", weight=1.0 * weight, evidence_id=eid, reason=f"the cluster autoscaler cannot add a node: {max_size.group(0)}"))
    if not out and pod.node in ("", "<none>"):
        out.append(Signal(category="capacity_exhausted", weight=0.6 * weight, evidence_id=seen.eid, reason=f"{who} is Pending"))
    return out


_DISK_EVICTION = re.compile(r"ephemeral-storage|nodefs|imagefs|disk", re.I)


def _evicted(state: ClusterState, seen: Seen[Pod], events: list[tuple[KubeEvent, str]], weight: float) -> list[Signal]:
    """Which resource the kubelet reclaimed decides the category: the pod's message, its Evicted events, else the
    pressure condition of its node (a table shows only "Evicted"); memory is assumed only when nothing says."""
    pod = seen.obj
    if pod.status != "Evicted" and pod.reason != "Evicted":
        return []
    said = [pod.message] + [ev.message for ev, _ in events if ev.reason == "Evicted" or "low on resource" in ev.message]
    message = next((m for m in said if m), "")
    eid = seen.eid if pod.message or not message else next(e for ev, e in events if ev.message == message)
    node = state.nodes.get(pod.node).obj if pod.node in state.nodes else None
    pressure = {k for k, c in (node.conditions.items() if node else []) if k in ("DiskPressure", "MemoryPressure") and c.status == "True"}
    if _DISK_EVICTION.search(message) or (not message and pressure == {"DiskPressure"}):
        why = message[:140] or f"its node {pod.node} reports DiskPressure"
        return [Signal(category="disk_full", weight=1.2 * weight, evidence_id=eid, reason=f"{_who(pod)} evicted: {why}")]
    known = bool(message) or "MemoryPressure" in pressure
    return [Signal(category="memory_pressure", weight=(1.0 if known else 0.6) * weight, evidence_id=eid,
                   reason=f"{_who(pod)} evicted" + (f": {message[:140]}" if message else ""))]


def _node_ran_out_of_memory(state: ClusterState, name: str, seen: Seen, weight: float) -> list[Signal]:
    """The kubelet's own events: the system OOM killer at work and memory reclaimed on this node (pods without limits
    take it all). On a node gone NotReady that is why it went; elsewhere it is the node's memory running out."""
    said = [(ev, eid) for ev, eid in state.events_for("node", name, "") if ev.reason in ("SystemOOM", "NodeHasInsufficientMemory")
            or (ev.reason == "EvictionThresholdMet" and "memory" in ev.message.lower())]
    if not said:
        return []
    kills = sum(ev.count or 1 for ev, _ in said if ev.reason == "SystemOOM")
    victim = next((m.group(1) for ev, _ in said if (m := re.search(r"victim process: (\S+?),", ev.message))), "")
    down = seen.obj.ready is not True
    return [Signal(category="memory_pressure", weight=(2.6 if down else 1.8) * weight, evidence_id=said[0][1], finding="node_memory_exhausted",
                   reason=f"node {name} ran out of memory: {kills} system OOM kill(s)" + (f" (victim {victim})" if victim else "")
                          + (", then it went NotReady" if down else ""))]


def _nodes(state: ClusterState, focus: Focus) -> list[Signal]:
    out: list[Signal] = []
    hosting = {s.obj.node for s in state.pods.values() if s.obj.node and focus.pod(s.obj)}
    for name, seen in state.nodes.items():
        node = seen.obj
        weight = 1.0 if name in hosting or not focus.names or seen.detail == "describe" else 0.5
        if node.conditions.get("MemoryPressure") and node.conditions["MemoryPressure"].status == "True":
            out.append(Signal(category="memory_pressure", weight=1.5 * weight, evidence_id=seen.eid, reason=f"node {name} reports MemoryPressure"))
        if node.conditions.get("DiskPressure") and node.conditions["DiskPressure"].status == "True":
            out.append(Signal(category="disk_full", weight=1.2 * weight, evidence_id=seen.eid, reason=f"node {name} reports DiskPressure"))
            out.append(Signal(category="capacity_exhausted", weight=0.6 * weight, evidence_id=seen.eid, reason=f"node {name} under disk pressure"))
        if node.conditions.get("PIDPressure") and node.conditions["PIDPressure"].status == "True":
            out.append(Signal(category="capacity_exhausted", weight=0.8 * weight, evidence_id=seen.eid, reason=f"node {name} under PID pressure"))
        if node.ready is False and name in hosting:
            out.append(Signal(category="capacity_exhausted", weight=1.5, evidence_id=seen.eid, reason=f"node {name}, which runs the workload, is NotReady"))
        out += _node_ran_out_of_memory(state, name, seen, weight)
    listed = [s for s in state.nodes.values()]
    down = [s for s in listed if s.obj.ready is False]
    if listed and down and len(down) >= max(1, len(listed) // 3):
        out.append(Signal(category="capacity_exhausted", weight=0.7, evidence_id=down[0].eid, reason=f"{len(down)} of {len(listed)} nodes NotReady"))
    return out
