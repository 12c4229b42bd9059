"""kubectl get pods / get events / get nodes / describe: pod states, restarts, reasons, scheduler events."""

from __future__ import annotations

import re
from collections import Counter

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError, nonblank_lines, to_int
from agents.diagnosis.parsers.kube_describe import ContainerState, KubeDescribeFacts, parse_kube_describe  # noqa: F401 (re-exported)
from agents.diagnosis.parsers.kube_json import load_document, looks_structured, objects_of
from agents.diagnosis.parsers.kube_model import KubeEvent, Node as KubeNode, Pod as KubePod
from agents.diagnosis.parsers.kube_tables import objects_from_table, pod_from_row
from agents.diagnosis.timeline import LogFacts, scan_lines

MAX_PODS = 300  # pods kept per listing, the unhealthy ones first

UNHEALTHY = ("CrashLoopBackOff", "Error", "OOMKilled", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
             "CreateContainerError", "InvalidImageName", "Pending", "ContainerCreating", "Evicted", "Terminating", "Unknown",
             "Init:Error", "Init:CrashLoopBackOff", "RunContainerError", "ContainerStatusUnknown", "NodeLost", "OutOfcpu", "OutOfmemory")


class Pod(BaseModel):
    namespace: str = ""
    name: str
    ready: str = ""
    status: str = ""
    restarts: int = 0
    age: str = ""
    node: str = ""
    ip: str = ""


class KubePodsFacts(Facts):
    parser: str = "kube_pods"
    total: int
    by_status: dict[str, int] = {}
    unhealthy: list[Pod] = []  # not Running/Completed, or restarting, at most 30
    max_restarts: int = 0
    pods: list[KubePod] = []  # every pod as a typed object (containers, owner, labels when the output was JSON or YAML)
    format: str = "table"

    def with_status(self, *statuses: str) -> list[Pod]:
        return [p for p in self.unhealthy if p.status in statuses]

    def summary(self) -> str:
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.items(), key=lambda kv: -kv[1]))
        out = f"{self.total} pods ({states})"
        if self.max_restarts:
            out += f"; max restarts {self.max_restarts}"
        return out


def _restarts(cell: str) -> int:
    return to_int(cell.split("(")[0].strip()) or 0


def _pods_facts(pods: list[Pod], typed: list[KubePod], fmt: str) -> KubePodsFacts:
    unhealthy = [p for p in pods if p.status not in ("Running", "Completed", "Succeeded") or p.restarts >= 3
                 or (p.status == "Running" and p.ready and p.ready.split("/")[0] != p.ready.split("/")[-1])]
    keep = sorted(typed, key=lambda p: (p.healthy, -p.restarts))[:MAX_PODS]
    return KubePodsFacts(
        total=len(pods), by_status=dict(Counter(p.status for p in pods)),
        unhealthy=sorted(unhealthy, key=lambda p: (-p.restarts, p.name))[:30], max_restarts=max((p.restarts for p in pods), default=0),
        pods=keep, format=fmt,
    )


def parse_kube_pods(text: str, *, command: str = "", stderr: str = "") -> KubePodsFacts:
    if looks_structured(text):
        typed = objects_of(load_document(text), "Pod").pods
        rows = [Pod(namespace=p.namespace, name=p.name, ready=p.ready, status=p.status, restarts=p.restarts, node=p.node, ip=p.ip) for p in typed]
        return _pods_facts(rows, typed, "json" if text.lstrip().startswith(("{", "[")) else "yaml")
    lines = nonblank_lines(text)
    if not lines or not re.match(r"^(NAMESPACE\s+)?NAME\s+READY\s+STATUS\s+RESTARTS", lines[0].strip()):
        if re.match(r"^No resources found", (text or "").strip()):
            return KubePodsFacts(total=0)
        raise ParserError("no `NAME READY STATUS RESTARTS` header")
    header = re.findall(r"\S+(?: (?:NODE|GATES))?", lines[0].strip())
    has_ns = header[0] == "NAMESPACE"
    pods: list[Pod] = []
    pod_labels: list[str] = []  # the LABELS cell of `--show-labels`, the last column
    for line in lines[1:]:
        cells = line.split()
        # RESTARTS may read "7 (2m13s ago)": glue the parenthesised part back to the count
        merged: list[str] = []
        k = 0
        while k < len(cells):
            if cells[k].startswith("(") and merged:
                part = cells[k]
                while not part.endswith(")") and k + 1 < len(cells):
                    k += 1
                    part += " " + cells[k]
                merged[-1] += " " + part
            else:
                merged.append(cells[k])
            k += 1
        row = dict(zip(header, merged))
        if "NAME" not in row or "STATUS" not in row:
            continue
        pods.append(Pod(
            namespace=row.get("NAMESPACE", "") if has_ns else "", name=row["NAME"], ready=row.get("READY", ""), status=row["STATUS"],
            restarts=_restarts(row.get("RESTARTS", "0")), age=row.get("AGE", ""), node=row.get("NODE", ""), ip=row.get("IP", ""),
        ))
        pod_labels.append(merged[-1] if header[-1] == "LABELS" and len(merged) == len(header) else "")
    if not pods:
        raise ParserError("a header but no pod rows")
    typed = [pod_from_row(p.name, p.namespace, {"STATUS": p.status, "READY": p.ready, "RESTARTS": str(p.restarts), "AGE": p.age,
                                                 "NODE": p.node, "IP": p.ip, "LABELS": labels}) for p, labels in zip(pods, pod_labels)]
    return _pods_facts(pods, typed, "table")


