"""Placeholder values learned from evidence already read, for the playbook steps that waited for them.

An alert rarely names the Secret a pod cannot start without, the RDS
instance behind a connection error, or the security groups on the path;
the first round of evidence often does ("couldn't find key X in Secret
shop/payment-secrets", an RDS endpoint in a client error, the instance's
VpcSecurityGroups). Values are learned only where the request gave none,
only in the safe form playbooks accept, and only from what the tools
printed: the follow-up commands still pass the guard.
"""

from __future__ import annotations

import re
from typing import Iterable

from agents.diagnosis.analyzers.base import EvidenceView, Situation
from agents.diagnosis.config_refs import missing_refs
from agents.diagnosis.parsers.aws import RdsFacts, SecurityGroupsFacts
from agents.diagnosis.parsers.database import DbErrorFacts
from agents.diagnosis.parsers.kubernetes import KubeDescribeFacts, KubeEventsFacts, KubePodsFacts
from agents.diagnosis.playbooks import SAFE_VALUE
from graphs.state import Evidence

# <instance>.<12 characters>.<region>.rds.amazonaws.com; cluster and proxy endpoints ("x.cluster-...") are not instances
_RDS_ENDPOINT = re.compile(r"\b([a-z][a-z0-9-]{0,62})\.[a-z0-9]{12}\.[a-z]{2}(?:-[a-z]+)+-\d\.rds\.amazonaws\.com\b")
_RS_HASH = re.compile(r"^(.+)-[a-z0-9]{6,10}$")
_POD_OF_RS = re.compile(r"^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_KUBE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def _texts(view: EvidenceView) -> Iterable[str]:
    """Messages the cluster and the logs printed: event messages, rule samples, command excerpts."""
    for _, describe in view.facts(KubeDescribeFacts):
        yield from (e.message for e in describe.events)
    for _, events in view.facts(KubeEventsFacts):
        yield from (e.message for e in events.events)
    for _, err in view.facts(DbErrorFacts):
        yield err.message
    for stream in view.logs():
        if stream.origin != "alert":
            yield from (h.sample for h in stream.facts.hits)
    for e in view.evidence:
        if e.kind in ("command", "log") and e.ok:
            yield e.excerpt or ""


def learn_values(evidence: list[Evidence], values: dict[str, str], situation: Situation | None = None) -> dict[str, str]:
    """New placeholder values (keys the request did not fill), from the evidence read so far."""
    view = EvidenceView(evidence, situation)
    names = view.situation.names
    learned: dict[str, str] = {}

    def put(key: str, value: str | None, pattern: re.Pattern[str] = SAFE_VALUE) -> None:
        if value and key not in values and key not in learned and SAFE_VALUE.match(value) and pattern.match(value):
            learned[key] = value

    texts = list(_texts(view))
    refs = missing_refs(texts)
    secret = next((r for r in refs if r.kind == "Secret"), None)
    configmap = next((r for r in refs if r.kind == "ConfigMap"), None)
    for describe in (d for _, d in view.facts(KubeDescribeFacts) if d.kind == "pod"):
        stuck = any(c.state_reason in ("CreateContainerConfigError", "CreateContainerError") for c in describe.containers)
        if stuck and secret is None:  # the kubelet's message was cut off: the Secrets the container takes keys from
            secret = next((r for r in describe.key_refs if r.kind == "Secret"), None)
        put("namespace", describe.namespace, _KUBE_NAME)
        if describe.controlled_by.startswith("ReplicaSet/"):
            m = _RS_HASH.match(describe.controlled_by.split("/", 1)[1])
            put("deployment", m.group(1) if m else None, _KUBE_NAME)
    for ref in (secret, configmap):
        if ref is not None:
            put("secret" if ref.kind == "Secret" else "configmap", ref.name, _KUBE_NAME)
            put("namespace", ref.namespace, _KUBE_NAME)
    for _, pods in view.facts(KubePodsFacts):
        mine = [p for p in pods.unhealthy if names and any(n in p.name for n in names)]
        if mine:
            put("namespace", mine[0].namespace, _KUBE_NAME)
            m = _POD_OF_RS.match(mine[0].name)
            put("deployment", m.group(1) if m else None, _KUBE_NAME)
    for text in texts:
        m = _RDS_ENDPOINT.search(text)
        if m:
            put("db", m.group(1))
            break
    for _, rds in view.facts(RdsFacts):
        for instance in rds.instances:
            put("security_group", instance.security_groups[0] if instance.security_groups else None)
            put("vpc", instance.vpc_id)
    for _, groups in view.facts(SecurityGroupsFacts):
        for group in groups.groups:
            put("vpc", group.vpc_id)
    return learned
