"""Capacity fixes: more nodes in the node group, or a bigger instance type.

Scaling helps when the cluster is out of room for pods; it does not help
when the account is out of quota or the subnets out of addresses, so those
cases are refused with the reason instead of a change that cannot work.
"""

from __future__ import annotations

import math
import re

from agents.terraform_fixes import hcl_text
from agents.terraform_fixes.base import (
    FixContext, FixPlan, component_for, ec2_instance_for, env_path, get_path, next_size, steady_type,
)

QUOTA = re.compile(r"VcpuLimitExceeded|LimitExceeded|QuotaExceeded|ServiceQuota|maximum number of|"
                   r"InsufficientInstanceCapacity|InsufficientCapacity|do not have sufficient", re.I)
ADDRESSES = re.compile(r"InsufficientFreeAddresses|not enough free addresses|no free IP|IP address(es)? (exhausted|available)", re.I)


def _new_count(current: int, target: dict) -> int:
    for key in ("desired", "node_count", "desired_size", "nodes"):
        value = target.get(key)
        if isinstance(value, int) and value > current:
            return value
    return current + max(1, math.ceil(current * 0.5))


def scale_node_group(ctx: FixContext) -> FixPlan | None:
    """capacity_exhausted: raise the node group's desired size (and its maximum when it is in the way)."""
    if ctx.diagnosis.root_cause != "capacity_exhausted":
        return None
    text = ctx.text()
    if QUOTA.search(text) or ADDRESSES.search(text):
        return None  # more nodes cannot help: a quota, the zone's capacity or the subnets' addresses are the limit
    if component_for(ctx) not in (None, "eks"):
        return None
    eks = get_path(ctx.env_spec(), "eks")
    literal = _literal_node_group(ctx)
    if literal is not None:
        return literal
    if not isinstance(eks, dict) or eks.get("enabled", True) is False:
        return None
    current = int(eks.get("node_count", 2))
    maximum = int(eks.get("node_max", 4))
    wanted = _new_count(current, ctx.target)
    changes = {env_path(ctx, "eks", "node_count"): wanted}
    why = f"the node group runs {current} node(s) and pods cannot be scheduled; {wanted} give(s) the scheduler room"
    if wanted > maximum:
        changes[env_path(ctx, "eks", "node_max")] = wanted
        why += f"; node_max rises from {maximum} to {wanted} so the desired size stays within bounds"
    return FixPlan(
        template="scale_node_group",
        title=f"scale the {ctx.environment} EKS node group from {current} to {wanted} nodes",
        rationale=why,
        spec_changes=changes,
        risk="low" if ctx.environment != "prod" else "medium",
        notes=["if pods stay Pending after the scale-up, check their requests against a node's allocatable capacity"],
        rollback=f"set eks.node_count back to {current}" + (f" and eks.node_max to {maximum}" if wanted > maximum else ""),
    )


def _literal_node_group(ctx: FixContext) -> FixPlan | None:
    """The node group's size written as numbers in the code: edit the code."""
    for path, span in hcl_text.resource_blocks(ctx.files, "aws_eks_node_group"):
        text = ctx.files[path]
        scaling = hcl_text.blocks(text, "scaling_config", within=span)
        if not scaling:
            continue
        attrs = hcl_text.attributes(text, scaling[0])
        desired = attrs.get("desired_size")
        current = hcl_text.literal_number(desired.value(text)) if desired else None
        if current is None:
            return None  # a variable: the spec holds the value
        wanted = _new_count(current, ctx.target)
        # Edit from the end of the file backwards so earlier offsets stay valid.
        edits = [(desired, str(wanted))]
        maximum = hcl_text.literal_number(attrs["max_size"].value(text)) if "max_size" in attrs else None
        if maximum is not None and wanted > maximum:
            edits.append((attrs["max_size"], str(wanted)))
        for attr, value in sorted(edits, key=lambda e: e[0].value_start, reverse=True):
            text = hcl_text.set_value(text, attr, value)
        name = ".".join(span.labels)
        return FixPlan(
            template="scale_node_group",
            title=f"scale {name} from {current} to {wanted} nodes",
            rationale=f"{name} has desired_size = {current} in {path}; pods cannot be scheduled",
            file_edits={path: text},
            risk="low" if ctx.environment != "prod" else "medium",
            rollback=f"set desired_size back to {current} in {path}",
        )
    return None


