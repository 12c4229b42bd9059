"""db_unreachable (and disk_full) from the RDS control plane: the instance is stopped, rebooting, modifying, full.

Clients only see timeouts and refusals; `aws rds describe-db-instances`
says why. A state in which the instance takes no connections, together
with clients failing to connect, is the proof; an `available` instance
argues that the database itself is up (look at the path or the client).
`storage-full` is the database's own filesystem out of space: disk_full.
"""

from __future__ import annotations

import re

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.parsers.aws import RdsFacts, RdsInstance
from agents.diagnosis.parsers.database import DbErrorFacts
from agents.diagnosis.metrics import MetricFacts
from agents.diagnosis.parsers.network import SocketFacts

# No connections while in these states.
DOWN = {"stopped", "stopping", "starting", "rebooting", "failed", "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable", "incompatible-network", "incompatible-restore", "incompatible-parameters",
        "incompatible-option-group", "incompatible-create", "restore-error", "deleting", "delete-precheck", "insufficient-capacity", "creating"}
# Changes that take a single-AZ instance offline for a while (a Multi-AZ one fails over: a shorter outage).
DISRUPTIVE = {"modifying", "upgrading", "maintenance", "renaming", "moving-to-vpc", "converting-to-vpc"}
HEALTHY = {"available", "backing-up", "configuring-enhanced-monitoring", "configuring-iam-database-auth", "configuring-log-exports",
           "storage-optimization", "storage-config-upgrade"}
CONNECT_RULES = ("db_refused", "connect_timeout", "timeout_generic", "refused", "no_route")
DB_PORTS = (3306, 5432, 1433, 1521, 27017)


def client_failures(view: EvidenceView, port: int | None = None) -> list[str]:
    """Ways clients fail to connect to a database, as short phrases (empty when none)."""
    out: list[str] = []
    for _, err in view.facts(DbErrorFacts):
        msg = err.message.lower()
        if err.code in ("2002", "2003", "2013") or any(w in msg for w in ("could not connect", "connection refused", "timed out", "can't connect")):
            out.append(f"the client: {err.message[:100]}")
    for _, sockets in view.facts(SocketFacts):
        for syn in sockets.syn_sent_by_peer:
            peer_port = int(syn.key.rsplit(":", 1)[1]) if re.search(r":\d+$", syn.key) else None
            if syn.count >= 2 and peer_port is not None and (peer_port == port or (port is None and peer_port in DB_PORTS)):
                out.append(f"{syn.count} connections to {syn.key} stuck in SYN-SENT")
    for rule in CONNECT_RULES:
        for stream, count in view.hits(rule):
            if stream.origin in ("log", "journal", "stderr"):
                hit = stream.facts.hit(rule)
                out.append(f"{count} log line(s) like \"{hit.sample.strip()[:100]}\"" if hit else f"{count} connection errors")
                break
    return out


def _relevant(view: EvidenceView, instance: RdsInstance, alone: bool) -> bool:
    if alone or instance.id.lower() in view.situation.names:
        return True
    return any(instance.id in (e.excerpt or "") or (instance.endpoint and instance.endpoint in (e.excerpt or ""))
               for e in view.evidence if e.kind in ("log", "command") and not (e.facts or {}).get("parser", "").startswith("aws_"))


def analyze_rds(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    for e, rds in view.facts(RdsFacts):
        for instance in rds.instances:
            if not _relevant(view, instance, len(rds.instances) == 1):
                continue
            status = instance.status.lower()
            failures = client_failures(view, instance.port)
            az = "Multi-AZ" if instance.multi_az else "single-AZ: no standby to take over"
            pending = f"; pending {', '.join(f'{k}={v}' for k, v in instance.pending_modified.items())}" if instance.pending_modified else ""
            what = f"RDS {instance.id} is {status} ({instance.engine} {instance.instance_class}, {az}{pending})"
            if status in DOWN or status in DISRUPTIVE:
                if failures:
                    weight = 3.0 if status in DOWN else (2.6 if not instance.multi_az else 1.8)
                    out.append(Signal(category="db_unreachable", weight=weight, evidence_id=e.id, reason=f"{what} while clients fail to connect ({failures[0]})",
                                      finding="db_instance_stopped" if status in ("stopped", "stopping") else ""))
                    out.append(Signal(category="network_unreachable", weight=-0.8, evidence_id=e.id,
                                      reason=f"the database itself is {status}: the timeouts need no broken path"))
                else:
                    out.append(Signal(category="db_unreachable", weight=1.0, evidence_id=e.id, reason=what))
            elif status == "storage-full":
                out.append(Signal(category="disk_full", weight=3.0, evidence_id=e.id,  # decisive: the instance refuses writes (and often connections)
                                  reason=f"RDS {instance.id} is storage-full ({instance.allocated_storage_gb} GB allocated"
                                         + (f", autoscaling up to {instance.max_allocated_storage_gb} GB" if instance.max_allocated_storage_gb else "") + ")"))
                if failures:
                    out.append(Signal(category="db_unreachable", weight=0.8, evidence_id=e.id, reason=f"{what}; clients fail ({failures[0]})"))
            elif status in HEALTHY and failures:
                out.append(Signal(category="db_unreachable", weight=-1.0, evidence_id=e.id,
                                  reason=f"RDS {instance.id} is {status}: the database is up, so the path or the client fails"))
    return out + _free_storage(view)


LOW_FREE_SHARE, NEAR_FULL_SHARE = 0.10, 0.20  # of the allocated storage


def _free_storage(view: EvidenceView) -> list[Signal]:
    """CloudWatch's FreeStorageSpace (bytes) against the instance's allocated storage: an instance about to be full."""
    allocated = {i.id.lower(): i.allocated_storage_gb for _, rds in view.facts(RdsFacts) for i in rds.instances if i.allocated_storage_gb}
    out: list[Signal] = []
    for e, metric in view.facts(MetricFacts):
        subject, _, kind = metric.name.rpartition(".")
        if kind.lower().replace("_", "") != "freestoragespace" or subject.lower() not in allocated:
            continue
        free_gb, size = metric.last / 1024**3, allocated[subject.lower()]
        share = free_gb / size
        if share <= NEAR_FULL_SHARE:
            trend = f", down from {metric.first / 1024**3:,.0f} GiB" if metric.first > metric.last * 1.2 else ""
            out.append(Signal(category="disk_full", weight=2.5 if share <= LOW_FREE_SHARE else 1.5, evidence_id=e.id,
                              reason=f"RDS {subject} has {free_gb:,.1f} GiB free of {size} GiB ({share:.0%}){trend}"))
    return out
