"""The eval with and without the model, side by side, and what the model cost per scenario.

Pure: two lists of scores in, rows out. The headline says whether the model
helps on this set; the per-scenario rows say what it cost and where it
changed the answer.
"""

from __future__ import annotations

from typing import Any

from evals.scoring import EvalSummary, ScenarioScore

HEADLINE = ("scenarios", "passed", "root_cause_top1", "root_cause_top3", "forbidden_violations", "errors")


def compare_with_model(without: EvalSummary, with_model: EvalSummary, scores_without: list[ScenarioScore],
                       scores_with: list[ScenarioScore], models: dict[str, str]) -> dict[str, Any]:
    before = {s.scenario_id: s for s in scores_without}
    rows = []
    for s in scores_with:
        rules = before.get(s.scenario_id)
        rows.append({
            "scenario": s.scenario_id, "calls": s.calls, "failed_calls": s.failed_calls, "tokens": s.tokens, "cost_usd": s.cost_usd,
            "decided_by": s.decided_by, "rules": rules.predicted if rules else None, "with_model": s.predicted,
            "passed_rules": rules.passed if rules else None, "passed_with_model": s.passed,
        })
    used = [r for r in rows if r["calls"] or r["failed_calls"]]
    return {
        "models": models,
        "without model": without.model_dump(include=set(HEADLINE)),
        "with model": with_model.model_dump(include=set(HEADLINE)),
        "model": {
            "scenarios_using_it": len(used),
            "calls": sum(r["calls"] for r in rows), "failed_calls": sum(r["failed_calls"] for r in rows),
            "tokens": sum(r["tokens"] for r in rows), "cost_usd": round(sum(r["cost_usd"] for r in rows), 6),
            "calls_per_scenario": round(sum(r["calls"] for r in used) / len(used), 2) if used else 0.0,
            "cost_per_scenario_usd": round(sum(r["cost_usd"] for r in used) / len(used), 6) if used else 0.0,
            "decided_by_model": sum(1 for r in rows if r["decided_by"] == "llm"),
            "changed_answers": [r["scenario"] for r in rows if r["rules"] != r["with_model"]],
        },
        "per_scenario": rows,
    }


def render_model_section(rows: dict[str, Any]) -> list[str]:
    """Markdown lines: the side-by-side headline, then tokens, calls and cost per scenario."""
    a, b = rows["without model"], rows["with model"]
    lines = ["", "## With and without the model", "",
             "models: " + "; ".join(f"{role} {m}" for role, m in rows["models"].items()), "",
             "| metric | without model | with model |", "|---|---|---|"]
    for name in HEADLINE:
        lines.append(f"| {name} | {_fmt(a.get(name))} | {_fmt(b.get(name))} |")
    m = rows["model"]
    lines += ["", f"{m['calls']} model call(s) ({m['failed_calls']} failed) in {m['scenarios_using_it']} scenario(s), "
              f"{m['tokens']} tokens, ${m['cost_usd']:.4f}; per scenario that used it {m['calls_per_scenario']} call(s), "
              f"${m['cost_per_scenario_usd']:.4f}; decided by the model: {m['decided_by_model']}; "
              f"answers changed: {', '.join(m['changed_answers']) or 'none'}",
              "", "| scenario | calls | failed | tokens | cost | decided by | rules | with model |", "|---|---|---|---|---|---|---|---|"]
    for r in rows["per_scenario"]:
        if not (r["calls"] or r["failed_calls"]):
            continue
        lines.append(f"| {r['scenario']} | {r['calls']} | {r['failed_calls']} | {r['tokens']} | ${r['cost_usd']:.4f} | "
                     f"{r['decided_by'] or ''} | {r['rules'] or ''} | {r['with_model'] or ''} |")
    return lines


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1%}" if isinstance(value, float) else str(value)
