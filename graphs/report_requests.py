"""Report sections for what a request asks beyond one change: parts, conditions, stages, schedules, costs, drift.

Pure functions of the state, beside graphs/report.py, so a compound request
shows each part with the words it came from, a conditional one shows the
condition and what it was judged against, and a staged delivery shows its
gates.
"""

from __future__ import annotations

from graphs.state import OpsState, StageGate


def _money(value: float) -> str:
    return f"${value:,.2f}"


def request_sections(state: OpsState) -> list[str]:
    change = state.get("spec_change")
    if change is None:
        return []
    out: list[str] = []
    if len(change.parts) > 1 or any(p.question for p in change.parts):
        out.append("\n### Parts of the request")
        for index, part in enumerate(change.parts, 1):
            if part.changes:
                done = ", ".join(f"`{k}` → `{v}`" for k, v in part.changes.items())
                out.append(f"{index}. “{part.words}” → {done}" + (f" (answer: “{part.answer}”)" if part.answer else ""))
            elif part.question:
                out.append(f"{index}. “{part.words}” → asks: {part.question}")
            else:
                out.append(f"{index}. “{part.words}” → nothing to change")
    condition = change.condition
    if condition is not None:
        verdict = {True: "met", False: "NOT met", None: "not checked"}[condition.met]
        observed = f" (observed {condition.observed:g})" if condition.observed is not None else ""
        out.append("\n### Condition")
        out.append(f"- “{condition.words}”: {condition.subject}{' ' + condition.metric if condition.metric else ''} "
                   f"{condition.operator} {condition.threshold:g} — {verdict}{observed}" + (f"; {condition.detail}" if condition.detail else ""))
    if len(change.stages) > 1:
        out.append("\n### Stages")
        out.append("- " + " → ".join(change.stages) + ": one change per environment; each waits for its own approvals and "
                   "windows, and for the environment before it to stay healthy (config/stages.yaml)")
    if change.schedule is not None:
        schedule = change.schedule
        what = schedule.text or "backup"
        out.append("\n### Schedule")
        out.append(f"- {schedule.kind}: `{schedule.cron}` ({schedule.timezone}) — {what}"
                   + (f" (registered as {schedule.id})" if schedule.id else ""))
    if change.forecast is not None:
        forecast = change.forecast
        out.append("\n### Forecast")
        per_env = ", ".join(f"{env} {_money(v)}" for env, v in forecast.by_environment.items())
        out.append(f"- {forecast.period} ({forecast.hours:g} hours): {_money(forecast.total)} from the spec ({per_env}); {forecast.source}")
        if forecast.cost_explorer is not None:
            out.append(f"- Cost Explorer forecast: {_money(forecast.cost_explorer)}" + (f" ({forecast.cost_explorer_note})" if forecast.cost_explorer_note else ""))
        elif forecast.cost_explorer_note:
            out.append(f"- Cost Explorer: {forecast.cost_explorer_note}")
    if change.suggestions:
        out.append("\n### Suggestions (not applied: say which to apply, each needs its approvals)")
        for s in change.suggestions:
            paths = ", ".join(f"`{k}` → `{v}`" for k, v in s.changes.items())
            out.append(f"- {s.id}: {s.title} — saves about {_money(s.monthly_saving)}/month ({paths}); {s.evidence}")
    if change.drift is not None:
        drift = change.drift
        out.append(f"\n### Drift ({drift.environment}; {drift.source})")
        if not drift.items:
            out.append("- none: the infrastructure matches what Terraform last applied")
        for item in drift.items:
            attrs = "; ".join(f"{a.name}: {a.spec_value!r} → {a.actual!r}" + (f" (spec {a.spec_path})" if a.spec_path else "")
                              for a in item.attributes)
            out.append(f"- {item.address} ({item.action}): {attrs or 'changed'}")
        if drift.choice:
            out.append(f"- chosen: {drift.choice}")
    return out


def gate_section(state: OpsState, waiting: StageGate | None = None) -> list[str]:
    gates = list(state.get("stage_gates") or [])
    if waiting is not None:
        gates.append(waiting)
    if not gates:
        return []
    out = ["\n### Stage gates"]
    for gate in gates:
        when = f" (not before {gate.not_before:%Y-%m-%d %H:%M} UTC)" if gate.not_before and gate.status == "waiting" else ""
        out.append(f"- {gate.environment} → {gate.next_environment}: {gate.status}{when} — {gate.detail}")
        out += [f"  - {c}" for c in gate.checks]
    return out
