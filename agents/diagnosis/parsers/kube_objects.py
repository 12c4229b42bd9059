"""`kubectl get <kind>` for the kinds without a parser of their own: JSON, YAML or a table, sniffed.

A recorded `kubectl get deploy -n shop` answers a `-o json` ask (the output
format is a volume parameter), so the parser reads what the text is, not
what was asked: structured documents through kube_json.py, tables through
kube_tables.py. The result is one ObjectSet of typed objects, whatever kinds
the text held.
"""

from __future__ import annotations

import re
import shlex

from agents.diagnosis.facts import Facts, ParserError
from agents.diagnosis.parsers.kube_json import load_document, looks_structured, objects_of
from agents.diagnosis.parsers.kube_model import ObjectSet
from agents.diagnosis.parsers.kube_tables import objects_from_table

API_KINDS = {"pods": "Pod", "deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet",
             "jobs": "Job", "cronjobs": "CronJob", "services": "Service", "endpoints": "Endpoints", "endpointslices": "EndpointSlice",
             "ingresses": "Ingress", "persistentvolumeclaims": "PersistentVolumeClaim", "nodes": "Node", "horizontalpodautoscalers": "HorizontalPodAutoscaler",
             "poddisruptionbudgets": "PodDisruptionBudget", "networkpolicies": "NetworkPolicy", "events": "Event"}
SHORT_KINDS = {"po": "pods", "pod": "pods", "deploy": "deployments", "deployment": "deployments", "rs": "replicasets", "replicaset": "replicasets",
               "sts": "statefulsets", "statefulset": "statefulsets", "ds": "daemonsets", "daemonset": "daemonsets", "job": "jobs",
               "cj": "cronjobs", "cronjob": "cronjobs", "svc": "services", "service": "services", "ep": "endpoints", "ing": "ingresses",
               "ingress": "ingresses", "pvc": "persistentvolumeclaims", "persistentvolumeclaim": "persistentvolumeclaims", "no": "nodes",
               "node": "nodes", "hpa": "horizontalpodautoscalers", "horizontalpodautoscaler": "horizontalpodautoscalers",
               "pdb": "poddisruptionbudgets", "poddisruptionbudget": "poddisruptionbudgets", "netpol": "networkpolicies",
               "networkpolicy": "networkpolicies", "ev": "events", "event": "events", "sa": "serviceaccounts", "serviceaccount": "serviceaccounts"}
_FLAGS_WITH_VALUE = {"-n", "--namespace", "-l", "--selector", "-o", "--output", "--context", "--cluster", "--field-selector", "--sort-by", "-c", "--container"}


def asked_kind(command: str) -> str:
    """The plural kind `kubectl get|describe <kind>[/name]` names, '' when it names none we know."""
    try:
        argv = shlex.split(command or "")
    except ValueError:
        argv = (command or "").split()
    from agents.diagnosis.parsers import _positionals  # the package imports this module

    words = _positionals(argv[1:], _FLAGS_WITH_VALUE)
    if len(words) < 2:
        return ""
    word = words[1].split("/", 1)[0].split(",", 1)[0].split(".", 1)[0].lower()
    return word if word in API_KINDS or word in ("serviceaccounts", "secrets", "configmaps") else SHORT_KINDS.get(word, "")


class KubeObjectsFacts(ObjectSet, Facts):
    parser: str = "kube_objects"
    kind: str = ""  # the kind asked for
    format: str = "table"  # table | json | yaml

    def summary(self) -> str:
        parts = []
        for field, label in (("workloads", "workload"), ("jobs", "job"), ("cronjobs", "cronjob"), ("services", "service"), ("endpoints", "endpoints"),
                             ("ingresses", "ingress"), ("claims", "claim"), ("autoscalers", "autoscaler"), ("budgets", "disruption budget"),
                             ("policies", "network policy"), ("pods", "pod"), ("nodes", "node"), ("events", "event")):
            items = getattr(self, field)
            if items:
                parts.append(f"{len(items)} {label}{'' if len(items) == 1 or label.endswith('s') else 's'}")
        notes = []
        for w in self.workloads:
            if w.desired is not None and w.ready is not None and w.ready < w.desired:
                notes.append(f"{w.kind.lower()} {w.name} {w.ready}/{w.desired} ready")
        for j in self.jobs:
            if j.failed_for is not None or j.status == "Failed":
                notes.append(f"job {j.name} failed" + (f" ({j.failed_for.reason})" if j.failed_for else ""))
        for c in self.claims:
            if c.phase and c.phase != "Bound":
                notes.append(f"claim {c.name} {c.phase}")
        for e in self.endpoints:
            if not e.ready:
                notes.append(f"service {e.name} has no ready endpoints")
        out = ", ".join(parts) or "no objects"
        return out + (f"; {'; '.join(notes[:4])}" if notes else "")


def read_objects(text: str, command: str = "") -> tuple[ObjectSet, str]:
    """(objects, format) from any `kubectl get` output."""
    kind = asked_kind(command)
    if looks_structured(text):
        fmt = "json" if (text or "").lstrip().startswith(("{", "[")) else "yaml"
        return objects_of(load_document(text), API_KINDS.get(kind, "")), fmt
    if re.match(r"^No resources found", (text or "").strip()):
        return ObjectSet(), "table"
    return objects_from_table(text, kind), "table"


def parse_kube_objects(text: str, *, command: str = "", stderr: str = "") -> KubeObjectsFacts:
    objects, fmt = read_objects(text, command)
    if not objects.count() and not re.match(r"^No resources found", (text or "").strip()) and fmt == "table":
        raise ParserError("no Kubernetes objects in the output")
    return KubeObjectsFacts(kind=asked_kind(command), format=fmt, **objects.model_dump())
