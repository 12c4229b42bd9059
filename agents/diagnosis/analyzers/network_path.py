"""network_unreachable from the VPC's own rules: a network ACL that denies the flow, a security group that admits no one.

Unanswered SYNs (SYN-SENT piling up) and connect timeouts say packets are
dropped; which rule drops them is in `aws ec2 describe-network-acls` and
`describe-security-groups`. A flow is the host's address, the peer and the
port. A NACL is evaluated as AWS does (lowest rule number first); a security
group guarding the port (it has rules for it, or it is the database's) must
admit the client by CIDR or by the client's own group (the group named
after the service). Only conclusive checks become signals.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.parsers.aws import NetworkAclsFacts, RdsFacts, SecurityGroup, SecurityGroupsFacts
from agents.diagnosis.parsers.database import DbErrorFacts
from agents.diagnosis.parsers.network import SocketFacts

_IP_PORT = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3}):(\d{2,5})\b")
_PORT_IN_ERROR = re.compile(r":(\d{2,5})'|port (\d{2,5})\b")
TIMEOUT_RULES = ("connect_timeout", "timeout_generic", "no_route")
SERVICE_LABELS = ("service", "app", "job", "container", "deployment")


class Flow(BaseModel):
    """Connection attempts that get no answer: from this host's address to a peer's port."""

    src: str | None = None
    dst: str | None = None
    port: int
    seen: str  # how we know, for the reason


def flows(view: EvidenceView) -> list[Flow]:
    out: list[Flow] = []
    for _, sockets in view.facts(SocketFacts):
        for syn in sockets.syn_sent_by_peer:
            m = _IP_PORT.fullmatch(syn.key)
            if syn.count >= 2 and m:
                out.append(Flow(src=sockets.syn_sent_from.get(syn.key), dst=m.group(1), port=int(m.group(2)),
                                seen=f"{syn.count} SYN-SENT to {syn.key}"))
    for rule in TIMEOUT_RULES:
        for stream, count in view.hits(rule):
            hit = stream.facts.hit(rule)
            m = _IP_PORT.search(hit.sample) if hit else None
            if m:
                out.append(Flow(dst=m.group(1), port=int(m.group(2)), seen=f"{count} timeout(s) to {m.group(0)} in the logs"))
    for _, err in view.facts(DbErrorFacts):
        m = _PORT_IN_ERROR.search(err.message)
        if m and ("timed out" in err.message.lower() or err.code in ("2003", "2013") or "(110)" in err.message):
            out.append(Flow(port=int(m.group(1) or m.group(2)), seen=f"the database client times out ({err.message[:60]})"))
    unique: dict[tuple, Flow] = {}
    for flow in out:
        unique.setdefault((flow.src, flow.dst, flow.port), flow)
    known = {(f.dst, f.port) for f in unique.values() if f.src}
    return [f for f in unique.values() if f.src or (f.dst, f.port) not in known]


def _client_groups(view: EvidenceView, groups: list[SecurityGroup]) -> set[str]:
    """Groups named after the service the request is about: the client's own."""
    names = {view.situation.labels[k].lower() for k in SERVICE_LABELS if view.situation.labels.get(k)}
    return {g.id for g in groups if names and any(re.search(rf"(?<![a-z0-9]){re.escape(n)}(?![a-z0-9])", g.words()) for n in names)}


def analyze_network_path(view: EvidenceView) -> list[Signal]:
    found = flows(view)
    if not found:
        return []
    return _acl_signals(view, found) + _group_signals(view, found)


def _acl_signals(view: EvidenceView, found: list[Flow]) -> list[Signal]:
    out: list[Signal] = []
    for e, nacls in view.facts(NetworkAclsFacts):
        best: Signal | None = None
        for flow in found:
            for acl in nacls.acls:
                checks = [(False, flow.src), (True, flow.dst)] if (flow.src or flow.dst) else [(False, None)]
                for egress, ip in checks:
                    if ip is None and (flow.src or flow.dst):
                        continue
                    entry = acl.decide(egress, ip, flow.port)
                    if entry is None or entry.action != "deny":
                        continue
                    if entry.default:
                        weight, why = 0.6, f"no rule of {acl.id} admits it ({entry.show()})"
                    elif ip is None and (entry.protocol == "all" or entry.from_port is None):
                        continue  # a blanket deny says nothing about this port without the addresses
                    else:
                        weight, why = (2.6 if ip else 1.6), f"{acl.id} {entry.show()}"
                    path = f"{flow.src or '?'} -> {flow.dst or '?'}:{flow.port}"
                    signal = Signal(category="network_unreachable", weight=weight, evidence_id=e.id,
                                    reason=f"{why} drops {path} ({flow.seen})")
                    if best is None or signal.weight > best.weight:
                        best = signal
        if best is not None:
            out.append(best)
    return out


def _group_signals(view: EvidenceView, found: list[Flow]) -> list[Signal]:
    out: list[Signal] = []
    db_groups: dict[int, set[str]] = {}
    for _, rds in view.facts(RdsFacts):
        for instance in rds.instances:
            if instance.port:
                db_groups.setdefault(instance.port, set()).update(instance.security_groups)
    for e, facts in view.facts(SecurityGroupsFacts):
        clients = _client_groups(view, facts.groups)
        best: Signal | None = None
        for flow in found:
            guards = [g for g in facts.groups if g.id not in clients and (
                g.id in db_groups.get(flow.port, set()) or any(r.covers(flow.port) and r.protocol != "all" for r in g.ingress))]
            for group in guards:
                rules = [r for r in group.ingress if r.covers(flow.port)]
                admitted = [r for r in rules if (flow.src and r.admits_ip(flow.src)) or clients.intersection(r.groups)]
                if admitted:
                    signal = Signal(category="network_unreachable", weight=-0.5, evidence_id=e.id,
                                    reason=f"{group.label} admits tcp/{flow.port} from the client ({admitted[0].show()})")
                elif not flow.src or (any(r.groups for r in rules) and not clients):
                    continue  # who the client is cannot be told from this output
                else:
                    allowed = "; ".join(r.show() for r in rules) or f"no rule for tcp/{flow.port}"
                    client = " or ".join([*(f"the client's group {c}" for c in sorted(clients)), flow.src])
                    signal = Signal(category="network_unreachable", weight=2.2, evidence_id=e.id,
                                    reason=f"{group.label} admits {allowed}, not {client} ({flow.seen})")
                if best is None or signal.weight > best.weight:
                    best = signal
            for group in (g for g in facts.groups if g.id in clients and flow.dst):
                if not any(r.covers(flow.port) and (r.admits_ip(flow.dst) or r.groups) for r in group.egress):
                    signal = Signal(category="network_unreachable", weight=2.0, evidence_id=e.id,
                                    reason=f"the client's group {group.label} has no egress rule for tcp/{flow.port} to {flow.dst} ({flow.seen})")
                    if best is None or signal.weight > best.weight:
                        best = signal
        if best is not None:
            out.append(best)
    return out
