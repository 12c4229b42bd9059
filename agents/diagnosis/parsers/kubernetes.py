"""kubectl get pods / get events / get nodes / describe: pod states, restarts, reasons, scheduler events."""

from __future__ import annotations

import re
from collections import Counter

from pydantic import BaseModel

from agents.diagnosis.config_refs import ConfigRef, env_refs
from agents.diagnosis.parsers.base import Facts, ParserError, nonblank_lines, to_int
from agents.diagnosis.timeline import LogFacts, scan_lines

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


def parse_kube_pods(text: str, *, command: str = "", stderr: str = "") -> KubePodsFacts:
    lines = nonblank_lines(text)
    if not lines or not re.match(r"^(NAMESPACE\s+)?NAME\s+READY\s+STATUS\s+RESTARTS", lines[0].strip()):
        if re.match(r"^No resources found", (text or "").strip()):
            return KubePodsFacts(total=0)
        raise ParserError("no `NAME READY STATUS RESTARTS` header")
    header = re.findall(r"\S+(?: (?:NODE|GATES))?", lines[0].strip())
    has_ns = header[0] == "NAMESPACE"
    pods: list[Pod] = []
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
    if not pods:
        raise ParserError("a header but no pod rows")
    unhealthy = [p for p in pods if p.status not in ("Running", "Completed", "Succeeded") or p.restarts >= 3
                 or (p.status == "Running" and p.ready and p.ready.split("/")[0] != p.ready.split("/")[-1])]
    return KubePodsFacts(
        total=len(pods), by_status=dict(Counter(p.status for p in pods)),
        unhealthy=sorted(unhealthy, key=lambda p: (-p.restarts, p.name))[:30], max_restarts=max(p.restarts for p in pods),
    )


class KubeEvent(BaseModel):
    type: str = ""
    reason: str = ""
    object: str = ""
    message: str = ""
    count: int = 1


class ContainerState(BaseModel):
    name: str
    image: str = ""
    state: str = ""
    state_reason: str = ""
    last_state: str = ""
    last_reason: str = ""
    exit_code: int | None = None
    restart_count: int = 0
    ready: bool | None = None
    memory_limit: str = ""
    cpu_limit: str = ""


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


def _events_block(lines: list[str]) -> list[KubeEvent]:
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


def parse_kube_describe(text: str, *, command: str = "", stderr: str = "") -> KubeDescribeFacts:
    lines = (text or "").splitlines()
    name = re.search(r"^Name:\s+(\S+)", text or "", re.M)
    if not name:
        raise ParserError("no `Name:` line")
    if re.search(r"^Data\n====", text, re.M):
        raise ParserError("a Secret or ConfigMap description, not a pod, node or deployment")
    kind = "node" if re.search(r"^(Roles|Taints|Allocatable):", text, re.M) else "pod"
    if re.search(r"^Replicas:", text, re.M):
        kind = "deployment"
    ns = re.search(r"^Namespace:\s+(\S+)", text, re.M)
    status = re.search(r"^Status:\s+(\S+)", text, re.M)
    node = re.search(r"^Node:\s+(\S+)", text, re.M)
    containers: list[ContainerState] = []
    current: ContainerState | None = None
    section = ""
    sub = ""
    for line in lines:
        if re.match(r"^\S", line):
            section = line.split(":")[0]
            current = None
            continue
        if section in ("Containers", "Init Containers"):
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
                elif sub == "Limits" and key == "memory":
                    current.memory_limit = value
                elif sub == "Limits" and key == "cpu":
                    current.cpu_limit = value
    conditions = {}
    cond = re.search(r"^Conditions:\n(.*?)(?=^\S)", text + "\nEND", re.S | re.M)
    if cond:
        for line in cond.group(1).splitlines():
            cells = line.split()
            if len(cells) >= 2 and cells[0] not in ("Type", "----") and cells[1] in ("True", "False", "Unknown"):
                conditions[cells[0]] = cells[1]
    events_m = re.search(r"^Events:(.*)$", text, re.S | re.M)
    events = _events_block(events_m.group(1).splitlines()) if events_m else []
    reason_lines = [f"{e.type} {e.reason} {e.message}" for e in events]
    reason_lines += [f"container {c.name} state {c.state} {c.state_reason} last {c.last_reason} exit code {c.exit_code}" for c in containers if c.state_reason or c.last_reason]
    owner = re.search(r"^Controlled By:\s+(\S+)", text, re.M)
    return KubeDescribeFacts(
        kind=kind, name=name.group(1), namespace=ns.group(1) if ns else "", status=status.group(1) if status else "",
        node=node.group(1).split("/")[0] if node else "", containers=containers, conditions=conditions, events=events[-30:],
        log=scan_lines(reason_lines) if reason_lines else None, controlled_by=owner.group(1) if owner else "",
        key_refs=env_refs(lines)[:40],
    )


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


def parse_kube_events(text: str, *, command: str = "", stderr: str = "") -> KubeEventsFacts:
    lines = nonblank_lines(text)
    if re.match(r"^No (resources|events) found", (text or "").strip()):
        return KubeEventsFacts()
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
        events.append(KubeEvent(type=row["TYPE"], reason=row.get("REASON", ""), object=row.get("OBJECT", ""), message=row.get("MESSAGE", ""), count=count))
    if not events:
        raise ParserError("a header but no event rows")
    warnings: Counter = Counter()
    for e in events:
        if e.type == "Warning":
            warnings[e.reason] += e.count
    return KubeEventsFacts(events=events[-60:], warnings_by_reason=dict(warnings),
                           log=scan_lines([f"{e.type} {e.reason} {e.object} {e.message}" for e in events]))


class KubeNodesFacts(Facts):
    parser: str = "kube_nodes"
    total: int
    ready: int
    not_ready: list[str] = []
    unschedulable: list[str] = []

    def summary(self) -> str:
        out = f"{self.total} nodes, {self.ready} Ready"
        if self.not_ready:
            out += f"; not ready: {', '.join(self.not_ready[:5])}"
        return out


def parse_kube_nodes(text: str, *, command: str = "", stderr: str = "") -> KubeNodesFacts:
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
    return KubeNodesFacts(total=total, ready=ready, not_ready=not_ready, unschedulable=unschedulable)
