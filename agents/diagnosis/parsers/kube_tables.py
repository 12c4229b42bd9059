"""kubectl's text tables (`kubectl get deploy,job,svc,pvc,hpa,…` without `-o json`) -> typed objects.

People record what they typed, and what they typed is usually a table. A
table says less than the JSON (no exit codes, no selectors unless `-o wide`),
so the objects it yields say so (`detail="table"`, `selector_known=False`)
and the analyzers do not read an absence as a fact. Columns are cut where
kubectl's header puts them, so cells that hold spaces (`cpu: 96%/70%`,
`10.0.1.5:8080 + 2 more...`) stay whole; a row whose words match the header
one for one is read by words, which also forgives a hand-aligned table.
`kubectl get all` (several tables, names like `deployment.apps/api`) is read
table by table.
"""

from __future__ import annotations

import re

from agents.diagnosis.facts import ParserError, to_int
from agents.diagnosis.parsers.kube_model import (
    Autoscaler,
    Claim,
    CronJob,
    DisruptionBudget,
    Endpoints,
    Ingress,
    Job,
    NetworkPolicy,
    Node,
    ObjectSet,
    Pod,
    Service,
    Workload,
    parse_labels,
)

MULTI_WORD = ("LAST SCHEDULE", "ACCESS MODES", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "NODE SELECTOR",
              "NOMINATED NODE", "READINESS GATES", "LAST SEEN")
_KIND_PREFIX = re.compile(r"^([a-z]+)(?:\.[a-z0-9.]+)?/(.+)$")
PREFIX_KINDS = {"pod": "pods", "deployment": "deployments", "replicaset": "replicasets", "statefulset": "statefulsets",
                "daemonset": "daemonsets", "job": "jobs", "cronjob": "cronjobs", "service": "services", "endpoints": "endpoints",
                "ingress": "ingresses", "persistentvolumeclaim": "persistentvolumeclaims", "horizontalpodautoscaler": "horizontalpodautoscalers",
                "poddisruptionbudget": "poddisruptionbudgets", "networkpolicy": "networkpolicies", "node": "nodes", "serviceaccount": "serviceaccounts"}


