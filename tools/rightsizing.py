"""Right-sizing suggestions from metrics: components that stay well under their capacity, as spec changes.

A pure function of the spec, one environment's metric values and the limits in
config/requests.yaml (`rightsizing`). Each suggestion names the change (one
node fewer, one size smaller, an idle cache turned off), what the metrics
showed, and the monthly saving the price table gives for it. Too few points
say nothing; a component with a peak above its limit is left alone. Nothing
here applies anything: a suggestion becomes a change only when a person asks
for it, and then needs its approvals like any other.
"""

from __future__ import annotations

from typing import Any

from graphs.state import Suggestion
from tools.cost import estimate_change_cost
from tools.spec import SpecError, apply_changes, size_step, value_at


def _stats(values: list[float]) -> tuple[float, float]:
    return sum(values) / len(values), max(values)


def _saving(spec: dict[str, Any], env: str, changes: dict[str, Any]) -> float | None:
    try:
        after = apply_changes(spec, changes)
    except SpecError:
        return None
    try:
        return round(-estimate_change_cost(spec, after, env).monthly_delta, 2)
    except Exception:  # no price table: no saving to show, so no suggestion
        return None


def _evidence(name: str, values: list[float], unit: str = "%") -> str:
    average, peak = _stats(values)
    return f"{name} average {average:.1f}{unit}, peak {peak:.1f}{unit} over {len(values)} points"


def suggest(spec: dict[str, Any], env: str, metrics: dict[str, list[float]], limits: dict[str, Any], start: int = 1
            ) -> list[Suggestion]:
    """Suggestions for one environment. `metrics` maps "eks.cpu", "eks.memory", "rds.cpu", "redis.cpu",
    "redis.connections", "ec2.<name>.cpu" to the window's values."""
    min_points = int(limits.get("min_points", 24))
    out: list[Suggestion] = []
    prefix = f"environments.{env}."

    def usable(key: str) -> list[float] | None:
        values = metrics.get(key) or []
        return values if len(values) >= min_points else None

    def add(title: str, changes: dict[str, Any], evidence: str) -> None:
        saving = _saving(spec, env, changes)
        if saving is not None and saving > 0:
            out.append(Suggestion(id=f"S{start + len(out)}", title=title, environment=env, changes=changes,
                                  monthly_saving=saving, evidence=evidence))

    eks_limits = limits.get("eks") or {}
    cpu = usable("eks.cpu")
    if cpu and value_at(spec, prefix + "eks.enabled") and (spec.get("environments") or {}).get(env, {}).get("eks"):
        average, peak = _stats(cpu)
        memory = usable("eks.memory")
        memory_ok = memory is None or _stats(memory)[0] < float(eks_limits.get("memory_average", 50))
        count, low = int(value_at(spec, prefix + "eks.node_count")), int(value_at(spec, prefix + "eks.node_min"))
        if average < float(eks_limits.get("cpu_average", 30)) and peak < float(eks_limits.get("cpu_peak", 60)) and memory_ok:
            after_peak = float(eks_limits.get("after_peak", 75))
            evidence = _evidence("node CPU", cpu) + (f"; {_evidence('node memory', memory)}" if memory else "")
            if count > max(low, 1) and peak * count / (count - 1) < after_peak:
                add(f"{env}: one EKS node fewer ({count} → {count - 1})", {prefix + "eks.node_count": count - 1}, evidence)
            else:
                smaller = size_step(str(value_at(spec, prefix + "eks.node_instance_type")), -1)
                if smaller and peak * 2 < after_peak:
                    add(f"{env}: smaller EKS nodes ({value_at(spec, prefix + 'eks.node_instance_type')} → {smaller})",
                        {prefix + "eks.node_instance_type": smaller}, evidence)

    rds_limits = limits.get("rds") or {}
    cpu = usable("rds.cpu")
    if cpu and value_at(spec, prefix + "rds.enabled") and (spec.get("environments") or {}).get(env, {}).get("rds"):
        average, peak = _stats(cpu)
        current = str(value_at(spec, prefix + "rds.instance_class"))
        smaller = size_step(current, -1)
        if smaller and average < float(rds_limits.get("cpu_average", 20)) and peak < float(rds_limits.get("cpu_peak", 50)):
            add(f"{env}: one size smaller database ({current} → {smaller})", {prefix + "rds.instance_class": smaller},
                _evidence("database CPU", cpu))

    redis_limits = limits.get("redis") or {}
    if value_at(spec, prefix + "redis.enabled"):
        connections = usable("redis.connections")
        cpu = usable("redis.cpu")
        if connections is not None and _stats(connections)[1] < float(redis_limits.get("idle_connections", 1)):
            add(f"{env}: Redis looks idle (no client connections): turn it off", {prefix + "redis.enabled": False},
                _evidence("cache connections", connections, ""))
        elif cpu is not None:
            average, peak = _stats(cpu)
            nodes = int(value_at(spec, prefix + "redis.nodes"))
            if nodes > 1 and average < float(redis_limits.get("cpu_average", 10)) and peak < float(redis_limits.get("cpu_peak", 30)):
                add(f"{env}: one Redis node fewer ({nodes} → {nodes - 1})", {prefix + "redis.nodes": nodes - 1},
                    _evidence("cache CPU", cpu))

    ec2_limits = limits.get("ec2") or {}
    for name in sorted(((spec.get("environments") or {}).get(env, {}) or {}).get("ec2") or {}):
        cpu = usable(f"ec2.{name}.cpu")
        if not cpu:
            continue
        average, peak = _stats(cpu)
        current = str(value_at(spec, f"{prefix}ec2.{name}.instance_type"))
        smaller = size_step(current, -1)
        if smaller and average < float(ec2_limits.get("cpu_average", 5)) and peak < float(ec2_limits.get("cpu_peak", 15)):
            add(f"{env}: EC2 {name} one size smaller ({current} → {smaller})", {f"{prefix}ec2.{name}.instance_type": smaller},
                _evidence(f"{name} CPU", cpu))
    return out


__all__ = ["suggest"]
