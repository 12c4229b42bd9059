"""`kubectl get … -o json|yaml` -> typed objects (kube_model.py).

The API's own structure says what a table can only hint at: a container
waits in ImagePullBackOff with the registry's message, its last run ended
OOMKilled with exit code 137 against a 512Mi limit, a Job failed with
BackoffLimitExceeded, a Service selects `app=pay` while the pods say
`app=payment`. Items of every kind are read from one document (a List, a
single object, several YAML documents); kinds we do not analyse are named.
Set-based selectors (`matchExpressions`) are kept only where they pin one
value (`In` with one value); others are left out, never guessed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from agents.diagnosis.facts import ParserError
from agents.diagnosis.parsers.kube_model import (
    Autoscaler,
    Claim,
    Condition,
    Container,
    CronJob,
    DisruptionBudget,
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
    parse_time,
)

_YAML_START = re.compile(r"^(?:---\s*$|apiVersion:|kind:|items:|metadata:)", re.M)
YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def looks_structured(text: str) -> bool:
    """JSON or a YAML document of API objects (as `-o json|yaml` prints), not a table."""
    head = (text or "").lstrip()[:400]
    if head.startswith(("{", "[")):
        return True
    first = next((line for line in head.splitlines() if line.strip() and not line.startswith("#")), "")
    return bool(_YAML_START.match(first))


def load_document(text: str) -> list[dict[str, Any]]:
    """The API objects in a JSON or YAML text (a List's items flattened); ParserError when it is neither."""
    body = (text or "").strip()
    docs: list[Any]
    if body.startswith(("{", "[")):
        try:
            docs = [json.loads(body)]
        except json.JSONDecodeError as exc:
            raise ParserError(f"invalid JSON: {exc.msg} (line {exc.lineno})") from None
    else:
        try:
            docs = [d for d in yaml.load_all(body, Loader=YamlLoader) if d is not None]
        except yaml.YAMLError as exc:
            raise ParserError(f"invalid YAML: {str(exc).splitlines()[0]}") from None
    out: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, list):
            out += [d for d in doc if isinstance(d, dict)]
        elif isinstance(doc, dict) and isinstance(doc.get("items"), list):
            out += [d for d in doc["items"] if isinstance(d, dict)]
        elif isinstance(doc, dict) and (doc.get("kind") or doc.get("metadata")):
            out.append(doc)
    if not out and not any(isinstance(d, dict) and "items" in d for d in docs):
        raise ParserError("no Kubernetes objects in the document")
    return out


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and str(value).strip() != "" else None
    except (TypeError, ValueError):
        return None


def selector_of(spec: Any) -> dict[str, str]:
    """matchLabels, plus `key In (one value)` expressions; a bare map (a Service's selector) as it is."""
    spec = _d(spec)
    if "matchLabels" not in spec and "matchExpressions" not in spec:
        return {str(k): str(v) for k, v in spec.items() if isinstance(v, (str, int, float, bool))}
    out = {str(k): str(v) for k, v in _d(spec.get("matchLabels")).items()}
    for expr in _l(spec.get("matchExpressions")):
        expr = _d(expr)
        values = _l(expr.get("values"))
        if expr.get("operator") == "In" and len(values) == 1:
            out[str(expr.get("key"))] = str(values[0])
    return out


def _conditions(items: Any) -> dict[str, Condition]:
    return {str(c.get("type")): Condition(status=str(c.get("status", "")), reason=str(c.get("reason") or ""), message=str(c.get("message") or ""))
            for c in map(_d, _l(items)) if c.get("type")}


def _owner(meta: dict[str, Any]) -> Owner | None:
    refs = [_d(r) for r in _l(meta.get("ownerReferences"))]
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    return Owner(kind=str(ref.get("kind", "")), name=str(ref.get("name", ""))) if ref else None


def _probe(kind: str, spec: Any) -> Probe | None:
    spec = _d(spec)
    if not spec:
        return None
    action, port, path = "", "", ""
    if "httpGet" in spec:
        http = _d(spec["httpGet"])
        port, path = str(http.get("port", "")), str(http.get("path", "/"))
        action = f"http-get :{port}{path}"
    elif "tcpSocket" in spec:
        port = str(_d(spec["tcpSocket"]).get("port", ""))
        action = f"tcp-socket :{port}"
    elif "grpc" in spec:
        port = str(_d(spec["grpc"]).get("port", ""))
        action = f"grpc :{port}"
    elif "exec" in spec:
        action = "exec " + " ".join(map(str, _l(_d(spec["exec"]).get("command"))))[:120]
    return Probe(kind=kind, action=action, port=port, path=path, timeout_s=float(spec.get("timeoutSeconds", 1)),
                 period_s=float(spec.get("periodSeconds", 10)), failure_threshold=_int(spec.get("failureThreshold")) or 3,
                 initial_delay_s=float(spec.get("initialDelaySeconds", 0)))