class KubeEventsFacts(Facts):
    parser: str = "kube_events"
    events: list[KubeEvent] = []
    warnings_by_reason: dict[str, int] = {}
    log: LogFacts | None = None

    def summary(self) -> str:
        if not self.warnings_by_reason:
            return f"{len(self.events)} events, no warnings"
        top = sorted(self.warnings_by_reason.items(), key=lambda kv: -kv[1])[:4]
        return f"{len(self.events)} events; warnings: " + ", ".join(f"{k} {v}" for k, v in top)


def _events_facts(events: list[KubeEvent]) -> KubeEventsFacts:
    warnings: Counter = Counter()
    for e in events:
        if e.type == "Warning":
            warnings[e.reason] += e.count
    return KubeEventsFacts(events=events[-60:], warnings_by_reason=dict(warnings),
                           log=scan_lines([f"{e.type} {e.reason} {e.object} {e.message}" for e in events]))


def parse_kube_events(text: str, *, command: str = "", stderr: str = "") -> KubeEventsFacts:
    lines = nonblank_lines(text)
    if re.match(r"^No (resources|events) found", (text or "").strip()):
        return KubeEventsFacts()
    if looks_structured(text):
        return _events_facts(objects_of(load_document(text), "Event").events)
    if not lines or not re.search(r"\bTYPE\b.*\bREASON\b", lines[0]):
        raise ParserError("no `TYPE REASON ... MESSAGE` header")
    headers = [h for h in re.split(r"\s{2,}|\t", lines[0].strip()) if h]
    events: list[KubeEvent] = []
    for line in lines[1:]:
        cells = re.split(r"\s{2,}|\t", line.strip(), maxsplit=len(headers) - 1)
        if len(cells) < len(headers):
            cells = line.split(None, len(headers) - 1)
        row = dict(zip(headers, cells))
        if row.get("TYPE") not in ("Normal", "Warning"):
            continue
        count = to_int(row.get("COUNT")) or 1
        events.append(KubeEvent(type=row["TYPE"], reason=row.get("REASON", ""), object=row.get("OBJECT", ""), message=row.get("MESSAGE", ""),
                                count=count, namespace=row.get("NAMESPACE", "")))
    if not events:
        raise ParserError("a header but no event rows")
    return _events_facts(events)


class KubeNodesFacts(Facts):
    parser: str = "kube_nodes"
    total: int
    ready: int
    not_ready: list[str] = []
    unschedulable: list[str] = []
    nodes: list[KubeNode] = []  # every node as a typed object (labels, taints, conditions when the output was JSON or YAML)

    def summary(self) -> str:
        out = f"{self.total} nodes, {self.ready} Ready"
        if self.not_ready:
            out += f"; not ready: {', '.join(self.not_ready[:5])}"
        return out


def parse_kube_nodes(text: str, *, command: str = "", stderr: str = "") -> KubeNodesFacts:
    if looks_structured(text):
        nodes = objects_of(load_document(text), "Node").nodes
        if not nodes:
            raise ParserError("no nodes in the document")
        return KubeNodesFacts(total=len(nodes), ready=sum(1 for n in nodes if n.ready), not_ready=[n.name for n in nodes if not n.ready],
                              unschedulable=[n.name for n in nodes if n.unschedulable], nodes=nodes)
    lines = nonblank_lines(text)
    if not lines or not re.match(r"^NAME\s+STATUS\s+ROLES", lines[0].strip()):
        raise ParserError("no `NAME STATUS ROLES` header")
    total = ready = 0
    not_ready, unschedulable = [], []
    for line in lines[1:]:
        cells = line.split()
        if len(cells) < 2:
            continue
        total += 1
        status = cells[1].split(",")
        if "Ready" in status:
            ready += 1
        else:
            not_ready.append(cells[0])
        if "SchedulingDisabled" in status:
            unschedulable.append(cells[0])
    if not total:
        raise ParserError("a header but no node rows")
    typed = objects_from_table(text, "nodes").nodes
    return KubeNodesFacts(total=total, ready=ready, not_ready=not_ready, unschedulable=unschedulable, nodes=typed)