def read_table(lines: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """Header names and one dict per row."""
    header = lines[0]
    tokens = [(m.start(), m.group()) for m in re.finditer(r"\S+", header)]
    merged: list[tuple[int, str]] = []
    for start, word in tokens:
        if merged and f"{merged[-1][1]} {word}" in MULTI_WORD and start - (merged[-1][0] + len(merged[-1][1])) == 1:
            merged[-1] = (merged[-1][0], f"{merged[-1][1]} {word}")
        else:
            merged.append((start, word))
    names = [w for _, w in merged]
    starts = [s for s, _ in merged]
    rows = []
    for line in lines[1:]:
        words = line.split()
        if len(words) == len(names):
            rows.append(dict(zip(names, words)))
            continue
        cells = {}
        for i, (start, name) in enumerate(zip(starts, names)):
            end = starts[i + 1] if i + 1 < len(starts) else None
            cells[name] = line[start:end].strip()
        rows.append(cells)
    return names, rows


def blocks(text: str) -> list[list[str]]:
    """Tables in the text: a header line starting with NAME (or NAMESPACE) and the rows below it."""
    out: list[list[str]] = []
    current: list[str] = []
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if not line.strip():
            if current:
                out.append(current)
            current = []
            continue
        if re.match(r"^(?:NAMESPACE\s+)?NAME\s", line):
            if current:
                out.append(current)
            current = [line]
        elif current:
            current.append(line)
    if current:
        out.append(current)
    return out


def kind_of_header(names: list[str]) -> str:
    """The kind a header belongs to, by its columns."""
    has = set(names)
    if {"READY", "STATUS", "RESTARTS"} <= has:
        return "pods"
    if {"UP-TO-DATE", "AVAILABLE"} <= has and "DESIRED" in has:
        return "daemonsets"
    if {"UP-TO-DATE", "AVAILABLE"} <= has:
        return "deployments"
    if {"DESIRED", "CURRENT", "READY"} <= has:
        return "replicasets"
    if "COMPLETIONS" in has:
        return "jobs"
    if "SCHEDULE" in has:
        return "cronjobs"
    if {"TYPE", "CLUSTER-IP"} <= has:
        return "services"
    if "ENDPOINTS" in has:
        return "endpoints"
    if "HOSTS" in has:
        return "ingresses"
    if {"STATUS", "VOLUME", "CAPACITY"} <= has:
        return "persistentvolumeclaims"
    if {"REFERENCE", "TARGETS"} <= has:
        return "horizontalpodautoscalers"
    if "ALLOWED DISRUPTIONS" in has:
        return "poddisruptionbudgets"
    if "POD-SELECTOR" in has:
        return "networkpolicies"
    if {"STATUS", "ROLES"} <= has:
        return "nodes"
    if "SECRETS" in has:
        return "serviceaccounts"
    if names[-2:] == ["READY", "AGE"] or {"READY", "AGE", "CONTAINERS"} <= has:
        return "statefulsets"
    return ""


def _ratio(cell: str) -> tuple[int | None, int | None]:
    have, _, want = (cell or "").partition("/")
    return to_int(have), to_int(want)


def _none(cell: str | None) -> str:
    return "" if cell in (None, "<none>", "<unknown>", "<pending>") else cell


def objects_from_table(text: str, asked_kind: str = "") -> ObjectSet:
    """Every table in the text as typed objects; ParserError when no table is recognised."""
    out = ObjectSet()
    found = False
    for lines in blocks(text):
        names, rows = read_table(lines)
        kind = kind_of_header(names) or asked_kind
        for row in rows:
            name = row.get("NAME", "")
            m = _KIND_PREFIX.match(name)
            row_kind = kind
            if m and m.group(1) in PREFIX_KINDS:
                name, row_kind = m.group(2), PREFIX_KINDS[m.group(1)]
            if not name or not _add_row(out, row_kind, name, row.get("NAMESPACE", ""), row):
                continue
            found = True
    if not found:
        raise ParserError("no kubectl table this parser knows")
    return out


def _add_row(out: ObjectSet, kind: str, name: str, ns: str, row: dict[str, str]) -> bool:
    age = row.get("AGE", "")
    if kind == "pods":
        out.pods.append(pod_from_row(name, ns, row))
    elif kind == "deployments":
        ready, desired = _ratio(row.get("READY", ""))
        out.workloads.append(Workload(kind="Deployment", namespace=ns, name=name, desired=desired, ready=ready,
                                      updated=to_int(row.get("UP-TO-DATE")), available=to_int(row.get("AVAILABLE")), age=age,
                                      selector=parse_labels(row.get("SELECTOR", ""))))
    elif kind == "statefulsets":
        ready, desired = _ratio(row.get("READY", ""))
        out.workloads.append(Workload(kind="StatefulSet", namespace=ns, name=name, desired=desired, ready=ready, age=age))
    elif kind == "daemonsets":
        out.workloads.append(Workload(kind="DaemonSet", namespace=ns, name=name, desired=to_int(row.get("DESIRED")), ready=to_int(row.get("READY")),
                                      updated=to_int(row.get("UP-TO-DATE")), available=to_int(row.get("AVAILABLE")), age=age))
    elif kind == "replicasets":
        out.workloads.append(Workload(kind="ReplicaSet", namespace=ns, name=name, desired=to_int(row.get("DESIRED")), ready=to_int(row.get("READY")),
                                      age=age, selector=parse_labels(row.get("SELECTOR", ""))))
    elif kind == "jobs":
        done, want = _ratio(row.get("COMPLETIONS", ""))
        status = row.get("STATUS", "")
        out.jobs.append(Job(namespace=ns, name=name, completions=want, succeeded=done or 0, status=status, age=age))
    elif kind == "cronjobs":
        out.cronjobs.append(CronJob(namespace=ns, name=name, schedule=row.get("SCHEDULE", ""), suspend=row.get("SUSPEND", "").lower() == "true",
                                    active=to_int(row.get("ACTIVE")) or 0, last_schedule=_none(row.get("LAST SCHEDULE")), age=age))
    elif kind == "services":
        out.services.append(Service(namespace=ns, name=name, type=row.get("TYPE", ""), cluster_ip=row.get("CLUSTER-IP", ""),
                                    ports=[p for p in _none(row.get("PORT(S)")).split(",") if p], selector=parse_labels(row.get("SELECTOR", "")),
                                    selector_known="SELECTOR" in row))
    elif kind == "endpoints":
        cell = _none(row.get("ENDPOINTS", ""))
        shown = [a for a in re.split(r"[,\s]+", cell.split(" + ")[0]) if a]
        more = re.search(r"\+ (\d+) more", cell)
        ready = shown + [f"(+{i + 1})" for i in range(int(more.group(1)))] if more else shown
        out.endpoints.append(Endpoints(namespace=ns, name=name, ready=ready))
    elif kind == "ingresses":
        out.ingresses.append(Ingress(namespace=ns, name=name, ingress_class=_none(row.get("CLASS")),
                                     hosts=[h for h in _none(row.get("HOSTS")).split(",") if h and h != "*"]))
    elif kind == "persistentvolumeclaims":
        out.claims.append(Claim(namespace=ns, name=name, phase=row.get("STATUS", ""), volume=_none(row.get("VOLUME")),
                                storage_class=_none(row.get("STORAGECLASS")), capacity=_none(row.get("CAPACITY"))))
    elif kind == "horizontalpodautoscalers":
        out.autoscalers.append(Autoscaler(namespace=ns, name=name, target=row.get("REFERENCE", ""), metrics=[t.strip() for t in re.split(r",\s*(?=[a-z]+:)", row.get("TARGETS", "")) if t.strip()],
                                          min_replicas=to_int(row.get("MINPODS")), max_replicas=to_int(row.get("MAXPODS")), current=to_int(row.get("REPLICAS"))))
    elif kind == "poddisruptionbudgets":
        out.budgets.append(DisruptionBudget(namespace=ns, name=name, min_available=_none(row.get("MIN AVAILABLE")).replace("N/A", ""),
                                            max_unavailable=_none(row.get("MAX UNAVAILABLE")).replace("N/A", ""), allowed=to_int(row.get("ALLOWED DISRUPTIONS"))))
    elif kind == "networkpolicies":
        out.policies.append(NetworkPolicy(namespace=ns, name=name, pod_selector=parse_labels(row.get("POD-SELECTOR", "")), age=age,
                                          policy_types=[], selector_known=True))
    elif kind == "nodes":
        status = row.get("STATUS", "").split(",")
        out.nodes.append(Node(name=name, status=row.get("STATUS", ""), ready="Ready" in status if status != [""] else None,
                              unschedulable="SchedulingDisabled" in status))
    elif kind == "serviceaccounts":
        out.others.append(f"ServiceAccount/{ns}/{name}" if ns else f"ServiceAccount/{name}")
    else:
        return False
    return True


def pod_from_row(name: str, namespace: str, row: dict[str, str]) -> Pod:
    """A `kubectl get pods` row: RESTARTS may read "7 (2m13s ago)"; LABELS is there with `--show-labels`."""
    return Pod(namespace=namespace, name=name, status=row.get("STATUS", ""), ready=row.get("READY", ""),
               restarts=to_int((row.get("RESTARTS") or "0").split("(")[0].strip()) or 0, age=row.get("AGE", ""),
               node=_none(row.get("NODE", "")), ip=_none(row.get("IP", "")), labels=parse_labels(_none(row.get("LABELS", ""))), detail="table")
