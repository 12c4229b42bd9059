"""Storage fixes: a bigger volume for a full disk, more gp3 IOPS and throughput for a slow one.

EBS volumes and RDS storage grow online and never shrink, so the new size is
chosen to leave the disk at most 70 % full (or 1.5x when usage is unknown),
and the proposal says that the change cannot be rolled back by shrinking.
"""

from __future__ import annotations

import re

from agents.terraform_fixes import hcl_text
from agents.terraform_fixes.base import (
    FixContext, FixPlan, component_for, ec2_instance_for, env_path, get_path, round_up,
)

TARGET_USE = 0.70
GP3_MAX_IOPS = 16000
GP3_MAX_THROUGHPUT = 1000
NO_SHRINK = "volumes cannot shrink: rolling back means leaving the larger size (or restoring a snapshot to a new, smaller volume)"


def _used_gb(ctx: FixContext, size: int) -> float | None:
    target = ctx.target
    for key in ("used_gb", "disk_used_gb"):
        if isinstance(target.get(key), (int, float)):
            return float(target[key])
    for key in ("use_pct", "used_pct", "disk_use_pct"):
        if isinstance(target.get(key), (int, float)):
            return size * float(target[key]) / 100
    m = re.search(r"\s(\d{1,3})%\s+/(?:\s|$)", ctx.text())  # df -h: "... 97% /"
    return size * int(m.group(1)) / 100 if m else None


def bigger_size(current: int, ctx: FixContext) -> int:
    explicit = ctx.target.get("size_gb_wanted")
    if isinstance(explicit, int) and explicit > current:
        return explicit
    used = _used_gb(ctx, current)
    wanted = max(current * 1.5, used / TARGET_USE if used else 0)
    return round_up(wanted, 10)


def grow_disk(ctx: FixContext) -> FixPlan | None:
    """disk_full: grow the host's root volume, the nodes' disks or the database's storage."""
    if ctx.diagnosis.root_cause != "disk_full":
        return None
    component = component_for(ctx)
    env = ctx.env_spec()
    if component == "ec2":
        name = ec2_instance_for(ctx)
        key, default, what = f"ec2.{name}.volume_gb", 30, f"EC2 instance {name}'s root volume"
    elif component == "eks":
        key, default, what = "eks.node_disk_gb", 50, "EKS nodes' disks"
    elif component == "rds":
        key, default, what = "rds.storage_gb", 20, "RDS storage"
    else:
        return _literal_volume(ctx)
    if env is None or get_path(env, key.rsplit(".", 1)[0]) is None:
        return _literal_volume(ctx)
    current = int(get_path(env, key, default))
    wanted = bigger_size(current, ctx)
    effect = {"ec2": "EBS grows the volume online; the filesystem must then be extended (growpart + xfs_growfs/resize2fs)",
              "eks": "the node group is replaced with larger disks (nodes drain and roll one at a time)",
              "rds": "RDS grows storage online; another storage change is possible only after six hours"}[component]
    return FixPlan(
        template="grow_disk",
        title=f"grow the {ctx.environment} {what} from {current} to {wanted} GiB",
        rationale=f"the disk is full at {current} GiB; {wanted} GiB leaves it at most {int(TARGET_USE * 100)} % used. {effect}",
        spec_changes={env_path(ctx, *key.split(".")): wanted},
        risk="low" if component != "eks" and ctx.environment != "prod" else "medium",
        notes=["free space first if the growth is not expected (logs, old artifacts): a bigger disk only delays a leak of files"],
        rollback=NO_SHRINK,
    )


def _literal_volume(ctx: FixContext) -> FixPlan | None:
    """A volume size written as a number in the code (aws_instance root_block_device, aws_ebs_volume, aws_db_instance)."""
    host = str(ctx.target.get("host") or ctx.labels.get("host") or "").lower()
    candidates: list[tuple[str, hcl_text.Span, hcl_text.Attribute, str]] = []
    for path, span in hcl_text.resource_blocks(ctx.files, "aws_instance"):
        text = ctx.files[path]
        root = hcl_text.blocks(text, "root_block_device", within=span)
        attr = hcl_text.attribute(text, root[0], "volume_size") if root else None
        if attr and (not host or host in text[span.start:span.close].lower() or host.replace("-", "_") in span.labels):
            candidates.append((path, span, attr, "root volume"))
    for path, span in hcl_text.resource_blocks(ctx.files, "aws_ebs_volume"):
        attr = hcl_text.attribute(ctx.files[path], span, "size")
        if attr:
            candidates.append((path, span, attr, "volume"))
    if component_for(ctx) == "rds" or not candidates:
        for path, span in hcl_text.resource_blocks(ctx.files, "aws_db_instance"):
            attr = hcl_text.attribute(ctx.files[path], span, "allocated_storage")
            if attr:
                candidates.insert(0, (path, span, attr, "storage"))
    for path, span, attr, what in candidates:
        text = ctx.files[path]
        current = hcl_text.literal_number(attr.value(text))
        if current is None:
            continue
        wanted = bigger_size(current, ctx)
        name = ".".join(span.labels)
        return FixPlan(
            template="grow_disk",
            title=f"grow {name}'s {what} from {current} to {wanted} GiB",
            rationale=f"the disk is full at {current} GiB ({path}); {wanted} GiB leaves it at most {int(TARGET_USE * 100)} % used",
            file_edits={path: hcl_text.set_value(text, attr, str(wanted))},
            risk="low" if ctx.environment != "prod" else "medium",
            rollback=NO_SHRINK,
        )
    return None


