"""The infrastructure spec rendered as one environment's Terraform variables.

Terraform never reads the spec itself: `render_tfvars` turns one environment
of it into `terraform/envs/<env>.auto.tfvars.json`, so a spec change becomes a
small, reviewable tfvars diff. Every key the Terraform root declares is
written out (defaults filled in), in a fixed order, so two renders of the
same spec are byte-identical and a diff shows only what changed.
"""

from __future__ import annotations

import copy
import difflib
import json
from typing import Any

from pydantic import BaseModel

from graphs.errors import UserInputError

TFVARS_DIR = "envs"
SPEC_FILE = "spec.yaml"  # the reference spec, beside the Terraform root

# Section defaults. They must equal the optional() defaults in
# terraform/variables.tf (tests/test_terraform_project.py holds them together).
DEFAULTS: dict[str, dict[str, Any]] = {
    "vpc": {"cidr": None, "azs": 2, "nat_gateways": 1},
    "eks": {
        "enabled": True, "version": "1.31", "node_instance_type": "t3.medium", "node_count": 2,
        "node_min": 1, "node_max": 4, "node_disk_gb": 50,
    },
    "rds": {
        "enabled": True, "engine": "mysql", "engine_version": "8.0.41", "instance_class": "db.t3.micro",
        "storage_gb": 20, "max_storage_gb": 0, "multi_az": False, "backup_retention_days": 7, "backup_window": "",
        "max_connections": 150,
    },
    "redis": {"enabled": False, "node_type": "cache.t3.micro", "nodes": 1, "engine_version": "7.1"},
    "secrets": {"names": ["app"], "name_suffix": ""},
    "backup": {"enabled": False, "schedule": "cron(0 18 ? * SUN *)", "retention_days": 35},
}
EC2_DEFAULTS: dict[str, Any] = {
    "instance_type": None, "count": 1, "volume_gb": 30, "volume_iops": 3000, "volume_throughput": 125,
}
TOP_LEVEL = ("project", "environment", "region", "owner", "enabled")
SECTIONS = ("vpc", "eks", "rds", "ec2", "redis", "secrets", "backup", "tags")


class TfvarsError(UserInputError):
    """The spec cannot be rendered: a required value is missing or has the wrong type."""


def _as_dict(spec: Any) -> dict[str, Any]:
    if isinstance(spec, BaseModel):
        return spec.model_dump(mode="json", exclude_none=True)
    if not isinstance(spec, dict):
        raise TfvarsError(f"the spec must be a mapping, got {type(spec).__name__}")
    return spec


def tfvars_path(environment: str) -> str:
    """Where an environment's tfvars live, relative to the Terraform root."""
    return f"{TFVARS_DIR}/{environment}.auto.tfvars.json"


