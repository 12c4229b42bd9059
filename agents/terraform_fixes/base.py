"""What a fix template reads and what it returns.

A template turns a diagnosis into a concrete Terraform change: either a spec
change (dotted path -> new value, rendered to tfvars) when the value lives in
the spec, or an edit of .tf files when the value is written in the code. It
returns None when it does not fit, so the next template (or the LLM, or an
honest note) can take over; it never guesses.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from graphs.state import Diagnosis, Evidence, Risk
from tools.spec import lookup_path, put_path

COMPONENTS = ("eks", "rds", "ec2", "redis", "vpc", "secrets")


class FixContext(BaseModel):
    """Everything a template may look at; nothing here talks to the world."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    diagnosis: Diagnosis
    environment: str = "dev"
    spec: dict[str, Any] | None = None
    files: dict[str, str] = Field(default_factory=dict)  # Terraform code, paths relative to its root
    terraform_output: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)  # the alert's labels, if any

    @property
    def target(self) -> dict[str, Any]:
        return self.diagnosis.target or {}

    def env_spec(self) -> dict[str, Any] | None:
        if not self.spec:
            return None
        env = (self.spec.get("environments") or {}).get(self.environment)
        return env if isinstance(env, dict) else None

    def text(self) -> str:
        """The diagnosis, Terraform's output and the evidence as one text to look for facts in."""
        parts = [self.diagnosis.summary, self.terraform_output]
        parts += [f"{e.summary}\n{e.excerpt}" for e in self.evidence]
        return "\n".join(p for p in parts if p)


class FixPlan(BaseModel):
    """A template's answer: the change, why, and how risky."""

    template: str
    title: str
    rationale: str
    spec_changes: dict[str, Any] = Field(default_factory=dict)  # dotted path -> new value
    file_edits: dict[str, str] = Field(default_factory=dict)  # path -> full new text
    risk: Risk = "medium"
    notes: list[str] = Field(default_factory=list)
    rollback: str = ""


Template = Callable[[FixContext], FixPlan | None]


class NoFit(Exception):
    """A template does not apply; the message says why (kept for the report when nothing fits)."""


# ------------------------------------------------------------ spec helpers


get_path = lookup_path  # lenient: templates probe specs that may leave sections out
set_path = put_path


def apply_spec_changes(spec: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = spec
    for path, value in changes.items():
        out = set_path(out, path, value)
    return out


def env_path(ctx: FixContext, *parts: str) -> str:
    return ".".join(("environments", ctx.environment, *parts))


# ------------------------------------------------------- which component


def _words(value: Any) -> str:
    return str(value or "").lower()


def ec2_instance_for(ctx: FixContext) -> str | None:
    """The spec's named EC2 instance a host belongs to ("shop-dev-management-1" -> "management")."""
    env = ctx.env_spec() or {}
    names = [n for n, v in (env.get("ec2") or {}).items() if isinstance(v, dict)]
    host = _words(ctx.target.get("host") or ctx.target.get("instance") or ctx.labels.get("host") or ctx.labels.get("instance"))
    explicit = ctx.target.get("ec2") or ctx.target.get("instance_name")
    if explicit in names:
        return str(explicit)
    for name in sorted(names, key=len, reverse=True):
        if host and re.search(rf"(^|[-_.]){re.escape(name.lower())}($|[-_.\d])", host):
            return name
    return None


def component_for(ctx: FixContext) -> str | None:
    """Which part of the environment a diagnosis is about: eks, rds, ec2, redis (or None when unclear)."""
    target = ctx.target
    explicit = _words(target.get("component") or target.get("service_kind"))
    for name in COMPONENTS:
        if explicit == name or explicit.startswith(f"{name}."):
            return name
    if explicit in ("database", "db", "mysql"):
        return "rds"
    if explicit in ("node_group", "nodegroup", "kubernetes", "k8s", "cluster"):
        return "eks"
    if explicit in ("cache", "elasticache"):
        return "redis"
    if ec2_instance_for(ctx):
        return "ec2"
    for path in target.get("spec_paths") or []:  # the diagnostician's hint: environments.<env>.<component>...
        parts = str(path).split(".")
        if len(parts) >= 3 and parts[2] in COMPONENTS and parts[2] != "ec2":
            return parts[2]
    keys = " ".join(_words(k) for k in target) + " " + " ".join(_words(v) for v in target.values() if isinstance(v, str))
    labels = " ".join(f"{k} {v}" for k, v in ctx.labels.items()).lower()
    hay = f"{keys} {labels}"
    if re.search(r"\b(node_?group|nodegroup|kube|k8s|eks|pod|pods)\b", hay) or re.search(r"\bip-\d+-\d+-\d+-\d+", hay):
        return "eks"
    if re.search(r"\b(rds|mysql|database|db)\b", hay) or ctx.diagnosis.root_cause.startswith("db_"):
        return "rds"
    if re.search(r"\b(redis|elasticache|cache)\b", hay):
        return "redis"
    return None


# ------------------------------------------------------------ sizes


SIZES = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"]


def next_size(instance_type: str) -> str | None:
    """The next size up in the same family: t3.medium -> t3.large, db.t3.micro -> db.t3.small."""
    m = re.fullmatch(r"((?:db\.|cache\.)?[a-z0-9-]+)\.([a-z0-9]+)", instance_type or "")
    if not m or m.group(2) not in SIZES:
        return None
    index = SIZES.index(m.group(2))
    if index + 1 >= len(SIZES):
        return None
    return f"{m.group(1)}.{SIZES[index + 1]}"


BURSTABLE_TO_STEADY = {"t2": "m5", "t3": "m5", "t3a": "m5a", "t4g": "m6g"}


def steady_type(instance_type: str) -> str | None:
    """A burstable type's non-burstable peer with at least as much CPU: t3.medium -> m5.large."""
    m = re.fullmatch(r"((?:db\.|cache\.)?)(t[0-9][a-z]?)\.([a-z0-9]+)", instance_type or "")
    if not m or m.group(2) not in BURSTABLE_TO_STEADY or m.group(3) not in SIZES:
        return None
    size = m.group(3) if SIZES.index(m.group(3)) >= SIZES.index("large") else "large"
    return f"{m.group(1)}{BURSTABLE_TO_STEADY[m.group(2)]}.{size}"


def memory_gib(instance_class: str) -> float | None:
    """Memory of common EC2/RDS/ElastiCache classes, by family and size (burstable and general purpose)."""
    m = re.fullmatch(r"(?:db\.|cache\.)?([a-z]+)(\d+)([a-z]*)\.([a-z0-9]+)", instance_class or "")
    if not m:
        return None
    family, size = m.group(1), m.group(4)
    burstable = {"nano": 0.5, "micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
    general = {"large": 8, "xlarge": 16, "2xlarge": 32, "4xlarge": 64, "8xlarge": 128, "12xlarge": 192, "16xlarge": 256, "24xlarge": 384}
    if family == "t":
        return burstable.get(size)
    if family == "m":
        return general.get(size)
    if family in ("r", "x"):
        value = general.get(size)
        return value * 2 if value else None
    if family == "c":
        value = general.get(size)
        return value / 2 if value else None
    return None


def round_up(value: float, step: int) -> int:
    return int(-(-value // step) * step)
