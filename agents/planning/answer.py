"""Answers to questions about the spec and its cost, read from the spec itself.

The answer quotes values, never guesses them: a value the spec leaves out is
shown with "(default)"; a cost comes from tools/cost.py (the offline price
table) or is said to be unavailable, with the reason.
"""

from __future__ import annotations

from typing import Any, Callable

from agents.planning.clarify import Language, label, show
from tools.spec import SpecError, apply_changes, get_path, value_at

COMPONENT_SUFFIXES: dict[str, list[str]] = {
    "eks": ["eks.node_count", "eks.node_instance_type", "eks.node_min", "eks.node_max", "eks.version"],
    "rds": ["rds.instance_class", "rds.storage_gb", "rds.multi_az", "rds.backup_retention_days", "rds.max_connections",
            "rds.engine_version"],
    "redis": ["redis.enabled", "redis.node_type", "redis.nodes"],
    "vpc": ["vpc.cidr", "vpc.azs", "vpc.nat_gateways"],
}


def _value(spec: dict[str, Any], env: str, suffix: str) -> str:
    path = f"environments.{env}.{suffix}"
    raw = get_path(spec, path, None)
    if raw is None:
        default = value_at(spec, path)
        return f"{show(default)} (default)" if default is not None else "-"
    return show(raw)


def describe_component(spec: dict[str, Any], env: str, component: str, language: Language) -> str:
    env_spec = (spec.get("environments") or {}).get(env) or {}
    if component.startswith("ec2"):
        names = [component.split(":", 1)[1]] if ":" in component else sorted(env_spec.get("ec2") or {})
        parts = []
        for name in names:
            item = (env_spec.get("ec2") or {}).get(name)
            if not isinstance(item, dict):
                parts.append(f"EC2 {name}: -")
                continue
            state = "" if item.get("enabled", True) else (" (꺼짐)" if language == "ko" else " (disabled)")
            parts.append(f"EC2 {name}: {item.get('instance_type', '-')} × {item.get('count', 1)}{state}")
        return "; ".join(parts) or ("EC2 인스턴스 없음" if language == "ko" else "no EC2 instances")
    block = env_spec.get(component)
    if component in ("eks", "rds", "redis") and isinstance(block, dict):
        enabled = value_at(spec, f"environments.{env}.{component}.enabled")
        if not enabled:
            return f"{component.upper() if component != 'redis' else 'Redis'}: " + ("꺼짐(enabled: false)" if language == "ko" else "disabled (enabled: false)")
    if component == "eks":
        return (f"EKS {_value(spec, env, 'eks.version')}: {_value(spec, env, 'eks.node_instance_type')} × "
                f"{_value(spec, env, 'eks.node_count')} " + ("노드" if language == "ko" else "nodes")
                + f" (min {_value(spec, env, 'eks.node_min')}, max {_value(spec, env, 'eks.node_max')})")
    if component == "rds":
        az = "Multi-AZ" if value_at(spec, f"environments.{env}.rds.multi_az") else "Single-AZ"
        backup = _value(spec, env, "rds.backup_retention_days")
        return (f"RDS {_value(spec, env, 'rds.engine')} {_value(spec, env, 'rds.engine_version')}: "
                f"{_value(spec, env, 'rds.instance_class')}, {_value(spec, env, 'rds.storage_gb')} GB, {az}, "
                + (f"백업 {backup}일" if language == "ko" else f"backups {backup} days")
                + f", max_connections {_value(spec, env, 'rds.max_connections')}")
    if component == "redis":
        return f"Redis: {_value(spec, env, 'redis.node_type')} × {_value(spec, env, 'redis.nodes')}"
    if component == "vpc":
        return (f"VPC {_value(spec, env, 'vpc.cidr')}: {_value(spec, env, 'vpc.azs')} AZ, "
                f"NAT {_value(spec, env, 'vpc.nat_gateways')}")
    return component