def _coerce(value: Any, default: Any, where: str) -> Any:
    """Bring a spec value to the type of its default ("3" -> 3, "true" -> True); refuse nonsense."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off"):
            return value.lower() in ("true", "yes", "on")
        raise TfvarsError(f"{where} must be true or false, got {value!r}")
    if isinstance(default, int):
        if isinstance(value, bool):
            raise TfvarsError(f"{where} must be a number, got {value!r}")
        if isinstance(value, (int, float)) and float(value).is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        raise TfvarsError(f"{where} must be a whole number, got {value!r}")
    if isinstance(default, str):
        if isinstance(value, (dict, list)):
            raise TfvarsError(f"{where} must be text, got {value!r}")
        return str(value)
    if isinstance(default, list):
        if not isinstance(value, list):
            raise TfvarsError(f"{where} must be a list, got {value!r}")
        return [str(v) for v in value]
    return value


def _section(raw: Any, defaults: dict[str, Any], where: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise TfvarsError(f"{where} must be a mapping, got {raw!r}")
    out: dict[str, Any] = {}
    for key, default in defaults.items():
        value = raw.get(key, copy.deepcopy(default))
        if value is None and default is None:
            raise TfvarsError(f"{where}.{key} is required: set it in the spec")
        out[key] = _coerce(value, default, f"{where}.{key}")
    return out


def render_tfvars(spec: dict[str, Any] | BaseModel, environment: str) -> dict[str, Any]:
    """One environment of the spec as the Terraform root's variables (defaults filled in, fixed key order)."""
    data = _as_dict(spec)
    envs = data.get("environments") or {}
    if environment not in envs:
        known = ", ".join(envs) or "none"
        raise TfvarsError(f"the spec has no environment {environment!r} (environments: {known})")
    env = envs.get(environment) or {}
    if not isinstance(env, dict):
        raise TfvarsError(f"environments.{environment} must be a mapping")
    where = f"environments.{environment}"
    for key in ("project", "region", "owner"):
        if not data.get(key):
            raise TfvarsError(f"the spec's top-level {key!r} is required")
    out: dict[str, Any] = {
        "project": str(data["project"]),
        "environment": environment,
        "region": str(data["region"]),
        "owner": str(data["owner"]),
        "enabled": _coerce(env.get("enabled", True), True, f"{where}.enabled"),
    }
    for name in ("vpc", "eks", "rds"):
        out[name] = _section(env.get(name), DEFAULTS[name], f"{where}.{name}")
    ec2_raw = env.get("ec2") or {}
    if not isinstance(ec2_raw, dict):
        raise TfvarsError(f"{where}.ec2 must map instance names to settings")
    out["ec2"] = {}
    for name in sorted(ec2_raw):
        item = ec2_raw[name]
        if isinstance(item, dict) and item.get("enabled") is False:
            continue  # a named instance switched off is simply not built
        out["ec2"][str(name)] = _section(item, EC2_DEFAULTS, f"{where}.ec2.{name}")
    out["redis"] = _section(env.get("redis"), DEFAULTS["redis"], f"{where}.redis")
    out["secrets"] = _section(env.get("secrets"), DEFAULTS["secrets"], f"{where}.secrets")
    backup = env.get("backup")  # a backup block in the spec is on unless it says otherwise
    out["backup"] = _section(backup, {**DEFAULTS["backup"], "enabled": backup is not None}, f"{where}.backup")
    tags = env.get("tags") or {}
    if not isinstance(tags, dict):
        raise TfvarsError(f"{where}.tags must map tag names to values")
    out["tags"] = {str(k): str(v) for k, v in sorted(tags.items())}
    return out


def tfvars_json(spec: dict[str, Any] | BaseModel, environment: str) -> str:
    """The tfvars file text: stable key order, two-space indent, trailing newline."""
    return json.dumps(render_tfvars(spec, environment), indent=2, ensure_ascii=False) + "\n"


def tfvars_files(spec: dict[str, Any] | BaseModel) -> dict[str, str]:
    """Every environment's tfvars file, by path relative to the Terraform root."""
    data = _as_dict(spec)
    return {tfvars_path(env): tfvars_json(data, env) for env in (data.get("environments") or {})}


def unrendered_keys(spec: dict[str, Any] | BaseModel, environment: str) -> list[str]:
    """Spec keys of an environment that no Terraform variable reads (so a change to them plans nothing)."""
    data = _as_dict(spec)
    env = (data.get("environments") or {}).get(environment) or {}
    out: list[str] = []
    for key, value in env.items():
        if key not in SECTIONS and key != "enabled":
            out.append(f"environments.{environment}.{key}")
        elif key in DEFAULTS and isinstance(value, dict):
            out += [f"environments.{environment}.{key}.{k}" for k in value if k not in DEFAULTS[key]]
        elif key == "ec2" and isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, dict):
                    out += [f"environments.{environment}.ec2.{name}.{k}" for k in item if k not in EC2_DEFAULTS and k != "enabled"]
    return out


def _text_or_empty(spec: dict[str, Any] | BaseModel | None, environment: str) -> str:
    if spec is None:
        return ""
    envs = _as_dict(spec).get("environments") or {}
    return tfvars_json(spec, environment) if environment in envs else ""


def diff_tfvars(before_spec: dict[str, Any] | BaseModel | None, after_spec: dict[str, Any] | BaseModel | None,
                environment: str, *, prefix: str = "") -> str:
    """Unified diff of one environment's tfvars between two specs ("" when nothing changes)."""
    before = _text_or_empty(before_spec, environment)
    after = _text_or_empty(after_spec, environment)
    path = f"{prefix}{tfvars_path(environment)}"
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"a/{path}" if before else "/dev/null", tofile=f"b/{path}" if after else "/dev/null",
    ))
