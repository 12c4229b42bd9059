"""Placeholder values the cluster's own listings give: the pod, workload, Job and namespace the request is about.

An alert names a deployment, a question names a workload; the first listing
says which of its pods is sick (the one to describe and read the previous
logs of), which Job failed and which of its pods carries the reason. The
choice follows the focus (kube_state.Focus), never the noisiest pod in the
namespace; with no name at all, the sickest pod of the namespace (or of the
cluster, when only one namespace has sick pods).
"""

from __future__ import annotations

import re
from collections import Counter

from agents.diagnosis.analyzers.base import EvidenceView
from agents.diagnosis.analyzers.kube_pods import kube_view
from agents.diagnosis.analyzers.kube_state import workload_chain
from agents.diagnosis.parsers.kube_model import Pod
from agents.diagnosis.parsers.rollout import ReplicaSetsFacts, age_seconds

_KUBE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
SEVERITY = ("CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError",
            "Error", "Init:CrashLoopBackOff", "Init:Error", "RunContainerError", "Pending", "Evicted")


def _rank(pod: Pod) -> tuple[int, int, float, str]:
    """Sickest first; among equals the one restarted most; then a Job's newest attempt (it says the latest), else the
    first as kubectl lists them (by name), which is the one a person reads."""
    status = pod.status if pod.status in SEVERITY else ("Running" if pod.status == "Running" else "other")
    recency = 0.0
    if (pod.owner is not None and pod.owner.kind == "Job") or pod.labels.get("job-name"):
        if pod.created is not None:
            recency = -pod.created.timestamp()
        elif age_seconds(pod.age) is not None:
            recency = float(age_seconds(pod.age) or 0)
    return (SEVERITY.index(status) if status in SEVERITY else len(SEVERITY), -pod.restarts, recency, pod.name)


def _namespace_of_names(pods: list[Pod], names: set[str]) -> str | None:
    """The one namespace a short name points at when no pod carries it exactly: "payments" for the namespace
    `payments`, or for workloads `payments-api` and `payments-webhook` that all live in one namespace."""
    found = {p.namespace for p in pods if p.namespace and (p.namespace in names or any(
        w.startswith(f"{n}-") for n in names for w in workload_chain(p)[1:] or [p.name]))}
    return found.pop() if len(found) == 1 else None


