"""Forecasts and optimisation: "다음 달 비용 예상하고 최적화 제안해줘".

Next month's cost comes from the spec (tools/forecast.py: the hours that month
has) and, when configured, from AWS Cost Explorer's own forecast
(tools/cost_explorer.py) shown beside it. Optimisation reads each
environment's metrics over the configured window (config/requests.yaml) and
turns sustained low use into right-sizing suggestions (tools/rightsizing.py):
each is a spec change with its monthly saving, listed, never applied. "S1
적용해줘" in the same thread makes it a change, with its approvals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agents.conversation.words import settings_of
from agents.planning.clarify import Language
from agents.planning.resolve import RulesPlan, note
from graphs.errors import CloudDoctorError
from graphs.state import AgentNote, CostForecast, SpecChange, Suggestion
from tools.forecast import forecast_spec, next_month
from tools.rightsizing import suggest


def _money(value: float) -> str:
    return f"${value:,.2f}"


async def read_window(world: Any, name: str, minutes: float) -> list[tuple[str, float]]:
    """A metric over the last `minutes`: a live world asks CloudWatch for that window (hourly points); a recording is
    its own window."""
    config = getattr(world, "metrics", None)
    if getattr(world, "name", "") != "recorded" and config is not None and hasattr(config, "query_for"):
        found = config.query_for(name)
        if found is None:
            return []
        from tools.cloud_metrics import fetch_metric

        query, subject = found
        window = config.model_copy(update={"window_minutes": int(minutes), "period_seconds": 3600, "max_points": int(minutes // 60) + 1})
        return await fetch_metric(query, subject, window, endpoint_url=getattr(world, "cloudwatch_endpoint", None),
                                  region=getattr(world, "region", None))
    return list(await world.read_metric(name))


def _metric_names(spec: dict[str, Any], env: str, config_dir: Any) -> dict[str, str]:
    """tools/rightsizing.py's keys ("eks.cpu", "ec2.management.cpu") -> the metric names config/requests.yaml gives them."""
    table = (settings_of("requests", config_dir).get("conditions") or {}).get("metrics") or {}
    project = spec.get("project", "")
    out: dict[str, str] = {}
    for component in ("eks", "rds", "redis"):
        for kind, template in (table.get(component) or {}).items():
            out[f"{component}.{kind}"] = template.format(project=project, env=env, name="")
    for name in sorted(((spec.get("environments") or {}).get(env) or {}).get("ec2") or {}):
        for kind, template in (table.get("ec2") or {}).items():
            out[f"ec2.{name}.{kind}"] = template.format(project=project, env=env, name=name)
    return out


async def suggestions_for(world: Any, spec: dict[str, Any], envs: list[str], config_dir: Any) -> tuple[list[Suggestion], list[str]]:
    """Right-sizing suggestions for the environments, and what could not be read."""
    limits = settings_of("requests", config_dir).get("rightsizing") or {}
    minutes = float(limits.get("window_days", 14)) * 24 * 60
    out: list[Suggestion] = []
    missing: list[str] = []
    for env in envs:
        values: dict[str, list[float]] = {}
        for key, name in _metric_names(spec, env, config_dir).items():
            try:
                points = await read_window(world, name, minutes)
            except CloudDoctorError as exc:
                missing.append(f"{name}: {str(exc).splitlines()[0]}")
                continue
            if points:
                values[key] = [float(v) for _, v in points]
        if not values:
            missing.append(f"{env}: no metrics")
        out += suggest(spec, env, values, limits, start=len(out) + 1)
    return out, missing


def _cost_explorer(settings: Any, forecast: CostForecast, start: Any, end: Any) -> tuple[CostForecast, list[AgentNote]]:
    if not settings.cost_explorer:
        return forecast.model_copy(update={"cost_explorer_note": "not asked (set CLOUD_DOCTOR_COST_EXPLORER=1 to compare)"}), []
    from tools.cost_explorer import cost_forecast

    total = 0.0
    try:
        for env in forecast.by_environment:
            amount, _ = cost_forecast(start, end, env, endpoint_url=settings.cost_explorer_url)
            total += amount
    except CloudDoctorError as exc:
        why = str(exc).splitlines()[0]
        return forecast.model_copy(update={"cost_explorer_note": f"not read: {why}"}), [note(f"Cost Explorer: {why}", "warning")]
    return forecast.model_copy(update={"cost_explorer": round(total, 2),
                                       "cost_explorer_note": "AWS Cost Explorer, unblended, by the Environment tag"}), []