def _state(state: Any) -> tuple[str, dict[str, Any]]:
    state = _d(state)
    for name in ("waiting", "terminated", "running"):
        if name in state:
            return name, _d(state[name])
    return "", {}


def container_of(spec: Any, status: Any = None, *, init: bool = False) -> Container:
    spec, status = _d(spec), _d(status)
    resources = _d(spec.get("resources"))
    limits, requests = _d(resources.get("limits")), _d(resources.get("requests"))
    refs = []
    for env in map(_d, _l(spec.get("env"))):
        source = _d(env.get("valueFrom"))
        for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
            if key in source:
                refs.append(f"{kind}/{_d(source[key]).get('name', '')}")
    for src in map(_d, _l(spec.get("envFrom"))):
        for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            if key in src:
                refs.append(f"{kind}/{_d(src[key]).get('name', '')}")
    state, now = _state(status.get("state"))
    last, before = _state(status.get("lastState"))
    probes = [p for p in (_probe(k, spec.get(f"{k}Probe")) for k in ("liveness", "readiness", "startup")) if p is not None]
    return Container(
        name=str(spec.get("name") or status.get("name") or ""), image=str(spec.get("image") or status.get("image") or ""), init=init,
        ready=status.get("ready") if isinstance(status.get("ready"), bool) else None, restarts=_int(status.get("restartCount")) or 0,
        state=state, reason=str(now.get("reason") or ""), message=str(now.get("message") or "")[:600], exit_code=_int(now.get("exitCode")),
        last_state=last, last_reason=str(before.get("reason") or ""), last_exit_code=_int(before.get("exitCode")),
        last_message=str(before.get("message") or "")[:600], last_started=parse_time(before.get("startedAt")),
        last_finished=parse_time(before.get("finishedAt")),
        cpu_limit_m=cpu_millicores(limits.get("cpu")), cpu_request_m=cpu_millicores(requests.get("cpu")),
        memory_limit_mb=memory_mb(limits.get("memory")), memory_request_mb=memory_mb(requests.get("memory")),
        ports=[f"{_d(p).get('containerPort')}/{_d(p).get('protocol', 'TCP')}" for p in _l(spec.get("ports"))],
        probes=probes, env_refs=sorted(set(refs)),
    )


def _containers(spec: Any, statuses: Any, *, init: bool = False) -> list[Container]:
    by_name = {str(_d(s).get("name")): _d(s) for s in _l(statuses)}
    return [container_of(c, by_name.get(str(_d(c).get("name"))), init=init) for c in _l(spec)]


def display_status(pod: Pod, deleting: bool = False) -> str:
    """What kubectl's STATUS column would print for this pod."""
    reason = pod.reason or pod.phase
    initializing = False
    for i, c in enumerate(pod.init_containers):
        if c.state == "terminated" and c.exit_code == 0:
            continue
        initializing = True
        if c.state == "terminated":
            reason = "Init:" + (c.reason or f"ExitCode:{c.exit_code}")
        elif c.state == "waiting" and c.reason and c.reason != "PodInitializing":
            reason = "Init:" + c.reason
        else:
            reason = f"Init:{i}/{len(pod.init_containers)}"
        break
    if not initializing:
        running = False
        for c in reversed(pod.containers):
            if c.state == "waiting" and c.reason:
                reason = c.reason
            elif c.state == "terminated":
                reason = c.reason or (f"ExitCode:{c.exit_code}" if c.exit_code is not None else reason)
            elif c.state == "running" and c.ready:
                running = True
        if reason == "Completed" and running:
            reason = "Running"
    if deleting:
        reason = "Unknown" if pod.reason == "NodeLost" else "Terminating"
    return reason or "Unknown"


