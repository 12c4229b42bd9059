"""Kubernetes objects as typed facts: what `kubectl get … -o json|yaml`, its tables and `describe` tell about them.

One model per kind of object, holding the fields an SRE (and k8sgpt's
analyzers) reads: a container's state, reason, exit code, last termination,
restarts, probes, limits; a pod's owner, labels, conditions and claims; a
workload's desired and ready replicas; a Service's selector; a NetworkPolicy's
rules. The same model is filled from JSON, YAML, a text table (fewer fields)
or a description, so the analyzers read one shape whatever was recorded.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

from agents.diagnosis.facts import size_to_mb

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m|u|n)?$")
_MEM = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k|m)?$")
_MEM_MB = {"": 1 / 1048576, "Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0, "Ti": 1048576.0, "K": 1000 / 1048576, "k": 1000 / 1048576,
           "M": 1e6 / 1048576, "G": 1e9 / 1048576, "T": 1e12 / 1048576, "m": 1e-3 / 1048576}


def cpu_millicores(value: object) -> float | None:
    """'500m' -> 500, '1' -> 1000, '0.25' -> 250, 1.5 -> 1500; None for anything else."""
    if value is None:
        return None
    m = _CPU.match(str(value).strip())
    if not m:
        return None
    number = float(m.group(1))
    return {"m": number, "u": number / 1000, "n": number / 1e6}.get(m.group(2) or "", number * 1000)


def memory_mb(value: object) -> float | None:
    """'512Mi' -> 512, '1Gi' -> 1024, '1G' -> 953.7, '536870912' (bytes) -> 512; kubectl top's '801Mi' too."""
    if value is None:
        return None
    text = str(value).strip()
    m = _MEM.match(text)
    if m:
        return round(float(m.group(1)) * _MEM_MB[m.group(2) or ""], 3)
    return size_to_mb(text.replace("i", ""), default_unit="B")


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time as the API prints it ('2026-03-02T10:04:00Z'), or None."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def parse_labels(text: str) -> dict[str, str]:
    """'app=api,tier=web' (kubectl's selector and label columns) -> a dict; '<none>' -> {}."""
    out: dict[str, str] = {}
    for part in re.split(r"[,\s]+", (text or "").strip()):
        if "=" in part and not part.startswith("<"):
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """An equality selector matches labels; an empty selector matches every object (as the API reads it)."""
    return all(labels.get(k) == v for k, v in selector.items())


class Condition(BaseModel):
    status: str = ""  # True | False | Unknown
    reason: str = ""
    message: str = ""


class Probe(BaseModel):
    kind: str  # liveness | readiness | startup
    action: str = ""  # "http-get :8080/healthz", "tcp-socket :5432", "exec [pg_isready]"
    port: str = ""
    path: str = ""
    timeout_s: float | None = None
    period_s: float | None = None
    failure_threshold: int | None = None
    initial_delay_s: float | None = None


class Container(BaseModel):
    name: str
    image: str = ""
    init: bool = False
    ready: bool | None = None
    restarts: int = 0
    state: str = ""  # running | waiting | terminated
    reason: str = ""
    message: str = ""
    exit_code: int | None = None
    last_state: str = ""
    last_reason: str = ""
    last_exit_code: int | None = None
    last_message: str = ""
    last_started: datetime | None = None
    last_finished: datetime | None = None
    cpu_limit_m: float | None = None
    cpu_request_m: float | None = None
    memory_limit_mb: float | None = None
    memory_request_mb: float | None = None
    ports: list[str] = Field(default_factory=list)  # "8080/TCP"
    probes: list[Probe] = Field(default_factory=list)
    env_refs: list[str] = Field(default_factory=list)  # "Secret/payment-secrets", "ConfigMap/api-config"

    @property
    def last_run_s(self) -> float | None:
        if self.last_started and self.last_finished:
            return (self.last_finished - self.last_started).total_seconds()
        return None

    def probe(self, kind: str) -> Probe | None:
        return next((p for p in self.probes if p.kind == kind), None)


class Owner(BaseModel):
    kind: str
    name: str


class Pod(BaseModel):
    namespace: str = ""
    name: str
    phase: str = ""
    status: str = ""  # what kubectl's STATUS column shows: CrashLoopBackOff, Init:Error, Evicted, Pending ...
    reason: str = ""
    message: str = ""
    ready: str = ""  # "1/2"
    restarts: int = 0
    age: str = ""
    node: str = ""
    ip: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    owner: Owner | None = None
    containers: list[Container] = Field(default_factory=list)
    init_containers: list[Container] = Field(default_factory=list)
    conditions: dict[str, Condition] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict)
    affinity: list[str] = Field(default_factory=list)  # required node affinity terms, "zone In (a, b)"
    tolerations: list[str] = Field(default_factory=list)
    claims: list[str] = Field(default_factory=list)  # PersistentVolumeClaims the pod mounts
    detail: str = "table"  # table | json | describe: how much is known
    created: datetime | None = None

    @property
    def all_containers(self) -> list[Container]:
        return self.init_containers + self.containers

    @property
    def healthy(self) -> bool:
        if self.status in ("Running", "Completed", "Succeeded") and self.restarts < 3:
            have, _, want = self.ready.partition("/")
            return self.status != "Running" or not want or have == want
        return False


class Workload(BaseModel):
    """A Deployment, StatefulSet, DaemonSet or ReplicaSet."""

    kind: str
    namespace: str = ""
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    selector: dict[str, str] = Field(default_factory=dict)
    owner: Owner | None = None
    desired: int | None = None
    ready: int | None = None
    available: int | None = None
    updated: int | None = None
    conditions: dict[str, Condition] = Field(default_factory=dict)
    containers: list[Container] = Field(default_factory=list)  # the pod template's (limits, probes, images)
    age: str = ""
    created: datetime | None = None
    revision: str = ""

    @property
    def images(self) -> list[str]:
        return [c.image for c in self.containers if c.image]