def learn_kube_values(view: EvidenceView, values: dict[str, str]) -> dict[str, str]:
    state, focus = kube_view(view)
    if not state.pods and not state.jobs:
        return {}
    pods = [s.obj for s in state.pods.values()]
    mine = [p for p in pods if focus.pod(p)]
    namespace = values.get("namespace") or focus.namespace
    guessed = None if mine or namespace else _namespace_of_names(pods, focus.names)
    namespace = namespace or guessed
    if mine:
        pool = mine
    elif namespace:
        pool = [p for p in pods if p.namespace in (namespace, "")]
    elif not focus.names and len({p.namespace for p in pods if not p.healthy}) == 1:
        pool = pods
    else:
        pool = []
    out: dict[str, str] = {}
    sick = sorted((p for p in pool if not p.healthy), key=_rank)
    pick = sick[0] if sick else (mine[0] if mine else None)
    usage = _usage_kind(view.situation.words)
    if usage and sick:  # a memory (or CPU) alert: of the equally sick pods, the one that uses the most
        peers = [p for p in sick if _rank(p)[0] == _rank(sick[0])[0]]
        used = [(state.usage.get((p.namespace, p.name)) or state.usage.get(("", p.name)), p) for p in peers]
        used = [(u[0].memory_mb if usage == "memory" else u[0].cpu_millicores, p) for u, p in used if u is not None]
        if used:
            pick = max(used, key=lambda up: up[0] or 0)[1]
    if pick is None and pool:  # nothing sick: the hottest pod of the namespace (its limits say whether it is throttled)
        used = [(u[0].cpu_millicores, p) for p in pool if (u := state.usage.get((p.namespace, p.name)) or state.usage.get(("", p.name)))
                and u[0].cpu_millicores]
        if used:
            pick = max(used, key=lambda up: (up[0], up[1].name))[1]
    jobs = [s.obj for (ns, _), s in state.jobs.items() if (s.obj.failed_for is not None or s.obj.status == "Failed")
            and (focus.named(s.obj.name) or (s.obj.owner is not None and focus.named(s.obj.owner.name)) or (not focus.names and ns == namespace))]
    if jobs:
        out["job"] = jobs[0].name
        failed = sorted((s.obj for s in state.pods_of_job(jobs[0])), key=_rank)
        if failed and (pick is None or pick not in failed):
            pick = failed[0]
    if pick is not None:
        out["pod"] = pick.name
        looping = [c for c in pick.all_containers if c.restarts >= 1 or c.reason in ("CrashLoopBackOff", "Error")]
        if looping and len(pick.all_containers) > 1:  # `kubectl logs POD` reads the main container only
            out["crashing_container"] = max(looping, key=lambda c: c.restarts).name
        if pick.namespace:
            out["namespace"] = pick.namespace
        chain = workload_chain(pick)
        if pick.owner is not None and pick.owner.kind == "ReplicaSet" and len(chain) > 1:
            out["deployment"] = chain[1]
        elif pick.owner is None and chain and re.match(r"^.+-[a-z0-9]{6,10}-[a-z0-9]{5}$", pick.name):
            out["deployment"] = chain[0]
        if pick.owner is not None and pick.owner.kind == "Job":
            out.setdefault("job", pick.owner.name)
    if guessed is not None:
        out.setdefault("namespace", guessed)
    if namespace:  # a namespace the words named by its bare name ("the shop is slow"), found in the cluster
        out.setdefault("namespace", namespace)
    rules_unknown = [s.obj for (ns, _), s in state.policies.items() if not s.obj.policy_types and ns in (namespace, "")]
    if rules_unknown:  # a table named a policy near the workload; its description says what it allows
        out["networkpolicy"] = rules_unknown[0].name
    unserved = [name for (ns, name), ep in sorted(state.endpoints.items()) if ns in (namespace, "") and not ep.obj.ready
                and not ep.obj.not_ready and not (state.services.get((ns, name)) and state.services[(ns, name)].obj.selector_known)]
    if unserved:  # a Service without endpoints whose selector no read has shown yet: its description and the pods' labels say why
        out["unserved_service"] = unserved[0]
    out.update(_troubled_objects(view, state, namespace, pick))
    out.update(_refused_destination(view, state, focus))
    out.update(_edge(view, state, focus, namespace))
    out.update(_metrics_server(state))
    # "the catalog deploy" is catalog-api in the cluster: the workload found replaces the words' short name
    renamed = {k for k in ("deployment",) if values.get(k) and out.get(k, "").startswith(f"{values[k]}-")}
    return {k: v for k, v in out.items() if (k not in values or k in renamed) and _KUBE_NAME.match(v)}


def _refused_destination(view: EvidenceView, state, focus) -> dict[str, str]:
    """The Service a client's refused connections go to (by its name or ClusterIP), and one of its pods: their
    descriptions say which port the Service sends to and which the pods serve."""
    from agents.diagnosis.analyzers.kube_network import refused_services

    for ns, name in sorted(refused_services(view, state, focus)):
        out = {"refused_service": name}
        behind = sorted(p.obj.name for p in state.pods.values() if p.obj.namespace == ns and p.obj.name.startswith(f"{name}-") and p.detail != "describe")
        if behind:
            out["backend_pod"] = behind[0]
        return out
    return {}


