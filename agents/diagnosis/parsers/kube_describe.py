"""`kubectl describe <kind> <name>`: a pod's containers (state, last state, exit code, probes, limits), its events,
and for the other kinds what their description says (a Service's selector and endpoints, a NetworkPolicy's rules,
a claim's phase, a Job's pod counts, a Deployment's replicas and conditions).

The kind comes from the command that printed the description (a NetworkPolicy
is not a pod because both have a `Name:` line), else from the lines only one
kind prints. What the description says is also kept as typed objects
(kube_model.py), so the analyzers read a described pod like a listed one.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

from pydantic import BaseModel

from agents.diagnosis.config_refs import ConfigRef, env_refs
from agents.diagnosis.facts import Facts, ParserError, to_int
from agents.diagnosis.parsers.kube_model import (
    Autoscaler,
    Claim,
    Condition,
    Container,
    Endpoints,
    Ingress,
    Job,
    KubeEvent,
    NetworkPolicy,
    Node,
    ObjectSet,
    Owner,
    Peer,
    Pod,
    PolicyRule,
    Probe,
    Service,
    Workload,
    cpu_millicores,
    memory_mb,
    parse_labels,
)
from agents.diagnosis.timeline import LogFacts, scan_lines
from tools.recorded_cluster import described_blocks

DESCRIBED_KINDS = {"pods": "pod", "nodes": "node", "deployments": "deployment", "statefulsets": "statefulset", "daemonsets": "daemonset",
                   "replicasets": "replicaset", "services": "service", "networkpolicies": "networkpolicy", "persistentvolumeclaims": "persistentvolumeclaim",
                   "jobs": "job", "cronjobs": "cronjob", "ingresses": "ingress", "horizontalpodautoscalers": "horizontalpodautoscaler",
                   "endpoints": "endpoints", "poddisruptionbudgets": "poddisruptionbudget", "serviceaccounts": "serviceaccount"}


class ContainerState(BaseModel):
    name: str
    image: str = ""
    state: str = ""
    state_reason: str = ""
    last_state: str = ""
    last_reason: str = ""
    exit_code: int | None = None  # the last exit code printed (the state's, else the last state's)
    restart_count: int = 0
    ready: bool | None = None
    memory_limit: str = ""
    cpu_limit: str = ""
    memory_request: str = ""
    cpu_request: str = ""
    state_exit_code: int | None = None
    last_exit_code: int | None = None
    last_started: str = ""
    last_finished: str = ""
    probes: dict[str, str] = {}  # liveness|readiness|startup -> "http-get http://:8080/healthz delay=10s timeout=2s ..."
    ports: list[str] = []


class KubeDescribeFacts(Facts):
    parser: str = "kube_describe"
    kind: str = "pod"
    name: str = ""
    namespace: str = ""
    status: str = ""
    node: str = ""
    containers: list[ContainerState] = []
    conditions: dict[str, str] = {}  # MemoryPressure: True, Ready: False ...
    events: list[KubeEvent] = []
    log: LogFacts | None = None  # events and state reasons as lines, for the text rules
    controlled_by: str = ""  # "ReplicaSet/api-6c9f7d8b5d": the release this pod belongs to
    key_refs: list[ConfigRef] = []  # environment taken from Secret / ConfigMap keys
    labels: dict[str, str] = {}
    objects: ObjectSet | None = None  # what the description says, as typed objects

    def summary(self) -> str:
        out = f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"
        if self.status:
            out += f" {self.status}"
        for c in self.containers[:2]:
            reason = c.state_reason or c.state
            out += f"; {c.name}: {reason}"
            if c.last_reason:
                out += f" (last {c.last_reason}, exit {c.exit_code})"
            if c.restart_count:
                out += f", {c.restart_count} restarts"
        warnings = [e for e in self.events if e.type == "Warning"]
        if warnings:
            out += f"; warning: {warnings[-1].reason}: {warnings[-1].message[:100]}"
        return out


def events_block(lines: list[str]) -> list[KubeEvent]:
    events: list[KubeEvent] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith(("Type ", "----", "<none>")) or stripped.startswith("Type\t"):
            continue
        cells = re.split(r"\s{2,}|\t", stripped, maxsplit=4)
        if len(cells) < 4 or cells[0] not in ("Normal", "Warning"):
            continue
        age = cells[2] if len(cells) > 2 else ""
        count = re.search(r"\(x(\d+) over", age)
        events.append(KubeEvent(type=cells[0], reason=cells[1], object="", message=cells[4] if len(cells) > 4 else cells[-1],
                                count=int(count.group(1)) if count else 1))
    return events


def _kind(text: str, command: str) -> str:
    from agents.diagnosis.parsers.kube_objects import asked_kind

    asked = DESCRIBED_KINDS.get(asked_kind(command))
    if asked:
        return asked
    if re.search(r"^(Roles|Taints|Allocatable):", text, re.M):
        return "node"
    if re.search(r"^Replicas:", text, re.M):
        return "deployment"
    if re.search(r"^Spec:\n\s+PodSelector:", text, re.M):
        return "networkpolicy"
    if re.search(r"^(StorageClass|Access Modes):", text, re.M):
        return "persistentvolumeclaim"
    if re.search(r"^(Pods Statuses|Backoff Limit|Completions):", text, re.M):
        return "job"
    if re.search(r"^(Endpoints|IP Families|TargetPort|Session Affinity):", text, re.M) and not re.search(r"^Containers:", text, re.M):
        return "service"
    return "pod"


def _field(text: str, key: str) -> str:
    m = re.search(rf"^{re.escape(key)}:[ \t]*(.*)$", text, re.M)
    return m.group(1).strip() if m else ""


def _probe(kind: str, value: str) -> Probe:
    m = re.match(r"^(http-get|tcp-socket|exec|grpc)\s+(\S+(?:\s\S+)*?)\s+(?=delay=)", value + " delay=")
    action, where = (m.group(1), m.group(2)) if m else (value.split(" ")[0], "")
    url = re.match(r"^(?:https?://)?[^:/]*:(\w+)(/\S*)?", where)
    num = {k: float(v) for k, v in re.findall(r"\b(delay|timeout|period)=(\d+(?:\.\d+)?)s", value)}
    failures = re.search(r"#failure=(\d+)", value)
    return Probe(kind=kind, action=f"{action} {where}".strip(), port=url.group(1) if url else "", path=(url.group(2) or "") if url else "",
                 timeout_s=num.get("timeout"), period_s=num.get("period"), initial_delay_s=num.get("delay"),
                 failure_threshold=int(failures.group(1)) if failures else None)


def _time(value: str):
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def _containers(lines: list[str]) -> list[ContainerState]:
    containers: list[ContainerState] = []
    current: ContainerState | None = None
    section = sub = ""
    for line in lines:
        if re.match(r"^\S", line):
            section = line.split(":")[0]
            current = None
            continue
        if section not in ("Containers", "Init Containers"):
            continue
        m = re.match(r"^  (\S[^:]*):\s*$", line)
        if m:
            current = ContainerState(name=m.group(1))
            containers.append(current)
            continue
        if current is None:
            continue
        m = re.match(r"^    (\S[^:]*):\s*(.*)$", line)
        if m:
            key, value = m.group(1), m.group(2).strip()
            sub = key
            if key == "Image":
                current.image = value
            elif key == "State":
                current.state = value
            elif key == "Last State":
                current.last_state = value
            elif key == "Ready":
                current.ready = value == "True"
            elif key == "Restart Count":
                current.restart_count = to_int(value) or 0
            elif key in ("Liveness", "Readiness", "Startup"):
                current.probes[key.lower()] = value
            elif key in ("Port", "Ports") and value and value != "<none>":
                current.ports += [p.strip() for p in value.split(",")]
            continue
        m = re.match(r"^      (\S[^:]*):\s*(.*)$", line)
        if m:
            key, value = m.group(1), m.group(2).strip()
            if key == "Reason" and sub == "State":
                current.state_reason = value
            elif key == "Reason" and sub == "Last State":
                current.last_reason = value
            elif key == "Exit Code" and sub in ("State", "Last State"):
                current.exit_code = to_int(value)
                if sub == "State":
                    current.state_exit_code = current.exit_code
                else:
                    current.last_exit_code = current.exit_code
            elif sub == "Last State" and key in ("Started", "Finished"):
                setattr(current, f"last_{key.lower()}", value)
            elif sub in ("Limits", "Requests") and key in ("memory", "cpu"):
                setattr(current, f"{key}_{'limit' if sub == 'Limits' else 'request'}", value)
    return containers


def _typed_container(c: ContainerState, refs: list[ConfigRef]) -> Container:
    state = {"Running": "running", "Waiting": "waiting", "Terminated": "terminated"}
    return Container(
        name=c.name, image=c.image, ready=c.ready, restarts=c.restart_count, state=state.get(c.state.split(" ")[0], ""),
        reason=c.state_reason, exit_code=c.state_exit_code, last_state=state.get(c.last_state.split(" ")[0], ""), last_reason=c.last_reason,
        last_exit_code=c.last_exit_code, last_started=_time(c.last_started), last_finished=_time(c.last_finished),
        cpu_limit_m=cpu_millicores(c.cpu_limit or None), cpu_request_m=cpu_millicores(c.cpu_request or None),
        memory_limit_mb=memory_mb(c.memory_limit or None), memory_request_mb=memory_mb(c.memory_request or None), ports=c.ports,
        probes=[_probe(k, v) for k, v in c.probes.items()], env_refs=sorted({f"{r.kind}/{r.name}" for r in refs}),
    )


def _conditions(text: str) -> dict[str, Condition]:
    out: dict[str, Condition] = {}
    cond = re.search(r"^Conditions:\n(.*?)(?=^\S)", text + "\nEND", re.S | re.M)
    if cond:
        for line in cond.group(1).splitlines():
            cells = line.split()
            if len(cells) >= 2 and cells[0] not in ("Type", "----") and cells[1] in ("True", "False", "Unknown"):
                out[cells[0]] = Condition(status=cells[1], reason=cells[2] if len(cells) > 2 else "", message=" ".join(cells[3:])[:300])
    return out


def _ingress(text: str, name: str, namespace: str) -> Ingress:
    """An Ingress's rules: the hosts, each path's backend Service (`web:80 (<error: services "web" not found>)`)."""
    rules = re.search(r"^Rules:\n(.*?)(?=^\S)", text + "\nEND", re.S | re.M)
    body = rules.group(1) if rules else ""
    backends = re.findall(r"^\s+(?:\S+\s+)?/\S*\s+([a-z0-9][a-z0-9.-]*):\S+", body, re.M)
    hosts = [h for h in re.findall(r"^\s+([a-z0-9*][a-z0-9.*-]*\.[a-z]{2,})\s*$", body, re.M)]
    unresolved = re.findall(r"services? \\?\"([a-z0-9][a-z0-9.-]*)\\?\" not found", body)
    return Ingress(namespace=namespace, name=name, ingress_class=_field(text, "Ingress Class"), hosts=list(dict.fromkeys(hosts)),
                   backends=list(dict.fromkeys(backends)), unresolved=list(dict.fromkeys(unresolved)))


def _service_ports(text: str) -> list[str]:
    """"80:8080/TCP" as the listing's PORT(S) with its target: each `Port:` line with the `TargetPort:` after it (a
    named target port such as `http/TCP` stays a name)."""
    ports = [p.split()[-1] for p in re.findall(r"^Port:\s*(.*)$", text, re.M)]
    targets = [t.strip().split("/")[0] for t in re.findall(r"^TargetPort:\s*(.*)$", text, re.M)]
    return [f"{p.split('/')[0]}:{t}/{p.split('/')[-1]}" if t else p for p, t in zip(ports, targets + [""] * len(ports))]


def _autoscaler(text: str, name: str, namespace: str) -> Autoscaler:
    """An HPA's description: its metrics as the listing's TARGETS cell reads them ("cpu: 98%/65%"), replicas, conditions."""
    replicas = re.search(r"^\S[^:\n]* pods:\s+(\d+) current / (\d+) desired", text, re.M)
    metrics = [f"{m.group(1)}: {m.group(2).split()[0]}/{m.group(3)}" for m in re.finditer(
        r"^\s+resource (\S+) (?:on pods|of container \S+ on pods)[^:\n]*:\s+(<unknown>|\d+%(?: \(\S+\))?)\s*/\s*(\d+%)", text, re.M)]
    return Autoscaler(namespace=namespace, name=name, target=_field(text, "Reference"), min_replicas=to_int(_field(text, "Min replicas")),
                      max_replicas=to_int(_field(text, "Max replicas")), current=to_int(replicas.group(1)) if replicas else None,
                      desired=to_int(replicas.group(2)) if replicas else None, metrics=metrics, conditions=_conditions(text))


def _policy(text: str, name: str, namespace: str) -> NetworkPolicy:
    """`Spec:` of a NetworkPolicy description: pod selector, allowed ingress and egress, policy types."""
    selector = _field(text, "  PodSelector")
    types = [t.strip() for t in _field(text, "  Policy Types").split(",") if t.strip()]
    policy = NetworkPolicy(namespace=namespace, name=name, pod_selector=parse_labels(selector), policy_types=types)
    for side, attr, peer_word in (("ingress", "ingress", "From"), ("egress", "egress", "To")):
        m = re.search(rf"^  Allowing {side} traffic:\n(.*?)(?=^  \S|\Z)", text, re.S | re.M)
        if not m:
            continue
        body = m.group(1)
        if re.search(r"<none> \(Selected pods are isolated", body):
            continue  # no rule: everything of this direction is denied
        rules = []
        for chunk in re.split(r"^\s+-{5,}\s*$", body, flags=re.M):
            ports = [p for p in re.findall(r"To Port:\s*(\S+)", chunk) if not p.startswith("<any>")]
            peers: list[Peer] = []
            if not re.search(rf"{peer_word}:\s*<any>", chunk):
                for block in re.split(rf"^\s+{peer_word}:\s*$", chunk, flags=re.M)[1:]:
                    pods = re.search(r"PodSelector:\s*(.*)$", block, re.M)
                    nss = re.search(r"NamespaceSelector:\s*(.*)$", block, re.M)
                    cidr = re.search(r"CIDR:\s*(\S+)", block)
                    peers.append(Peer(pods=parse_labels(pods.group(1)) if pods else None, namespaces=parse_labels(nss.group(1)) if nss else None,
                                      cidr=cidr.group(1) if cidr else ""))
            rules.append(PolicyRule(peers=peers, ports=ports))
        setattr(policy, attr, rules)
    return policy


def _objects(kind: str, text: str, name: str, namespace: str, labels: dict[str, str], containers: list[ContainerState],
             refs: list[ConfigRef]) -> ObjectSet:
    out = ObjectSet()
    conditions = _conditions(text)
    if kind == "pod":
        owner = _field(text, "Controlled By")
        node = _field(text, "Node").split("/")[0]
        typed = [_typed_container(c, refs) for c in containers]
        pod = Pod(namespace=namespace, name=name, phase=_field(text, "Status"), status=_field(text, "Status"), reason=_field(text, "Reason"),
                  message=_field(text, "Message")[:600], node="" if node == "<none>" else node, ip=_field(text, "IP"), labels=labels,
                  owner=Owner(kind=owner.split("/")[0], name=owner.split("/", 1)[1]) if "/" in owner else None,
                  containers=[c for c, raw in zip(typed, containers) if raw not in _init(text, containers)],
                  init_containers=[c.model_copy(update={"init": True}) for c, raw in zip(typed, containers) if raw in _init(text, containers)],
                  conditions=conditions, node_selector=parse_labels(_field(text, "Node-Selectors")),
                  claims=re.findall(r"ClaimName:\s*(\S+)", text), detail="describe")
        waiting = next((c.reason for c in pod.containers if c.state == "waiting" and c.reason), "")
        if waiting:
            pod.status = waiting
        pod.restarts = sum(c.restarts for c in pod.containers)
        pod.ready = f"{sum(1 for c in pod.containers if c.ready)}/{len(pod.containers)}"
        out.pods.append(pod)
    elif kind == "service":
        endpoints = _field(text, "Endpoints")
        out.services.append(Service(namespace=namespace, name=name, type=_field(text, "Type"), cluster_ip=_field(text, "IP"),
                                    selector=parse_labels(_field(text, "Selector")), selector_known=True,
                                    ports=_service_ports(text)))
        out.endpoints.append(Endpoints(namespace=namespace, name=name,
                                       ready=[] if endpoints in ("", "<none>") else [a for a in re.split(r"[,\s]+", endpoints.split(" + ")[0]) if a]))
    elif kind == "networkpolicy":  # `kubectl describe networkpolicy -n NS` describes every policy, one block each
        for block_name, block in described_blocks(text) or [(name, text)]:
            block_ns = re.search(r"^Namespace:\s+(\S+)", block, re.M)
            out.policies.append(_policy(block, block_name, block_ns.group(1) if block_ns else namespace))
    elif kind == "ingress":
        out.ingresses.append(_ingress(text, name, namespace))
    elif kind == "horizontalpodautoscaler":
        out.autoscalers.append(_autoscaler(text, name, namespace))
    elif kind == "persistentvolumeclaim":
        out.claims.append(Claim(namespace=namespace, name=name, phase=_field(text, "Status"), volume=_field(text, "Volume"),
                                storage_class=_field(text, "StorageClass"), capacity=_field(text, "Capacity")))
    elif kind == "job":
        counts = re.search(r"(\d+) Active.*?/\s*(\d+) Succeeded\s*/\s*(\d+) Failed", _field(text, "Pods Statuses"))
        failed_reason = next((e for e in events_block(text.splitlines()) if e.reason in ("BackoffLimitExceeded", "DeadlineExceeded")), None)
        job = Job(namespace=namespace, name=name, labels=labels, backoff_limit=to_int(_field(text, "Backoff Limit")),
                  completions=to_int(_field(text, "Completions")), active=int(counts.group(1)) if counts else 0,
                  succeeded=int(counts.group(2)) if counts else 0, failed=int(counts.group(3)) if counts else 0,
                  owner=Owner(kind="CronJob", name=_field(text, "Controlled By").split("/", 1)[-1]) if _field(text, "Controlled By").startswith("CronJob/") else None,
                  containers=[_typed_container(c, refs) for c in containers])
        if failed_reason is not None:
            job.conditions["Failed"] = Condition(status="True", reason=failed_reason.reason, message=failed_reason.message)
        out.jobs.append(job)
    elif kind in ("deployment", "statefulset", "daemonset", "replicaset"):
        replicas = _field(text, "Replicas")
        nums = {k: int(v) for v, k in re.findall(r"(\d+) (desired|updated|total|available|unavailable|current)", replicas)}
        out.workloads.append(Workload(kind=kind.capitalize().replace("set", "Set"), namespace=namespace, name=name, labels=labels,
                                      selector=parse_labels(_field(text, "Selector")), desired=nums.get("desired"),
                                      available=nums.get("available"), ready=nums.get("available"), updated=nums.get("updated"),
                                      conditions=conditions))
    elif kind == "node":
        taints = [t.strip() for t in re.findall(r"^(?:Taints:)?\s+(\S+:(?:NoSchedule|NoExecute|PreferNoSchedule))\s*$", text, re.M)]
        ready = conditions.get("Ready")
        out.nodes.append(Node(name=name, ready=None if ready is None else ready.status == "True", labels=labels, taints=taints,
                              conditions=conditions, unschedulable=_field(text, "Unschedulable") == "true"))
    return out


def _init(text: str, containers: list[ContainerState]) -> list[ContainerState]:
    """The containers listed under `Init Containers:`."""
    m = re.search(r"^Init Containers:\n(.*?)(?=^\S)", text + "\nEND", re.S | re.M)
    names = set(re.findall(r"^  (\S[^:]*):\s*$", m.group(1), re.M)) if m else set()
    return [c for c in containers if c.name in names]


def _labels(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    inside = False
    for line in lines:
        if line.startswith("Labels:"):
            inside = True
            out.update(parse_labels(line.split(":", 1)[1]))
        elif inside and re.match(r"^\s{4,}\S+=\S*", line):
            out.update(parse_labels(line))
        elif inside:
            break
    return out


def parse_kube_describe(text: str, *, command: str = "", stderr: str = "") -> KubeDescribeFacts:
    lines = (text or "").splitlines()
    name = re.search(r"^Name:\s+(\S+)", text or "", re.M)
    if not name:
        raise ParserError("no `Name:` line")
    if re.search(r"^Data\n====", text, re.M):
        raise ParserError("a Secret or ConfigMap description, not a pod, node or deployment")
    kind = _kind(text, command)
    ns = re.search(r"^Namespace:\s+(\S+)", text, re.M)
    status = re.search(r"^Status:\s+(\S+)", text, re.M)
    node = re.search(r"^Node:\s+(\S+)", text, re.M)
    containers = _containers(lines) if kind in ("pod", "job") else []
    conditions = {k: c.status for k, c in _conditions(text).items()}
    events_m = re.search(r"^Events:(.*)$", text, re.S | re.M)
    events = events_block(events_m.group(1).splitlines()) if events_m else []
    reason_lines = [f"{e.type} {e.reason} {e.message}" for e in events]
    reason_lines += [f"container {c.name} state {c.state} {c.state_reason} last {c.last_reason} exit code {c.exit_code}" for c in containers if c.state_reason or c.last_reason]
    owner = re.search(r"^Controlled By:\s+(\S+)", text, re.M)
    refs = env_refs(lines)[:40]
    labels = _labels(lines)
    namespace = ns.group(1) if ns else ""
    return KubeDescribeFacts(
        kind=kind, name=name.group(1), namespace=namespace, status=status.group(1) if status else "",
        node=node.group(1).split("/")[0] if node else "", containers=containers, conditions=conditions, events=events[-30:],
        log=scan_lines(reason_lines) if reason_lines else None, controlled_by=owner.group(1) if owner else "",
        key_refs=refs, labels=labels, objects=_objects(kind, text, name.group(1), namespace, labels, containers, refs),
    )
