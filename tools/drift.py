"""Drift: what changed outside Terraform, read from a refresh-only plan (`terraform plan -refresh-only`).

A refresh-only plan's `resource_drift` lists each resource whose real object
no longer matches what Terraform last applied: `before` is the state (what the
spec made), `after` is what the provider reads now. This module turns that
into a `DriftReport`: the attributes that differ (values the provider marks
sensitive are never shown, and attributes that change on their own are left
out, config/drift.yaml), and for each attribute the spec holds, the spec path
and the value now in the cloud, so the drift can be adopted into the spec.
Pure: plan JSON in, report out.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from graphs.state import DriftAttribute, DriftItem, DriftReport

EMPTY = (None, "", [], {})
INSTANCE_KEY = re.compile(r'\["(?P<name>[a-z][a-z0-9-]*?)-[0-9]+"\]$')


@lru_cache(maxsize=4)
def load_drift_config(config_dir: str) -> dict[str, Any]:
    path = Path(config_dir) / "drift.yaml"
    if not path.is_file():
        return {"spec_paths": {}, "ignore": []}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out or ({prefix: {}} if prefix else {})
    if isinstance(value, list):
        out = {}
        for index, inner in enumerate(value):
            out.update(_flatten(inner, f"{prefix}.{index}"))
        return out or ({prefix: []} if prefix else {})
    return {prefix: value}


def _sensitive(marks: Any, path: str) -> bool:
    """Whether Terraform marks `path` (or a block above it) sensitive in before_sensitive/after_sensitive."""
    node = marks
    for part in path.split("."):
        if node is True:
            return True
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return node is True


def _spec_path(table: dict[str, str], attribute: str, address: str) -> str | None:
    template = table.get(attribute)
    if not template:
        return None
    if "{name}" in template:
        m = INSTANCE_KEY.search(address)
        if m is None:
            return None
        return template.format(name=m.group("name"))
    return template


def summarize_drift(plan_json: dict[str, Any], environment: str, config_dir: str | Path, source: str) -> DriftReport:
    """The drift in a refresh-only plan, with the spec paths (below environments.<env>) it maps to."""
    config = load_drift_config(str(config_dir))
    tables: dict[str, dict[str, str]] = config.get("spec_paths") or {}
    ignore = set(config.get("ignore") or [])
    items: list[DriftItem] = []
    adoptable: dict[str, Any] = {}
    for rc in plan_json.get("resource_drift") or []:
        if rc.get("mode", "managed") != "managed":
            continue
        change = rc.get("change") or {}
        actions = change.get("actions") or []
        if actions in (["no-op"], ["read"]):
            continue
        address, rtype = str(rc.get("address", "?")), str(rc.get("type", "?"))
        if actions == ["delete"]:
            items.append(DriftItem(address=address, type=rtype, action="delete"))
            continue
        before, after = _flatten(change.get("before") or {}), _flatten(change.get("after") or {})
        table = tables.get(rtype) or {}
        attributes: list[DriftAttribute] = []
        for name in sorted(set(before) | set(after)):
            old, new = before.get(name), after.get(name)
            if old == new or (old in EMPTY and new in EMPTY) or name.split(".")[0] in ignore:
                continue
            if _sensitive(change.get("before_sensitive"), name) or _sensitive(change.get("after_sensitive"), name):
                attributes.append(DriftAttribute(name=name, spec_value="(sensitive)", actual="(sensitive)"))
                continue
            path = _spec_path(table, name, address)
            full = f"environments.{environment}.{path}" if path else None
            attributes.append(DriftAttribute(name=name, spec_value=old, actual=new, spec_path=full))
            if full:
                adoptable[full] = new
        if attributes:
            items.append(DriftItem(address=address, type=rtype, action="update", attributes=attributes))
    return DriftReport(environment=environment, items=items, source=source, adoptable=adoptable)


def describe_drift(report: DriftReport, language: str) -> str:
    """The drift in a few lines a person reads in Slack."""
    if not report.items:
        return (f"{report.environment}은(는) 스펙대로입니다: Terraform 밖에서 바뀐 것이 없습니다 ({report.source})." if language == "ko"
                else f"{report.environment} is what the spec says: nothing changed outside Terraform ({report.source}).")
    lines = []
    for item in report.items:
        if item.action == "delete":
            lines.append(f"{item.address}: " + ("Terraform 밖에서 삭제됨" if language == "ko" else "deleted outside Terraform"))
            continue
        attrs = ", ".join(f"{a.name} {a.spec_value!r} → {a.actual!r}" for a in item.attributes)
        lines.append(f"{item.address}: {attrs}")
    head = (f"{report.environment}에서 Terraform 밖에서 바뀐 것 {len(report.items)}건: " if language == "ko"
            else f"{report.environment} drifted from the spec in {len(report.items)} resource(s): ")
    return head + "; ".join(lines)


__all__ = ["describe_drift", "load_drift_config", "summarize_drift"]