def pod_of(obj: dict[str, Any]) -> Pod:
    meta, spec, status = _d(obj.get("metadata")), _d(obj.get("spec")), _d(obj.get("status"))
    terms = []
    node_affinity = _d(_d(_d(spec.get("affinity")).get("nodeAffinity")).get("requiredDuringSchedulingIgnoredDuringExecution"))
    for term in map(_d, _l(node_affinity.get("nodeSelectorTerms"))):
        for expr in map(_d, _l(term.get("matchExpressions"))):
            terms.append(f"{expr.get('key')} {expr.get('operator')} ({', '.join(map(str, _l(expr.get('values'))))})")
    pod = Pod(
        namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""), phase=str(status.get("phase") or ""),
        reason=str(status.get("reason") or ""), message=str(status.get("message") or "")[:600], node=str(spec.get("nodeName") or ""),
        ip=str(status.get("podIP") or ""), labels={str(k): str(v) for k, v in _d(meta.get("labels")).items()}, owner=_owner(meta),
        containers=_containers(spec.get("containers"), status.get("containerStatuses")),
        init_containers=_containers(spec.get("initContainers"), status.get("initContainerStatuses"), init=True),
        conditions=_conditions(status.get("conditions")), node_selector={str(k): str(v) for k, v in _d(spec.get("nodeSelector")).items()},
        affinity=terms, tolerations=[f"{_d(t).get('key', '')}:{_d(t).get('effect', '')}" for t in _l(spec.get("tolerations"))],
        claims=[str(_d(v.get("persistentVolumeClaim")).get("claimName")) for v in map(_d, _l(spec.get("volumes"))) if v.get("persistentVolumeClaim")],
        detail="json", created=parse_time(meta.get("creationTimestamp")),
    )
    ready = sum(1 for c in pod.containers if c.ready)
    pod.ready = f"{ready}/{len(pod.containers)}"
    pod.restarts = sum(c.restarts for c in pod.containers)
    pod.status = display_status(pod, deleting=bool(meta.get("deletionTimestamp")))
    return pod


def _template_containers(spec: dict[str, Any]) -> list[Container]:
    return [container_of(c) for c in _l(_d(_d(spec.get("template")).get("spec")).get("containers"))]


def workload_of(obj: dict[str, Any], kind: str) -> Workload:
    meta, spec, status = _d(obj.get("metadata")), _d(obj.get("spec")), _d(obj.get("status"))
    if kind == "DaemonSet":
        desired, ready = _int(status.get("desiredNumberScheduled")), _int(status.get("numberReady")) or 0
        available, updated = _int(status.get("numberAvailable")) or 0, _int(status.get("updatedNumberScheduled"))
    else:
        desired = _int(spec.get("replicas")) if "replicas" in spec else 1
        ready, available = _int(status.get("readyReplicas")) or 0, _int(status.get("availableReplicas")) or 0
        updated = _int(status.get("updatedReplicas"))
    return Workload(
        kind=kind, namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
        labels={str(k): str(v) for k, v in _d(meta.get("labels")).items()}, selector=selector_of(spec.get("selector")), owner=_owner(meta),
        desired=desired, ready=ready, available=available, updated=updated, conditions=_conditions(status.get("conditions")),
        containers=_template_containers(spec), created=parse_time(meta.get("creationTimestamp")),
        revision=str(_d(meta.get("annotations")).get("deployment.kubernetes.io/revision") or ""),
    )


def job_of(obj: dict[str, Any]) -> Job:
    meta, spec, status = _d(obj.get("metadata")), _d(obj.get("spec")), _d(obj.get("status"))
    return Job(
        namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""), owner=_owner(meta),
        labels={str(k): str(v) for k, v in _d(meta.get("labels")).items()}, selector=selector_of(spec.get("selector")),
        completions=_int(spec.get("completions")), succeeded=_int(status.get("succeeded")) or 0, failed=_int(status.get("failed")) or 0,
        active=_int(status.get("active")) or 0, backoff_limit=_int(spec.get("backoffLimit")), deadline_s=_int(spec.get("activeDeadlineSeconds")),
        conditions=_conditions(status.get("conditions")), containers=_template_containers(spec),
    )


def _ports(items: Any) -> list[str]:
    out = []
    for p in map(_d, _l(items)):
        port, target, proto = p.get("port"), p.get("targetPort"), p.get("protocol", "TCP")
        out.append(f"{port}:{target}/{proto}" if target not in (None, port) else f"{port}/{proto}")
    return out


def _peers(items: Any) -> list[Peer]:
    peers = []
    for peer in map(_d, _l(items)):
        block = _d(peer.get("ipBlock"))
        peers.append(Peer(pods=selector_of(peer["podSelector"]) if "podSelector" in peer else None,
                          namespaces=selector_of(peer["namespaceSelector"]) if "namespaceSelector" in peer else None,
                          cidr=str(block.get("cidr") or "")))
    return peers