def answer_text(forecast: CostForecast | None, suggestions: list[Suggestion], missing: list[str], optimize: bool,
                language: Language) -> str:
    parts: list[str] = []
    if forecast is not None:
        per_env = ", ".join(f"{env} {_money(v)}" for env, v in forecast.by_environment.items())
        if language == "ko":
            parts.append(f"다음 달({forecast.period}, {forecast.hours:g}시간) 예상 비용: {per_env}, 합계 {_money(forecast.total)} (스펙 기준, 사용량 요금 제외)")
            if forecast.cost_explorer is not None:
                parts.append(f"Cost Explorer 예측: {_money(forecast.cost_explorer)}")
        else:
            parts.append(f"Next month ({forecast.period}, {forecast.hours:g} hours): {per_env}, total {_money(forecast.total)} "
                         "(from the spec; usage-based charges not counted)")
            if forecast.cost_explorer is not None:
                parts.append(f"Cost Explorer forecasts {_money(forecast.cost_explorer)}")
    if optimize:
        saving = sum(s.monthly_saving for s in suggestions)
        if suggestions:
            listed = "; ".join(f"{s.id} {s.title} (월 {_money(s.monthly_saving)} 절감, {s.evidence})" if language == "ko"
                               else f"{s.id} {s.title} (saves {_money(s.monthly_saving)}/month; {s.evidence})" for s in suggestions)
            parts.append((f"최적화 제안 {len(suggestions)}건, 모두 적용하면 월 {_money(saving)} 절감: {listed}. 적용은 'S1 적용해줘'처럼 "
                          "말해 주세요 (변경마다 승인 필요)") if language == "ko" else
                         (f"{len(suggestions)} suggestion(s), {_money(saving)}/month together: {listed}. Say 'apply S1' to make one "
                          "a change (each needs its approvals)"))
        else:
            parts.append("지표로 보아 줄일 만한 곳이 없습니다" if language == "ko" else "the metrics show nothing to right-size")
        if missing:
            parts.append(("읽지 못한 지표: " if language == "ko" else "metrics not read: ") + "; ".join(missing[:5]))
    return ". ".join(parts) + "."


async def plan_costs(ctx: Any, spec: dict[str, Any], envs: list[str], now: datetime, forecast: bool, optimize: bool,
                     language: Language) -> RulesPlan:
    from tools.policy import default_policy

    notes: list[AgentNote] = []
    period, start, end, hours = next_month(now, default_policy().timezone)
    projected: CostForecast | None = None
    if forecast or optimize:
        try:
            projected = forecast_spec(spec, envs, period, hours)
        except CloudDoctorError as exc:
            notes.append(note(f"forecast unavailable: {str(exc).splitlines()[0]}", "limitation"))
        if projected is not None:
            projected, more = _cost_explorer(ctx.settings, projected, start, end)
            notes += more
    suggestions: list[Suggestion] = []
    missing: list[str] = []
    if optimize:
        suggestions, missing = await suggestions_for(ctx.world, spec, envs, ctx.settings.config_dir)
        if missing:
            notes.append(note("right-sizing: " + "; ".join(missing[:5]), "limitation"))
    environment = envs[0] if len(envs) == 1 else ("all" if len(envs) == len(spec.get("environments") or {}) else None)
    change = SpecChange(intent="query", task="forecast", environment=environment, forecast=projected,  # type: ignore[arg-type]
                        suggestions=suggestions, answer=answer_text(projected, suggestions, missing, optimize, language),
                        rationale="forecast from the spec" + (" and right-sizing from the metrics" if optimize else ""))
    return RulesPlan(change, notes, None)


__all__ = ["answer_text", "plan_costs", "read_window", "suggestions_for"]
