"""Database connection headroom: raise max_connections through the parameter group.

MySQL sizes its default max_connections from memory (DBInstanceClassMemory /
12582880, about 85 per GiB); going far beyond that trades "Too many
connections" for out-of-memory restarts. So the new value is bounded by the
class's memory, and when the wanted value does not fit, the class goes up one
size in the same change and the proposal says why.
"""

from __future__ import annotations

import re

from agents.terraform_fixes import hcl_text
from agents.terraform_fixes.base import FixContext, FixPlan, env_path, get_path, memory_gib, next_size, round_up

PER_GIB_DEFAULT = 1024**3 / 12582880  # ~85 connections per GiB, MySQL's own default
HEADROOM = 2.0  # at most twice MySQL's memory-based default


def memory_ceiling(instance_class: str) -> int | None:
    gib = memory_gib(instance_class)
    return int(gib * PER_GIB_DEFAULT * HEADROOM) if gib else None


def _observed(ctx: FixContext) -> int | None:
    for key in ("threads_connected", "connections", "max_used_connections"):
        value = ctx.target.get(key)
        if isinstance(value, (int, float)):
            return int(value)
    m = re.search(r"Threads_connected\s*\|?\s*(\d+)", ctx.text())
    return int(m.group(1)) if m else None


def wanted_connections(current: int, ctx: FixContext) -> int:
    explicit = ctx.target.get("max_connections_wanted") or ctx.target.get("new_max_connections")
    if isinstance(explicit, int) and explicit > current:
        return explicit
    wanted = current * 1.5
    seen = _observed(ctx)
    if seen:
        wanted = max(wanted, seen * 1.25)
    return round_up(wanted, 10)


def raise_max_connections(ctx: FixContext) -> FixPlan | None:
    """db_connection_exhaustion: more connections in the parameter group (a bigger class when memory requires)."""
    if ctx.diagnosis.root_cause != "db_connection_exhaustion":
        return None
    literal = _literal_parameter(ctx)
    if literal is not None:
        return literal
    rds = get_path(ctx.env_spec(), "rds")
    if not isinstance(rds, dict) or rds.get("enabled", True) is False:
        return None
    current = int(rds.get("max_connections", 150))
    wanted = wanted_connections(current, ctx)
    instance_class = str(rds.get("instance_class", "db.t3.micro"))
    changes = {env_path(ctx, "rds", "max_connections"): wanted}
    ceiling = memory_ceiling(instance_class)
    why = f"connections hit max_connections = {current}; {wanted} gives the pools room"
    rollback = f"set rds.max_connections back to {current}"
    bigger = instance_class
    while ceiling is not None and wanted > ceiling:
        step = next_size(bigger)
        if step is None:
            break
        bigger = step
        ceiling = memory_ceiling(bigger)
    if bigger != instance_class:
        changes[env_path(ctx, "rds", "instance_class")] = bigger
        why += (f"; {instance_class} has about {memory_gib(instance_class):g} GiB, too little memory for {wanted} connections, "
                f"so the class goes up to {bigger} (the database restarts once)")
        rollback += f" and rds.instance_class back to {instance_class}"
    return FixPlan(
        template="raise_max_connections",
        title=f"raise {ctx.environment} RDS max_connections from {current} to {wanted}" + (f" on {bigger}" if bigger != instance_class else ""),
        rationale=why + ". max_connections is dynamic in MySQL: the parameter group applies it without a restart.",
        spec_changes=changes,
        risk="medium" if bigger != instance_class or ctx.environment == "prod" else "low",
        notes=["more connections only buy headroom: if connections grow without bound, a connection leak in the client must be fixed",
               "size the application pools so that pods x pool size stays below max_connections"],
        rollback=rollback,
    )


def _literal_parameter(ctx: FixContext) -> FixPlan | None:
    """A parameter group in the code with max_connections written as a number: edit it there."""
    groups = hcl_text.resource_blocks(ctx.files, "aws_db_parameter_group")
    for path, span in groups:
        text = ctx.files[path]
        for parameter in hcl_text.blocks(text, "parameter", within=span):
            attrs = hcl_text.attributes(text, parameter)
            if "name" not in attrs or hcl_text.literal_string(attrs["name"].value(text)) != "max_connections":
                continue
            if "value" not in attrs:
                continue
            current = hcl_text.literal_number(attrs["value"].value(text))
            if current is None:
                return None  # a variable: the spec holds it
            wanted = wanted_connections(current, ctx)
            quoted = attrs["value"].value(text).strip().startswith('"')
            new_text = hcl_text.set_value(text, attrs["value"], f'"{wanted}"' if quoted else str(wanted))
            name = ".".join(span.labels)
            return FixPlan(
                template="raise_max_connections",
                title=f"raise max_connections in {name} from {current} to {wanted}",
                rationale=f"connections hit max_connections = {current} ({path}); MySQL applies the new value without a restart",
                file_edits={path: new_text},
                risk="low" if ctx.environment != "prod" else "medium",
                notes=["more connections only buy headroom: a leak in the client must be fixed there"],
                rollback=f"set max_connections back to {current} in {path}",
            )
    if groups and not get_path(ctx.env_spec(), "rds"):
        path, span = groups[0]
        text = ctx.files[path]
        wanted = wanted_connections(150, ctx)
        snippet = f'parameter {{\n  name         = "max_connections"\n  value        = "{wanted}"\n  apply_method = "immediate"\n}}'
        return FixPlan(
            template="raise_max_connections",
            title=f"set max_connections = {wanted} in {'.'.join(span.labels)}",
            rationale="the parameter group leaves max_connections at MySQL's memory-based default, which the load exceeded",
            file_edits={path: hcl_text.insert_in_block(text, span, snippet)},
            risk="low" if ctx.environment != "prod" else "medium",
            rollback=f"remove the max_connections parameter from {path}",
        )
    return None