def _rules(items: Any, side: str) -> list[PolicyRule]:
    return [PolicyRule(peers=_peers(_d(r).get(side)), ports=[f"{_d(p).get('port', '*')}/{_d(p).get('protocol', 'TCP')}" for p in _l(_d(r).get("ports"))])
            for r in _l(items)]


def policy_of(obj: dict[str, Any]) -> NetworkPolicy:
    meta, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    types = [str(t) for t in _l(spec.get("policyTypes"))] or (["Ingress"] + (["Egress"] if "egress" in spec else []))
    return NetworkPolicy(namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
                         pod_selector=selector_of(spec.get("podSelector")), policy_types=types,
                         ingress=_rules(spec.get("ingress"), "from"), egress=_rules(spec.get("egress"), "to"))


def _endpoints(obj: dict[str, Any], slice_: bool) -> Endpoints:
    meta = _d(obj.get("metadata"))
    ready, not_ready, ports = [], [], []

    def who(address: dict[str, Any]) -> str:
        ref, addresses = _d(address.get("targetRef")), _l(address.get("addresses"))
        return str(ref.get("name") or address.get("ip") or (addresses[0] if addresses else ""))

    if slice_:
        for ep in map(_d, _l(obj.get("endpoints"))):
            (ready if _d(ep.get("conditions")).get("ready", True) else not_ready).append(who(ep))
        ports = [f"{_d(p).get('port')}/{_d(p).get('protocol', 'TCP')}" for p in _l(obj.get("ports"))]
        name = str(_d(meta.get("labels")).get("kubernetes.io/service-name") or meta.get("name") or "")
    else:
        for subset in map(_d, _l(obj.get("subsets"))):
            ready += [who(_d(a)) for a in _l(subset.get("addresses"))]
            not_ready += [who(_d(a)) for a in _l(subset.get("notReadyAddresses"))]
            ports += [f"{_d(p).get('port')}/{_d(p).get('protocol', 'TCP')}" for p in _l(subset.get("ports"))]
        name = str(meta.get("name") or "")
    return Endpoints(namespace=str(meta.get("namespace") or ""), name=name, ready=ready, not_ready=not_ready, ports=ports)


def _ingress(obj: dict[str, Any]) -> Ingress:
    meta, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    backends, hosts = [], []

    def backend(b: dict[str, Any]) -> None:
        name = _d(b.get("service")).get("name") or b.get("serviceName")
        if name and str(name) not in backends:
            backends.append(str(name))

    if spec.get("defaultBackend") or spec.get("backend"):
        backend(_d(spec.get("defaultBackend") or spec.get("backend")))
    for rule in map(_d, _l(spec.get("rules"))):
        if rule.get("host"):
            hosts.append(str(rule["host"]))
        for path in map(_d, _l(_d(rule.get("http")).get("paths"))):
            backend(_d(path.get("backend")))
    return Ingress(namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
                   ingress_class=str(spec.get("ingressClassName") or _d(meta.get("annotations")).get("kubernetes.io/ingress.class") or ""),
                   hosts=hosts, backends=backends)


def _node(obj: dict[str, Any]) -> Node:
    meta, spec, status = _d(obj.get("metadata")), _d(obj.get("spec")), _d(obj.get("status"))
    conditions = _conditions(status.get("conditions"))
    ready = conditions.get("Ready")
    allocatable = _d(status.get("allocatable"))
    node = Node(name=str(meta.get("name") or ""), ready=None if ready is None else ready.status == "True", conditions=conditions,
                labels={str(k): str(v) for k, v in _d(meta.get("labels")).items()},
                taints=[f"{_d(t).get('key')}{'=' + str(_d(t)['value']) if _d(t).get('value') else ''}:{_d(t).get('effect')}" for t in _l(spec.get("taints"))],
                unschedulable=bool(spec.get("unschedulable")), cpu_allocatable_m=cpu_millicores(allocatable.get("cpu")),
                memory_allocatable_mb=memory_mb(allocatable.get("memory")))
    node.status = ("Ready" if node.ready else "NotReady" if node.ready is False else "Unknown") + (",SchedulingDisabled" if node.unschedulable else "")
    return node


