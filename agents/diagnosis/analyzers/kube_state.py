"""The cluster as the evidence shows it, and the part of it the request is about.

Every kubectl output the diagnostician read (listings as JSON, YAML or tables,
descriptions, `kubectl top`) is merged into one ClusterState: one object per
pod, workload, Job, Service ... keeping the richest reading of each and the
evidence it came from. `Focus` then says which objects the alert or question
names, through the owner chain (pod -> ReplicaSet -> Deployment, pod -> Job
-> CronJob), labels and names, so a crash-looping neighbour in the same
namespace does not outweigh the workload the alert is about.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from agents.diagnosis.analyzers.base import SCRAPE_JOBS, EvidenceView, LogView
from agents.diagnosis.parsers.kube_describe import KubeDescribeFacts
from agents.diagnosis.parsers.kube_model import (
    Autoscaler,
    Claim,
    CronJob,
    DisruptionBudget,
    Endpoints,
    Ingress,
    Job,
    KubeEvent,
    NetworkPolicy,
    Node,
    ObjectSet,
    Pod,
    Service,
    Workload,
    selects,
)
from agents.diagnosis.parsers.kube_objects import KubeObjectsFacts
from agents.diagnosis.parsers.kubernetes import KubeEventsFacts, KubeNodesFacts, KubePodsFacts
from agents.diagnosis.parsers.usage import KubeTopFacts, TopEntry

T = TypeVar("T")
DETAIL_RANK = {"table": 1, "describe": 2, "json": 3}
SYSTEM_NAMESPACES = ("kube-system",)
# Label keys that carry an application's name
APP_LABELS = ("app", "app.kubernetes.io/name", "app.kubernetes.io/instance", "k8s-app", "name", "job-name", "batch.kubernetes.io/job-name",
              "component", "app.kubernetes.io/component")
_RS_HASH = re.compile(r"^(.+)-[a-z0-9]{6,10}$")
_POD_OF_RS = re.compile(r"^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_POD_OF_STS = re.compile(r"^(.+)-\d{1,4}$")
_POD_OF_JOB = re.compile(r"^(.+)-[a-z0-9]{5}$")
_JOB_OF_CRON = re.compile(r"^(.+)-\d{6,12}$")


@dataclass
class Seen(Generic[T]):
    """An object and the evidence that showed it (the richest reading first)."""

    obj: T
    eid: str
    detail: str = "table"
    eids: list[str] = field(default_factory=list)


def _namespace_of(command: str) -> str:
    try:
        argv = shlex.split(command or "")
    except ValueError:
        argv = (command or "").split()
    for i, arg in enumerate(argv):
        if arg in ("-n", "--namespace") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--namespace="):
            return arg.split("=", 1)[1]
    return ""


def workload_chain(pod: Pod) -> list[str]:
    """The names above a pod, nearest first: ReplicaSet and Deployment, StatefulSet, Job and CronJob, DaemonSet."""
    chain: list[str] = []
    owner = pod.owner
    if owner is not None and owner.name:
        chain.append(owner.name)
        if owner.kind == "ReplicaSet":
            m = _RS_HASH.match(owner.name)
            if m:
                chain.append(m.group(1))
        elif owner.kind == "Job":
            m = _JOB_OF_CRON.match(owner.name)
            if m:
                chain.append(m.group(1))
        return chain
    for pattern in (_POD_OF_RS, _POD_OF_STS, _POD_OF_JOB):
        m = pattern.match(pod.name)
        if m:
            chain.append(m.group(1))
            cron = _JOB_OF_CRON.match(m.group(1))
            if cron:
                chain.append(cron.group(1))
            break
    if pod.labels.get("job-name"):
        chain.append(pod.labels["job-name"])
    return chain


class ClusterState:
    """Every Kubernetes object the evidence shows, once, with where it was seen."""

    def __init__(self, view: EvidenceView):
        self.pods: dict[tuple[str, str], Seen[Pod]] = {}
        self.workloads: dict[tuple[str, str, str], Seen[Workload]] = {}
        self.jobs: dict[tuple[str, str], Seen[Job]] = {}
        self.cronjobs: dict[tuple[str, str], Seen[CronJob]] = {}
        self.services: dict[tuple[str, str], Seen[Service]] = {}
        self.endpoints: dict[tuple[str, str], Seen[Endpoints]] = {}
        self.ingresses: dict[tuple[str, str], Seen[Ingress]] = {}
        self.claims: dict[tuple[str, str], Seen[Claim]] = {}
        self.nodes: dict[str, Seen[Node]] = {}
        self.autoscalers: dict[tuple[str, str], Seen[Autoscaler]] = {}
        self.budgets: dict[tuple[str, str], Seen[DisruptionBudget]] = {}
        self.policies: dict[tuple[str, str], Seen[NetworkPolicy]] = {}
        self.events: list[tuple[KubeEvent, str]] = []
        self.usage: dict[tuple[str, str], tuple[TopEntry, str]] = {}
        self.pod_logs: dict[str, list[LogView]] = {}
        self.listed_namespaces: set[str] = set()  # namespaces whose pods were listed (a pod missing there is absent)
        self.all_pods_listed = False
        self.services_listed: set[str] = set()
        self._read(view)

    # ------------------------------------------------------------------ reading
    def _read(self, view: EvidenceView) -> None:
        for e, pods in view.facts(KubePodsFacts):
            ns = _namespace_of(e.command or "")
            if "--all-namespaces" in (e.command or "") or " -A" in (e.command or ""):
                self.all_pods_listed = True
            elif ns:
                self.listed_namespaces.add(ns)
            self._merge(ObjectSet(pods=pods.pods), e.id, ns)
        for e, objects in view.facts(KubeObjectsFacts):
            ns = _namespace_of(e.command or "")
            if objects.kind == "services" and ns:
                self.services_listed.add(ns)
            elif objects.kind == "services" and re.search(r"--all-namespaces|\s-A\b", e.command or ""):
                self.services_listed |= {svc.namespace for svc in objects.services if svc.namespace} | {"*"}
            self._merge(objects, e.id, ns, objects.format)
        for e, describe in view.facts(KubeDescribeFacts):
            if describe.objects is not None:
                self._merge(describe.objects, e.id, describe.namespace, "describe")
            obj = f"{describe.kind}/{describe.name}"
            self.events += [(ev.model_copy(update={"object": ev.object or obj, "namespace": ev.namespace or describe.namespace}), e.id)
                            for ev in describe.events]
        for e, events in view.facts(KubeEventsFacts):
            ns = _namespace_of(e.command or "")
            self.events += [(ev if ev.namespace or not ns else ev.model_copy(update={"namespace": ns}), e.id) for ev in events.events]
        for e, nodes in view.facts(KubeNodesFacts):
            self._merge(ObjectSet(nodes=nodes.nodes), e.id, "", "json" if any(n.labels for n in nodes.nodes) else "table")
        for e, top in view.facts(KubeTopFacts):
            ns = _namespace_of(e.command or "")
            if "top" in (e.command or "") and "nodes" in (e.command or ""):
                continue
            for entry in top.entries:
                self.usage[(entry.namespace or ns, entry.name)] = (entry, e.id)
        for stream in view.logs():
            e = view.get(stream.evidence_id)
            command = (e.command or "") if e is not None else ""
            if e is not None and e.kind == "command" and command.startswith("kubectl") and " logs " in f" {command} ":
                pod = next((w for w in shlex.split(command)[2:] if not w.startswith("-") and w != _namespace_of(command)
                            and not re.fullmatch(r"\d+", w)), "")
                if pod:
                    self.pod_logs.setdefault(pod, []).append(stream)

    def _put(self, table: dict, key, obj, eid: str, detail: str) -> None:
        seen = table.get(key)
        if seen is None:
            table[key] = Seen(obj, eid, detail, [eid])
            return
        if eid not in seen.eids:
            seen.eids.append(eid)
        if DETAIL_RANK.get(detail, 0) > DETAIL_RANK.get(seen.detail, 0):
            if isinstance(obj, Pod) and isinstance(seen.obj, Pod) and not obj.labels and seen.obj.labels:
                obj = obj.model_copy(update={"labels": seen.obj.labels, "owner": obj.owner or seen.obj.owner})
            seen.obj, seen.eid, seen.detail = obj, eid, detail
        elif isinstance(obj, Pod) and isinstance(seen.obj, Pod) and obj.labels and not seen.obj.labels and detail == seen.detail:
            seen.obj, seen.eid = obj, eid  # the same table with `--show-labels`: the listing that says what selects the pod

    def _merge(self, objects: ObjectSet, eid: str, namespace: str, detail: str | None = None) -> None:
        def ns(obj) -> str:
            if not obj.namespace and namespace:
                obj.namespace = namespace
            return obj.namespace

        for pod in objects.pods:
            self._put(self.pods, (ns(pod), pod.name), pod, eid, detail if detail not in (None, "table") else pod.detail)
        for w in objects.workloads:
            self._put(self.workloads, (w.kind, ns(w), w.name), w, eid, detail or "table")
        for table, items in ((self.jobs, objects.jobs), (self.cronjobs, objects.cronjobs), (self.services, objects.services),
                             (self.endpoints, objects.endpoints), (self.ingresses, objects.ingresses), (self.claims, objects.claims),
                             (self.autoscalers, objects.autoscalers), (self.budgets, objects.budgets), (self.policies, objects.policies)):
            for obj in items:
                self._put(table, (ns(obj), obj.name), obj, eid, detail or "table")
        for node in objects.nodes:
            self._put(self.nodes, node.name, node, eid, detail or "table")
        for ev in objects.events:
            self.events.append((ev if ev.namespace or not namespace else ev.model_copy(update={"namespace": namespace}), eid))

    # ------------------------------------------------------------------ questions
    def events_for(self, kind: str, name: str, namespace: str = "") -> list[tuple[KubeEvent, str]]:
        return [(ev, eid) for ev, eid in self.events if ev.kind == kind and ev.name == name and (not namespace or not ev.namespace or ev.namespace == namespace)]

    def pods_of_selector(self, namespace: str, selector: dict[str, str]) -> list[Seen[Pod]]:
        if not selector:
            return []
        return [s for (ns, _), s in self.pods.items() if ns == namespace and s.obj.labels and selects(selector, s.obj.labels)]

    def pods_of_job(self, job: Job) -> list[Seen[Pod]]:
        def of_job(pod: Pod) -> bool:
            if pod.labels.get("job-name") == job.name or (pod.owner is not None and pod.owner.kind == "Job" and pod.owner.name == job.name):
                return True
            m = _POD_OF_JOB.match(pod.name)
            return pod.owner is None and m is not None and m.group(1) == job.name

        return [s for (ns, _), s in self.pods.items() if ns in (job.namespace, "") and of_job(s.obj)]

    def namespaces(self) -> set[str]:
        return {ns for ns, _ in self.pods} | {ns for _, ns, _ in self.workloads} | {ns for ns, _ in self.jobs} | {ns for ns, _ in self.services}


class Focus:
    """What the request is about, in the cluster: names (workloads, pods, jobs, services) and a namespace."""

    def __init__(self, view: EvidenceView, state: ClusterState):
        situation = view.situation
        labels = situation.labels
        names = {v.lower() for k in ("service", "app", "deployment", "pod", "container", "statefulset", "daemonset", "cronjob", "job_name",
                                     "job", "workload") if (v := labels.get(k)) and not (k == "job" and SCRAPE_JOBS.search(v))}
        if not names:
            names = {v for k, v in situation.subjects.items() if k not in ("namespace", "others") and isinstance(v, str)}
            names |= set(situation.subjects.get("others") or [])
        self.namespace = situation.namespace
        self.names = {n.split(":")[0] for n in names if n}
        self.state = state
        self.loose = False  # "the cart service" when the cluster has cart-api: a name that is the first part of the workloads' names
        self.matched = self._matches(state)
        if not self.matched and self.names:
            self.loose = True
            self.matched = self._matches(state)
            self.loose = self.matched
        if not self.matched and not self.namespace:  # "the shop is slow" where shop is a namespace and names no workload
            spaces = self.names & {s.obj.namespace for s in state.pods.values() if s.obj.namespace}
            if len(spaces) == 1:
                self.namespace = spaces.pop()
                self.names.discard(self.namespace)

    def _matches(self, state: ClusterState) -> bool:
        return bool(self.names) and (
            any(self.pod(s.obj) for s in state.pods.values()) or any(self.named(w.obj.name) for w in state.workloads.values())
            or any(self.named(j.obj.name) for j in state.jobs.values()) or any(self.named(s.obj.name) for s in state.services.values()))

    def named(self, name: str) -> bool:
        low = (name or "").lower()
        return bool(low) and (low in self.names or (self.loose and any(low.startswith(f"{n}-") or (len(n) >= 5 and low.startswith(n))
                                                                         for n in self.names)))  # "thumbnail" finds thumbnailer

    def pod(self, pod: Pod) -> bool:
        """Is this pod one the request names (the pod, its workload, its app label, its container)?"""
        if not self.names:
            return False
        if self.namespace and pod.namespace and pod.namespace != self.namespace:
            return False
        if self.named(pod.name) or any(self.named(n) for n in workload_chain(pod)):
            return True
        if any(self.named(pod.labels.get(k, "")) for k in APP_LABELS):
            return True
        return any(self.named(c.name) for c in pod.containers) and pod.detail != "table"

    def weight(self, namespace: str, about: bool) -> float:
        """How much a finding on an object counts: full for what the request names, little for its neighbours."""
        if about:
            return 1.0
        if self.names and self.matched:
            return 0.25 if namespace == self.namespace or not self.namespace else 0.15
        if self.namespace:
            return 1.0 if namespace in (self.namespace, "") else 0.3
        return 1.0 if not self.names else 0.6

    def pod_weight(self, pod: Pod) -> float:
        return self.weight(pod.namespace, self.pod(pod))

    def object_weight(self, namespace: str, name: str) -> float:
        about = self.named(name) or any(n and (name.startswith(n + "-") or n.startswith(name + "-")) for n in self.names)
        return self.weight(namespace, about and (not self.namespace or namespace in ("", self.namespace)))