def bigger_instance_type(ctx: FixContext) -> FixPlan | None:
    """memory_pressure (or CPU saturation on a burstable type): a bigger instance type for the host.

    Memory: the next size up in the family. CPU on a burstable type that ran
    out of credits: its non-burstable peer (t3.medium -> m5.large), since a
    bigger burstable type runs out of credits the same way.
    """
    if ctx.diagnosis.root_cause not in ("memory_pressure", "cpu_saturation"):
        return None
    component = component_for(ctx)
    env = ctx.env_spec()
    if component == "ec2":
        name = ec2_instance_for(ctx)
        current = get_path(env, f"ec2.{name}.instance_type")
        path = env_path(ctx, "ec2", str(name), "instance_type")
        what = f"EC2 instance {name}"
        effect = "the instance stops and starts with the new type (a few minutes of downtime per instance)"
    elif component == "eks" or (component is None and isinstance(get_path(env, "eks"), dict) and ctx.target.get("host") is None):
        current = get_path(env, "eks.node_instance_type")
        path = env_path(ctx, "eks", "node_instance_type")
        what = "EKS node group"
        effect = "the node group is replaced by one with the new type (nodes drain and roll one at a time)"
    elif component == "rds":
        current = get_path(env, "rds.instance_class")
        path = env_path(ctx, "rds", "instance_class")
        what = "RDS instance"
        effect = "the database restarts on the new class (Multi-AZ fails over instead)"
    elif component == "redis":
        current = get_path(env, "redis.node_type")
        path = env_path(ctx, "redis", "node_type")
        what = "Redis replication group"
        effect = "ElastiCache resizes the nodes online"
    else:
        return _literal_instance_type(ctx)
    if not isinstance(current, str):
        return _literal_instance_type(ctx)
    bigger, resource, why = _bigger(ctx, current)
    if bigger is None:
        return None
    return FixPlan(
        template="bigger_instance_type",
        title=f"give the {ctx.environment} {what} more {resource}: {current} -> {bigger}",
        rationale=f"{why}. {effect}",
        spec_changes={path: bigger},
        risk="medium" if ctx.environment != "prod" else "high",
        rollback=f"set {path.split('.', 2)[2]} back to {current}",
    )


def _bigger(ctx: FixContext, current: str) -> tuple[str | None, str, str]:
    """(new type, what it adds, why) for the diagnosis' root cause."""
    if ctx.diagnosis.root_cause == "cpu_saturation":
        steady = steady_type(current)
        if steady is None:
            return None, "", ""  # a runaway process is not fixed by a bigger machine; only credit exhaustion is
        return steady, "steady CPU", f"{current} is burstable and ran out of CPU credits; {steady} gives the same or more CPU without credits"
    bigger = next_size(current)
    return bigger, "memory", f"memory is short for a normal load on {current}; {bigger} has about twice the memory"


def _literal_instance_type(ctx: FixContext) -> FixPlan | None:
    """An aws_instance whose Name tag or label matches the host and whose type is written as text."""
    host = str(ctx.target.get("host") or ctx.labels.get("host") or "").lower()
    if not host:
        return None
    for path, span in hcl_text.resource_blocks(ctx.files, "aws_instance"):
        text = ctx.files[path]
        attrs = hcl_text.attributes(text, span)
        label = span.labels[1].lower() if len(span.labels) > 1 else ""
        tags = attrs["tags"].value(text).lower() if "tags" in attrs else ""
        if host not in (label, label.replace("_", "-")) and f'"{host}"' not in tags:
            continue
        current = hcl_text.literal_string(attrs["instance_type"].value(text)) if "instance_type" in attrs else None
        bigger, resource, why = _bigger(ctx, current or "")
        if not bigger:
            return None
        new_text = hcl_text.set_value(text, attrs["instance_type"], f'"{bigger}"')
        return FixPlan(
            template="bigger_instance_type",
            title=f"give {host} more {resource}: {current} -> {bigger}",
            rationale=f"aws_instance.{span.labels[1]} in {path}: {why}",
            file_edits={path: new_text},
            risk="medium" if ctx.environment != "prod" else "high",
            rollback=f"set instance_type back to {current} in {path}",
        )
    return None
