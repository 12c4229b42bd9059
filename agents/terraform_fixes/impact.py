"""How many resources a tfvars change touches in the reference project, before any plan.

Policy limits ("at most 3 resources for a small dev change") must be judged
when the proposal is made, before Terraform runs. The counts below mirror
terraform/modules/* (tests compare them with a real `terraform plan`); the
deployer's plan is still the authority and is shown before apply.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Impact(BaseModel):
    add: int = 0
    change: int = 0
    destroy: int = 0
    resources: list[str] = Field(default_factory=list)  # "module.eks.aws_eks_node_group.this: update"

    @property
    def count(self) -> int:
        return self.add + self.change + self.destroy

    def text(self) -> str:
        head = f"estimated: {self.add} to add, {self.change} to change, {self.destroy} to destroy (terraform plan confirms)"
        return "\n".join([head, *[f"  {r}" for r in self.resources[:30]]])


def _vpc(v: dict[str, Any]) -> int:
    azs, nat = int(v.get("azs", 2)), int(v.get("nat_gateways", 1))
    return 9 + 2 * nat + 5 * azs + (azs if nat > 0 else 0)


def section_counts(tfvars: dict[str, Any]) -> dict[str, int]:
    """Resources per module for one environment's tfvars (zero for what is off)."""
    if not tfvars.get("enabled", True):
        return {}
    out = {"secrets": 2 + len(tfvars.get("secrets", {}).get("names", ["app"])), "vpc": _vpc(tfvars.get("vpc", {}))}
    if tfvars.get("eks", {}).get("enabled", True):
        out["eks"] = 10
    if tfvars.get("rds", {}).get("enabled", True):
        out["rds"] = 6
    instances = sum(int(i.get("count", 1)) for i in (tfvars.get("ec2") or {}).values())
    if tfvars.get("ec2"):
        out["ec2"] = 4 + instances
    if tfvars.get("redis", {}).get("enabled", False):
        out["redis"] = 5
    if tfvars.get("backup", {}).get("enabled", False) and "rds" in out:
        out["backup"] = 5  # vault, plan, selection, IAM role and its policy attachment
    return out


def total_resources(tfvars: dict[str, Any]) -> int:
    return sum(section_counts(tfvars).values())


# Keys whose change replaces a resource (destroy + add) rather than updating it in place.
REPLACING = {("eks", "node_instance_type"): "module.eks.aws_eks_node_group.this",
             ("eks", "node_disk_gb"): "module.eks.aws_eks_node_group.this"}
UPDATING = {
    ("eks", "node_count"): "module.eks.aws_eks_node_group.this", ("eks", "node_min"): "module.eks.aws_eks_node_group.this",
    ("eks", "node_max"): "module.eks.aws_eks_node_group.this", ("eks", "version"): "module.eks.aws_eks_cluster.this",
    ("rds", "instance_class"): "module.rds.aws_db_instance.this", ("rds", "storage_gb"): "module.rds.aws_db_instance.this",
    ("rds", "max_storage_gb"): "module.rds.aws_db_instance.this", ("rds", "multi_az"): "module.rds.aws_db_instance.this",
    ("rds", "backup_retention_days"): "module.rds.aws_db_instance.this", ("rds", "engine_version"): "module.rds.aws_db_instance.this",
    ("rds", "max_connections"): "module.rds.aws_db_parameter_group.this",
    ("rds", "backup_window"): "module.rds.aws_db_instance.this",
    ("backup", "schedule"): "module.backup.aws_backup_plan.this",
    ("backup", "retention_days"): "module.backup.aws_backup_plan.this",
    ("redis", "node_type"): "module.redis.aws_elasticache_replication_group.this",
    ("redis", "nodes"): "module.redis.aws_elasticache_replication_group.this",
    ("redis", "engine_version"): "module.redis.aws_elasticache_replication_group.this",
}