def _edge(view: EvidenceView, state, focus, namespace: str | None) -> dict[str, str]:
    """The Ingress to describe when a listing cannot say where it routes: the one serving a host the words name,
    else one the request names, else (with no namespace known) the one named like its namespace."""
    unseen = [s.obj for s in state.ingresses.values() if s.detail == "table" and not s.obj.backends]
    if not unseen:
        return {}
    words = view.situation.words.lower()

    def rank(ing) -> tuple[int, int, str]:
        named_host = any(h.lower() in words or h.lower().split(".", 1)[-1] in words for h in ing.hosts)
        return (0 if named_host else 1 if focus.named(ing.name) or ing.namespace == namespace else 2 if ing.name == ing.namespace else 3,
                len(ing.name), ing.name)

    pick = min(unseen, key=rank)
    return {"ingress": pick.name, "ingress_namespace": pick.namespace} if pick.namespace else {}


def _metrics_server(state) -> dict[str, str]:
    """An autoscaler blind to its metrics and the metrics API's server down: that pod, to describe (why it restarts)."""
    blind = any(any("<unknown>" in m for m in s.obj.metrics) or (s.obj.conditions.get("ScalingActive") is not None
                and s.obj.conditions["ScalingActive"].status == "False") for s in state.autoscalers.values())
    down = sorted(s.obj for s in state.pods.values() if blind and not s.obj.healthy and s.detail != "describe"
                  and re.match(r"(?:metrics-server|prometheus-adapter)", s.obj.name))
    return {"dependency_pod": down[0].name, "dependency_namespace": down[0].namespace} if down and down[0].namespace else {}


def _troubled_objects(view: EvidenceView, state, namespace: str | None, pick: Pod | None) -> dict[str, str]:
    """Objects a listing shows in trouble whose description (its events) says why: a claim still Pending, an
    autoscaler at its ceiling or without its metrics, a ReplicaSet short of the pods it wants, a node not Ready or
    under pressure (the picked pod's first)."""
    out: dict[str, str] = {}
    pending = _first_troubled(state.claims, namespace, lambda c: c.phase == "Pending")
    if pending:
        out["pending_claim"] = pending
    troubled = _first_troubled(state.autoscalers, namespace, lambda a: (a.current is not None and a.max_replicas is not None and a.current >= a.max_replicas)
                             or any("unknown" in m for m in a.metrics))
    if troubled:
        out["autoscaler"] = troubled
    described = {name for (kind, _, name), w in state.workloads.items() if kind == "ReplicaSet" and w.detail == "describe"}
    stalled = sorted(rs.name for _, listing in view.facts(ReplicaSetsFacts) for rs in listing.replicasets
                     if rs.namespace in (namespace, "") and rs.current < rs.desired and rs.name not in described)
    if stalled:  # pods the ReplicaSet cannot create: its events say why (quota, admission, a webhook that does not answer)
        out["stalled_replicaset"] = stalled[0]
    sick = [seen.obj for seen in state.nodes.values() if seen.detail != "describe" and (seen.obj.ready is False or any(
        name.endswith("Pressure") and cond.status == "True" for name, cond in seen.obj.conditions.items()))]
    if sick:
        mine = [n for n in sick if pick is not None and n.name == pick.node]
        out["sick_node"] = (mine or sorted(sick, key=lambda n: n.name))[0].name
    else:  # the node the kubelet evicted pods from: its conditions say which resource ran short
        evicted = Counter(s.obj.node for s in state.pods.values() if s.obj.status == "Evicted" and s.obj.node)
        described = {name for name, seen in state.nodes.items() if seen.detail == "describe"}
        if evicted and evicted.most_common(1)[0][0] not in described:
            out["sick_node"] = evicted.most_common(1)[0][0]
    return out


def _first_troubled(table: dict, namespace: str | None, trouble) -> str | None:
    """The first object of the namespace in `table` that is in trouble and was not described yet."""
    found = sorted(name for (ns, name), seen in table.items() if ns in (namespace, "") and seen.detail != "describe" and trouble(seen.obj))
    return found[0] if found else None


def _usage_kind(words: str) -> str | None:
    low = words.lower()
    if re.search(r"memory|oom|메모리|heap|rss", low):
        return "memory"
    if re.search(r"cpu|throttl|load|부하", low):
        return "cpu"
    return None
