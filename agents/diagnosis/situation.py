"""The request as the diagnostician sees it: names to fill playbook placeholders, and the Situation."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from agents.diagnosis.analyzers.base import SCRAPE_JOBS, Situation
from agents.diagnosis.subjects import Subjects, subjects_from_words
from graphs.state import Request, utc_now

_DEPLOYMENT_FROM_POD = re.compile(r"^(.+?)-[a-f0-9]{8,10}-[a-z0-9]{5}$")
_KUBE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # a namespace (CloudWatch's "AWS/RDS" namespace is not one)
_DB_IN_WORDS = re.compile(r"\bDBInstanceIdentifier\s*[=:]\s*([A-Za-z][A-Za-z0-9-]{0,62})")
# A database a person names: "the report DB (shop-prod-report)", "RDS shop-prod-pg", "shop-prod-pg 데이터베이스". Instance
# identifiers carry a hyphen; a bare word ("the db is slow") names nothing.
_DB_NAMED = re.compile(r"(?:\b(?:rds|db|database)|데이터베이스|디비)\s*(?:instance\s*)?[(:]?\s*([a-z][a-z0-9]*(?:-[a-z0-9]+)+)\b"
                       r"|\b([a-z][a-z0-9]*(?:-[a-z0-9]+)+)\s*(?:\(?(?:rds|db|database)\b|데이터베이스|디비)", re.I)


def _first(labels: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        value = labels.get(key)
        if value:
            return value
    return None


def request_subjects(request: Request) -> Subjects:
    """The workload and namespace the person's words (or the alert's summary) name, each a valid Kubernetes name."""
    words = " ".join(x for x in [request.text or "", request.alert.summary if request.alert else ""] if x)
    return subjects_from_words(words)


def placeholder_values(request: Request, spec: dict[str, Any] | None = None) -> dict[str, str]:
    """Values for playbook placeholders, from the alert's labels (and the spec for the database engine); where the
    labels name no workload, from the words (a question about a workload's health needs no alert)."""
    labels = dict(request.alert.labels) if request.alert else {}
    if SCRAPE_JOBS.search(labels.get("job", "")):  # Prometheus's `job` label names who scraped (kube-state-metrics), not what broke
        labels.pop("job")
    annotations = dict(request.alert.annotations) if request.alert else {}
    values: dict[str, str] = {}
    service = _first(labels, "service", "app", "deployment", "job", "container")  # a container's name often is not the app's
    unit = _first(labels, "unit", "systemd_unit") or service
    if unit:
        values["unit"] = unit
    if service:
        values["service"] = service
    host = _first(labels, "host", "hostname", "node")
    if not host and labels.get("instance"):
        host = labels["instance"].split(":")[0]
    if host:
        values["host"] = host
    db = _first(labels, "db", "database", "db_instance", "dbinstanceidentifier", "DBInstanceIdentifier")
    if not db and request.alert is not None:  # a CloudWatch alarm's text often names its dimension
        m = _DB_IN_WORDS.search(" ".join([request.alert.summary, *annotations.values()]))
        db = m.group(1) if m else None
    if not db and request.text:
        m = _DB_NAMED.search(request.text)
        db = (m.group(1) or m.group(2)).lower() if m else None
    if db:
        values["db"] = db
    for key in ("namespace", "pod", "deployment", "cert_path"):
        if labels.get(key):
            values[key] = labels[key]
    if "namespace" in values and not _KUBE_NAME.match(values["namespace"]):
        del values["namespace"]
    security_group = _first(labels, "security_group", "security_group_id", "sg", "GroupId")
    if security_group:
        values["security_group"] = security_group
    vpc = _first(labels, "vpc", "vpc_id", "VpcId")
    if vpc:
        values["vpc"] = vpc
    if "pod" in values and "deployment" not in values:
        m = _DEPLOYMENT_FROM_POD.match(values["pod"])
        if m:
            values["deployment"] = m.group(1)
    url = _first(labels, "url", "endpoint", "probe_url", "target_url") or _first(annotations, "url", "endpoint")
    if not url:  # the blackbox exporter's probe: the URL it probed is its `instance` or `target`
        url = next((labels[k] for k in ("instance", "target") if labels.get(k, "").startswith(("http://", "https://"))), None)
    if url and url.startswith(("http://", "https://")):
        values["url"] = url
        host = urlsplit(url).hostname
        if host:
            values["url_host"] = host  # certbot keeps a name's certificate under /etc/letsencrypt/live/<name>/
    target = _first(labels, "target", "dependency", "upstream", "domain", "db_host", "endpoint_host")
    if target and target.startswith(("http://", "https://")):
        target = urlsplit(target).hostname  # a name to resolve, not a URL
    if not target and url:
        target = urlsplit(url).hostname
    if target:
        values["target"] = target
    engine = _first(labels, "engine", "db_engine")
    if not engine and spec:
        env = (spec.get("environments") or {}).get(request.environment) or {}
        rds = env.get("rds") or {}
        if rds.get("enabled", True) and rds.get("engine"):
            engine = str(rds["engine"])
    if engine:
        values["engine"] = engine.lower()
    words = request_subjects(request)
    from_words = {"namespace": words.namespace, "service": words.workload, "deployment": words.deployment or words.workload,
                  "pod": words.pod, "job": words.job}
    if not any(values.get(k) for k in ("service", "deployment", "pod", "job")) or "namespace" not in values:
        for key, value in from_words.items():
            if value and key not in values:
                values[key] = value
    if "unit" not in values and values.get("service") and words.workload == values["service"]:
        values["unit"] = values["service"]
    return values


def situation_of(request: Request, spec: dict[str, Any] | None = None) -> Situation:
    labels = dict(request.alert.labels) if request.alert else {}
    max_conn = None
    if spec:
        env = (spec.get("environments") or {}).get(request.environment) or {}
        value = (env.get("rds") or {}).get("max_connections")
        if isinstance(value, (int, float)) and value > 0:
            max_conn = int(value)
    return Situation(
        alert_name=request.alert.name if request.alert else "",
        summary=request.alert.summary if request.alert else "",
        text=request.text or "",
        labels=labels,
        at=request.effective_time() if (request.at or (request.alert and request.alert.started_at)) else None,
        started_at=request.alert.started_at if request.alert else None,
        observed_at=request.at or utc_now(),
        environment=request.environment,
        db_max_connections=max_conn,
        subjects={k: v for k, v in request_subjects(request).model_dump().items() if v},
    )