class Job(BaseModel):
    namespace: str = ""
    name: str
    owner: Owner | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    selector: dict[str, str] = Field(default_factory=dict)
    completions: int | None = None
    succeeded: int = 0
    failed: int = 0
    active: int = 0
    backoff_limit: int | None = None
    deadline_s: int | None = None
    conditions: dict[str, Condition] = Field(default_factory=dict)
    containers: list[Container] = Field(default_factory=list)
    status: str = ""  # the table's STATUS (Complete, Failed, Running) when printed
    age: str = ""

    @property
    def failed_for(self) -> Condition | None:
        failed = self.conditions.get("Failed")
        return failed if failed is not None and failed.status == "True" else None


class CronJob(BaseModel):
    namespace: str = ""
    name: str
    schedule: str = ""
    suspend: bool = False
    active: int = 0
    last_schedule: str = ""
    age: str = ""


class Service(BaseModel):
    namespace: str = ""
    name: str
    type: str = ""
    cluster_ip: str = ""
    selector: dict[str, str] = Field(default_factory=dict)
    ports: list[str] = Field(default_factory=list)  # "80/TCP", "80:8080/TCP" (port:targetPort)
    selector_known: bool = False  # False when a table without the SELECTOR column was read


class Endpoints(BaseModel):
    namespace: str = ""
    name: str
    ready: list[str] = Field(default_factory=list)  # pod names (or addresses) ready to serve
    not_ready: list[str] = Field(default_factory=list)
    ports: list[str] = Field(default_factory=list)


class Ingress(BaseModel):
    namespace: str = ""
    name: str
    ingress_class: str = ""
    hosts: list[str] = Field(default_factory=list)
    backends: list[str] = Field(default_factory=list)  # service names
    unresolved: list[str] = Field(default_factory=list)  # backends the description says do not exist ("services "web" not found")


class Claim(BaseModel):
    namespace: str = ""
    name: str
    phase: str = ""
    volume: str = ""
    storage_class: str = ""
    capacity: str = ""


class Node(BaseModel):
    name: str
    ready: bool | None = None
    status: str = ""
    conditions: dict[str, Condition] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[str] = Field(default_factory=list)  # "key=value:NoSchedule"
    unschedulable: bool = False
    cpu_allocatable_m: float | None = None
    memory_allocatable_mb: float | None = None


class Autoscaler(BaseModel):
    namespace: str = ""
    name: str
    target: str = ""  # "Deployment/api"
    min_replicas: int | None = None
    max_replicas: int | None = None
    current: int | None = None
    desired: int | None = None
    metrics: list[str] = Field(default_factory=list)  # "cpu: 96%/70%"
    conditions: dict[str, Condition] = Field(default_factory=dict)


class DisruptionBudget(BaseModel):
    namespace: str = ""
    name: str
    selector: dict[str, str] = Field(default_factory=dict)
    min_available: str = ""
    max_unavailable: str = ""
    allowed: int | None = None
    current_healthy: int | None = None
    desired_healthy: int | None = None


class Peer(BaseModel):
    """One `from`/`to` entry of a NetworkPolicy rule."""

    pods: dict[str, str] | None = None  # None: any pod (of the selected namespaces)
    namespaces: dict[str, str] | None = None  # None: the policy's own namespace
    cidr: str = ""


class PolicyRule(BaseModel):
    peers: list[Peer] = Field(default_factory=list)  # empty: from/to anywhere
    ports: list[str] = Field(default_factory=list)  # "5432/TCP"; empty: every port


class NetworkPolicy(BaseModel):
    namespace: str = ""
    name: str
    pod_selector: dict[str, str] = Field(default_factory=dict)
    selector_known: bool = True
    policy_types: list[str] = Field(default_factory=list)  # Ingress, Egress
    ingress: list[PolicyRule] = Field(default_factory=list)
    egress: list[PolicyRule] = Field(default_factory=list)
    age: str = ""


class KubeEvent(BaseModel):
    type: str = ""
    reason: str = ""
    object: str = ""  # "pod/api-7c9d8f6b54-t4bwm" as kubectl prints it
    message: str = ""
    count: int = 1
    namespace: str = ""

    @property
    def kind(self) -> str:
        return self.object.split("/", 1)[0].lower() if "/" in self.object else ""

    @property
    def name(self) -> str:
        return self.object.split("/", 1)[1] if "/" in self.object else self.object


class ObjectSet(BaseModel):
    """Objects of any kind, as one listing (or several) printed them."""

    pods: list[Pod] = Field(default_factory=list)
    workloads: list[Workload] = Field(default_factory=list)
    jobs: list[Job] = Field(default_factory=list)
    cronjobs: list[CronJob] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    endpoints: list[Endpoints] = Field(default_factory=list)
    ingresses: list[Ingress] = Field(default_factory=list)
    claims: list[Claim] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)
    autoscalers: list[Autoscaler] = Field(default_factory=list)
    budgets: list[DisruptionBudget] = Field(default_factory=list)
    policies: list[NetworkPolicy] = Field(default_factory=list)
    events: list[KubeEvent] = Field(default_factory=list)
    others: list[str] = Field(default_factory=list)  # "ServiceAccount/shop/api": kinds read but not analysed

    def count(self) -> int:
        return sum(len(getattr(self, f)) for f in ObjectSet.model_fields)