def estimate_impact(before: dict[str, Any] | None, after: dict[str, Any]) -> Impact:
    """Adds, changes and destroys between two renders of one environment's tfvars."""
    impact = Impact()
    before_counts = section_counts(before) if before else {}
    after_counts = section_counts(after)
    was_on = bool(before) and bool(before.get("enabled", True))
    is_on = bool(after.get("enabled", True))
    if not (was_on and is_on):
        if is_on:
            impact.add = sum(after_counts.values())
            impact.resources = [f"module.{name}: create {n}" for name, n in after_counts.items()]
        elif was_on:
            impact.destroy = sum(before_counts.values())
            impact.resources = [f"module.{name}: destroy {n}" for name, n in before_counts.items()]
        return impact
    assert before is not None
    if before.get("tags") != after.get("tags") or before.get("owner") != after.get("owner"):
        impact.change = sum(after_counts.values())
        impact.resources.append(f"every resource: update tags ({impact.change})")
        return impact
    if before.get("vpc", {}).get("cidr") != after.get("vpc", {}).get("cidr"):
        impact.destroy = sum(before_counts.values()) - before_counts.get("secrets", 0)
        impact.add = sum(after_counts.values()) - after_counts.get("secrets", 0)
        impact.resources.append("a new VPC CIDR replaces the network and everything in it")
        return impact
    for section in ("vpc", "secrets", "eks", "rds", "ec2", "redis", "backup"):
        b, a = before_counts.get(section, 0), after_counts.get(section, 0)
        if b and not a:
            impact.destroy += b
            impact.resources.append(f"module.{section}: destroy {b}")
        elif a and not b:
            impact.add += a
            impact.resources.append(f"module.{section}: create {a}")
    if before_counts.get("vpc") and after_counts.get("vpc") and before_counts["vpc"] != after_counts["vpc"]:
        delta = after_counts["vpc"] - before_counts["vpc"]
        impact.add += max(delta, 0)
        impact.destroy += max(-delta, 0)
        impact.resources.append(f"module.vpc: {'add' if delta > 0 else 'destroy'} {abs(delta)} (zones / NAT gateways)")
        if before["vpc"].get("azs") != after["vpc"].get("azs"):
            for section, address in (("eks", "module.eks.aws_eks_cluster.this"), ("rds", "module.rds.aws_db_subnet_group.this"),
                                     ("redis", "module.redis.aws_elasticache_subnet_group.this")):
                if section in after_counts and section in before_counts:
                    impact.change += 1
                    impact.resources.append(f"{address}: update subnets")
    touched: dict[str, str] = {}
    for section in ("eks", "rds", "redis", "backup"):
        if section not in before_counts or section not in after_counts:
            continue
        for key, value in after.get(section, {}).items():
            if before.get(section, {}).get(key) == value:
                continue
            if (section, key) in REPLACING:
                touched[REPLACING[(section, key)]] = "replace"
            elif (section, key) in UPDATING:
                touched.setdefault(UPDATING[(section, key)], "update")
    if "secrets" in before_counts and "secrets" in after_counts:
        b_sec, a_sec = before.get("secrets", {}), after.get("secrets", {})
        if b_sec.get("name_suffix") != a_sec.get("name_suffix"):
            for name in a_sec.get("names", []):
                touched[f'module.secrets.aws_secretsmanager_secret.app["{name}"]'] = "replace"
        else:
            for name in set(a_sec.get("names", [])) - set(b_sec.get("names", [])):
                touched[f'module.secrets.aws_secretsmanager_secret.app["{name}"]'] = "create"
            for name in set(b_sec.get("names", [])) - set(a_sec.get("names", [])):
                touched[f'module.secrets.aws_secretsmanager_secret.app["{name}"]'] = "destroy"
    if "ec2" in before_counts and "ec2" in after_counts:
        for name in sorted(set(before.get("ec2", {})) | set(after.get("ec2", {}))):
            b, a = before.get("ec2", {}).get(name), after.get("ec2", {}).get(name)
            b_count, a_count = int((b or {}).get("count", 0)), int((a or {}).get("count", 0))
            for i in range(a_count, b_count):
                touched[f'module.ec2.aws_instance.this["{name}-{i + 1}"]'] = "destroy"
            for i in range(b_count, a_count):
                touched[f'module.ec2.aws_instance.this["{name}-{i + 1}"]'] = "create"
            if b and a and {k: v for k, v in b.items() if k != "count"} != {k: v for k, v in a.items() if k != "count"}:
                for i in range(min(a_count, b_count)):
                    touched[f'module.ec2.aws_instance.this["{name}-{i + 1}"]'] = "update"
    for address, action in touched.items():
        impact.resources.append(f"{address}: {action}")
        if action == "replace":
            impact.add += 1
            impact.destroy += 1
        elif action == "create":
            impact.add += 1
        elif action == "destroy":
            impact.destroy += 1
        else:
            impact.change += 1
    return impact