def raise_disk_io(ctx: FixContext) -> FixPlan | None:
    """disk_io_bottleneck: double the gp3 IOPS and throughput of the host's volume (within gp3's limits)."""
    if ctx.diagnosis.root_cause != "disk_io_bottleneck":
        return None
    component = component_for(ctx)
    if component == "rds":
        return _rds_storage_iops(ctx) or _literal_iops(ctx)
    if component != "ec2":
        return _literal_iops(ctx)
    name = ec2_instance_for(ctx)
    env = ctx.env_spec() or {}
    item = get_path(env, f"ec2.{name}") or {}
    iops = int(item.get("volume_iops", 3000))
    throughput = int(item.get("volume_throughput", 125))
    new_iops = min(GP3_MAX_IOPS, iops * 2)
    new_throughput = min(GP3_MAX_THROUGHPUT, throughput * 2, new_iops // 4)
    if new_iops == iops and new_throughput == throughput:
        return None
    return FixPlan(
        template="raise_disk_io",
        title=f"raise {ctx.environment} EC2 {name}'s gp3 volume to {new_iops} IOPS and {new_throughput} MB/s",
        rationale=f"the volume is saturated at {iops} IOPS / {throughput} MB/s; gp3 changes performance online, without a restart",
        spec_changes={env_path(ctx, "ec2", str(name), "volume_iops"): new_iops,
                      env_path(ctx, "ec2", str(name), "volume_throughput"): new_throughput},
        risk="low" if ctx.environment != "prod" else "medium",
        notes=["EBS allows one modification per volume every six hours"],
        rollback=f"set volume_iops back to {iops} and volume_throughput to {throughput} (after six hours)",
    )


RDS_GP3_THRESHOLD_GB = 400  # MySQL on gp3: 3,000 IOPS below 400 GiB, 12,000 IOPS and 500 MiB/s from 400 GiB


def _rds_storage_iops(ctx: FixContext) -> FixPlan | None:
    """RDS MySQL on gp3 gets 4x the baseline IOPS from 400 GiB: the one storage lever the spec exposes."""
    rds = get_path(ctx.env_spec(), "rds")
    if not isinstance(rds, dict) or rds.get("enabled", True) is False:
        return None
    current = int(rds.get("storage_gb", 20))
    if current >= RDS_GP3_THRESHOLD_GB:
        return None  # beyond this, provisioned IOPS or a bigger class: a person decides
    return FixPlan(
        template="raise_disk_io",
        title=f"grow {ctx.environment} RDS storage from {current} to {RDS_GP3_THRESHOLD_GB} GiB for 4x the gp3 IOPS",
        rationale=(f"the database is I/O-bound; on gp3, RDS MySQL has a 3,000 IOPS / 125 MiB/s baseline below "
                   f"{RDS_GP3_THRESHOLD_GB} GiB and 12,000 IOPS / 500 MiB/s from {RDS_GP3_THRESHOLD_GB} GiB; storage grows online"),
        spec_changes={env_path(ctx, "rds", "storage_gb"): RDS_GP3_THRESHOLD_GB},
        risk="medium",
        notes=["check the slow-query log first: a missing index is cheaper than storage",
               "storage cannot shrink, and another storage change waits six hours"],
        rollback=NO_SHRINK,
    )


def _literal_iops(ctx: FixContext) -> FixPlan | None:
    for rtype, block_name in (("aws_instance", "root_block_device"), ("aws_ebs_volume", None)):
        for path, span in hcl_text.resource_blocks(ctx.files, rtype):
            text = ctx.files[path]
            where = hcl_text.blocks(text, block_name, within=span)[0] if block_name and hcl_text.blocks(text, block_name, within=span) else span
            if block_name and where is span:
                continue
            attrs = hcl_text.attributes(text, where)
            vtype = hcl_text.literal_string(attrs["volume_type" if block_name else "type"].value(text)) if (
                "volume_type" if block_name else "type") in attrs else None
            if vtype != "gp3":
                continue
            iops = hcl_text.literal_number(attrs["iops"].value(text)) if "iops" in attrs else 3000
            if iops is None or iops >= GP3_MAX_IOPS:
                continue
            new_iops = min(GP3_MAX_IOPS, iops * 2)
            if "iops" in attrs:
                new_text = hcl_text.set_value(text, attrs["iops"], str(new_iops))
            else:
                new_text = hcl_text.insert_in_block(text, where, f"iops = {new_iops}", blank_line=False)
            name = ".".join(span.labels)
            return FixPlan(
                template="raise_disk_io",
                title=f"raise {name}'s gp3 IOPS from {iops} to {new_iops}",
                rationale=f"the volume is saturated at {iops} IOPS ({path}); gp3 changes performance online",
                file_edits={path: new_text},
                risk="low" if ctx.environment != "prod" else "medium",
                rollback=f"set iops back to {iops} in {path} (after six hours)",
            )
    return None