def describe_environment(spec: dict[str, Any], env: str, language: Language) -> str:
    envs = spec.get("environments") or {}
    if env not in envs:
        return f"{env}: " + ("스펙에 없는 환경입니다" if language == "ko" else "not in the spec")
    if not value_at(spec, f"environments.{env}.enabled"):
        return f"{env}: " + ("꺼져 있음 (enabled: false, 인프라 없음)" if language == "ko" else "disabled (enabled: false, nothing built)")
    env_spec = envs[env] or {}
    parts = [describe_component(spec, env, c, language) for c in ("vpc", "eks", "rds", "redis") if c in env_spec]
    if env_spec.get("ec2"):
        parts.append(describe_component(spec, env, "ec2", language))
    return f"{env}: " + "; ".join(parts)


# -------------------------------------------------------------------- cost


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _cost_functions() -> tuple[Callable[..., Any] | None, Callable[..., Any] | None, str | None]:
    try:
        from tools.cost import estimate_change_cost, estimate_spec_cost
    except ImportError:
        return None, None, "tools/cost.py is not available"
    return estimate_spec_cost, estimate_change_cost, None


def cost_answer(spec: dict[str, Any], envs: list[str], components: list[str], language: Language) -> tuple[str, str | None]:
    """Monthly cost per environment (of the named components, when some are named); and a note when unavailable."""
    estimate, _, missing = _cost_functions()
    if estimate is None:
        text = "비용을 계산할 수 없습니다: " if language == "ko" else "cost is unavailable: "
        return text + str(missing), f"cost unavailable: {missing}"
    lines, source = [], ""
    for env in envs:
        try:
            est = estimate(spec, env)
        except Exception as exc:  # a missing price table: say so, do not invent a number
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            text = "비용을 계산할 수 없습니다: " if language == "ko" else "cost is unavailable: "
            return text + reason, f"cost unavailable: {reason}"
        source = est.source
        if components:
            prefixes = tuple(f"{env}/{c.split(':')[0]}" for c in components)
            total = sum(line.monthly_after for line in est.lines if line.resource.startswith(prefixes))
            names = "+".join(c.split(":")[0].upper() for c in components)
            lines.append(f"{env} {names}: " + (f"월 약 {_money(total)}" if language == "ko" else f"about {_money(total)}/month"))
        else:
            lines.append(f"{env}: " + (f"월 약 {_money(est.monthly_after)}" if language == "ko" else f"about {_money(est.monthly_after)}/month"))
    tail = f" ({source})" if source else ""
    return "; ".join(lines) + tail, None


def change_cost_answer(spec: dict[str, Any], changes: dict[str, Any], envs: list[str], language: Language) -> tuple[str, str | None]:
    """What a hypothetical change would do to the monthly bill ("노드 늘리면 비용 얼마나 늘어?")."""
    _, estimate_change, missing = _cost_functions()
    if estimate_change is None:
        return ("비용을 계산할 수 없습니다: " if language == "ko" else "cost is unavailable: ") + str(missing), f"cost unavailable: {missing}"
    try:
        after = apply_changes(spec, changes)
    except SpecError as exc:
        return str(exc), None
    lines, source = [], ""
    for env in envs:
        try:
            est = estimate_change(spec, after, env)
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return ("비용을 계산할 수 없습니다: " if language == "ko" else "cost is unavailable: ") + reason, f"cost unavailable: {reason}"
        source = est.source
        delta = est.monthly_delta
        sign = "+" if delta >= 0 else "-"
        if language == "ko":
            lines.append(f"{env}: 월 {_money(est.monthly_before)} → {_money(est.monthly_after)} ({sign}{_money(abs(delta))})")
        else:
            lines.append(f"{env}: {_money(est.monthly_before)} → {_money(est.monthly_after)} per month ({sign}{_money(abs(delta))})")
    what = ", ".join(f"{p.split('.', 2)[-1]} → {show(v)}" for p, v in changes.items())
    lead = f"{what}: " if what else ""
    return lead + "; ".join(lines) + (f" ({source})" if source else ""), None


def values_answer(spec: dict[str, Any], envs: list[str], suffixes: list[str], language: Language) -> str:
    lines = []
    for suffix in suffixes:
        parts = ", ".join(f"{env} {_value(spec, env, suffix)}" for env in envs)
        lines.append(f"{label(suffix, language)}: {parts}")
    return "; ".join(lines)