def _autoscaler(obj: dict[str, Any]) -> Autoscaler:
    meta, spec, status = _d(obj.get("metadata")), _d(obj.get("spec")), _d(obj.get("status"))
    ref = _d(spec.get("scaleTargetRef"))
    metrics = []
    current = {str(_d(m.get("resource")).get("name")): _d(_d(m.get("resource")).get("current")) for m in map(_d, _l(status.get("currentMetrics")))}
    for m in map(_d, _l(spec.get("metrics"))):
        res = _d(m.get("resource"))
        name, target = str(res.get("name") or m.get("type") or ""), _d(res.get("target"))
        now = current.get(name, {})
        if target.get("averageUtilization") is not None:
            metrics.append(f"{name}: {now.get('averageUtilization', '<unknown>')}%/{target['averageUtilization']}%")
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics.append(f"cpu: {status.get('currentCPUUtilizationPercentage', '<unknown>')}%/{spec['targetCPUUtilizationPercentage']}%")
    return Autoscaler(namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""), target=f"{ref.get('kind', '')}/{ref.get('name', '')}",
                      min_replicas=_int(spec.get("minReplicas")), max_replicas=_int(spec.get("maxReplicas")),
                      current=_int(status.get("currentReplicas")), desired=_int(status.get("desiredReplicas")), metrics=metrics,
                      conditions=_conditions(status.get("conditions")))


def _event(obj: dict[str, Any]) -> KubeEvent:
    meta = _d(obj.get("metadata"))
    involved = _d(obj.get("involvedObject") or obj.get("regarding"))
    count = _int(obj.get("count")) or _int(_d(obj.get("series")).get("count")) or _int(obj.get("deprecatedCount")) or 1
    return KubeEvent(type=str(obj.get("type") or ""), reason=str(obj.get("reason") or ""),
                     object=f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
                     message=str(obj.get("message") or obj.get("note") or "")[:600], count=count,
                     namespace=str(involved.get("namespace") or meta.get("namespace") or ""))


def objects_of(items: list[dict[str, Any]], asked_kind: str = "") -> ObjectSet:
    """Each API object into its typed model; `asked_kind` names items that do not carry their `kind`."""
    out = ObjectSet()
    for obj in items:
        kind = str(obj.get("kind") or asked_kind)
        meta = _d(obj.get("metadata"))
        spec, status = _d(obj.get("spec")), _d(obj.get("status"))
        if kind == "Pod":
            out.pods.append(pod_of(obj))
        elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
            out.workloads.append(workload_of(obj, kind))
        elif kind == "Job":
            out.jobs.append(job_of(obj))
        elif kind == "CronJob":
            out.cronjobs.append(CronJob(namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""), schedule=str(spec.get("schedule") or ""),
                                        suspend=bool(spec.get("suspend")), active=len(_l(status.get("active"))),
                                        last_schedule=str(status.get("lastScheduleTime") or "")))
        elif kind == "Service":
            out.services.append(Service(namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""), type=str(spec.get("type") or "ClusterIP"),
                                        cluster_ip=str(spec.get("clusterIP") or ""), selector=selector_of(spec.get("selector")),
                                        ports=_ports(spec.get("ports")), selector_known=True))
        elif kind in ("Endpoints", "EndpointSlice"):
            out.endpoints.append(_endpoints(obj, kind == "EndpointSlice"))
        elif kind == "Ingress":
            out.ingresses.append(_ingress(obj))
        elif kind == "PersistentVolumeClaim":
            out.claims.append(Claim(namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""), phase=str(status.get("phase") or ""),
                                    volume=str(spec.get("volumeName") or ""), storage_class=str(spec.get("storageClassName") or ""),
                                    capacity=str(_d(status.get("capacity")).get("storage") or "")))
        elif kind == "Node":
            out.nodes.append(_node(obj))
        elif kind == "HorizontalPodAutoscaler":
            out.autoscalers.append(_autoscaler(obj))
        elif kind == "PodDisruptionBudget":
            out.budgets.append(DisruptionBudget(namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
                                                selector=selector_of(spec.get("selector")), min_available=str(spec.get("minAvailable", "")),
                                                max_unavailable=str(spec.get("maxUnavailable", "")), allowed=_int(status.get("disruptionsAllowed")),
                                                current_healthy=_int(status.get("currentHealthy")), desired_healthy=_int(status.get("desiredHealthy"))))
        elif kind == "NetworkPolicy":
            out.policies.append(policy_of(obj))
        elif kind == "Event":
            out.events.append(_event(obj))
        elif kind:
            out.others.append(f"{kind}/{meta.get('namespace', '')}/{meta.get('name', '')}".replace("//", "/"))
    return out
