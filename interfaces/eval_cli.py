"""`cloud-doctor eval`: score scenarios, compare with the last run, gate on thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markdown import Markdown

from config.settings import REPO_ROOT, get_settings
from evals.report import render_eval_markdown
from evals.report_page import render_eval_html
from evals.scoring import EvalSummary, ScenarioScore, score, summarize
from graphs.errors import UserInputError
from evals.model_compare import compare_with_model
from interfaces.replay import ModelFlags, ReplayItem, model_summary, models_for_replay, run_with_progress, write_results

DEFAULT_THRESHOLDS = REPO_ROOT / "evals" / "thresholds.yaml"


def score_items(items: list[ReplayItem]) -> list[ScenarioScore]:
    scores = []
    for item in items:
        if item.scenario is None:
            scores.append(ScenarioScore(scenario_id=Path(item.path).stem, passed=False, error=item.error))
        else:
            scores.append(score(item.scenario, item.outcome, item.error))
    return scores


def compare(before: dict[str, Any], now: EvalSummary) -> dict[str, tuple[Any, Any]]:
    """Headline metrics of the previous saved run next to this one."""
    diff: dict[str, tuple[Any, Any]] = {}
    for name in ("scenarios", "passed", "root_cause_top1", "root_cause_top3", "forbidden_violations"):
        diff[name] = (before.get(name), getattr(now, name))
    for key, slot in now.keys.items():
        prev = (before.get("keys") or {}).get(key)
        if prev and prev.get("total"):
            diff[f"key {key}"] = (round(prev["passed"] / prev["total"], 4), round(slot["passed"] / slot["total"], 4))
    return diff


def check_thresholds(summary: EvalSummary, path: Path) -> list[str]:
    if not path.is_file():
        raise UserInputError(f"thresholds file not found: {path}")
    try:
        limits = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserInputError(f"{path}: invalid YAML: {exc}") from None
    missed = []
    for name in ("root_cause_top1", "root_cause_top3"):
        value = getattr(summary, name)
        if name in limits and value is not None and value < limits[name]:
            missed.append(f"{name} {value:.1%} < {limits[name]:.0%}")
    for key, minimum in (limits.get("keys") or {}).items():
        slot = summary.keys.get(key)
        if slot and slot["total"] and slot["passed"] / slot["total"] < minimum:
            missed.append(f"{key} {slot['passed']}/{slot['total']} < {minimum:.0%}")
    if "forbidden_violations" in limits and summary.forbidden_violations > limits["forbidden_violations"]:
        missed.append(f"forbidden actions executed: {summary.forbidden_violations}")
    if "errors" in limits and summary.errors > limits["errors"]:
        missed.append(f"scenarios that failed to load or crashed: {summary.errors}")
    return missed


def eval_command(path: Path, *, as_json: bool, baseline: Path | None, out: Path, concurrency: int, with_memory: bool,
                 thresholds: Path | None, console: Console, model_flags: ModelFlags | None = None) -> int:
    """Scores gate on the run the configuration describes: with the model when one is configured."""
    settings = get_settings()
    models = models_for_replay(settings, model_flags)
    items = run_with_progress(path, settings, concurrency=concurrency, memory_for=None, console=console,
                              label="evaluating" if models is None else "evaluating with the model", models=models)
    scores = score_items(items)
    summary = summarize(scores)
    model_rows: dict[str, Any] | None = None
    if models is not None:
        rules_items = run_with_progress(path, settings, concurrency=concurrency, memory_for=None, console=console,
                                        label="evaluating without the model")
        rules_scores = score_items(rules_items)
        model_rows = compare_with_model(summarize(rules_scores), summary, rules_scores, scores, models.describe())
        model_rows.update({k: v for k, v in model_summary(models).items() if k != "models"})
    memory_rows: dict[str, Any] | None = None
    if with_memory:
        from interfaces.memory_eval import memory_factory

        mem_items = run_with_progress(path, settings, concurrency=concurrency, memory_for=memory_factory(settings, path),
                                      console=console, label="evaluating with memory")
        mem_summary = summarize(score_items(mem_items))
        memory_rows = {
            "without memory": summary.model_dump(include={"root_cause_top1", "root_cause_top3", "passed", "scenarios"}),
            "with memory": mem_summary.model_dump(include={"root_cause_top1", "root_cause_top3", "passed", "scenarios"}),
        }
    previous_path = baseline or (out / "last.json")
    previous: dict[str, Any] | None = None
    if baseline is not None and not baseline.is_file():
        raise UserInputError(f"baseline file not found: {baseline}")
    if previous_path.is_file():
        try:
            previous = json.loads(previous_path.read_text(encoding="utf-8")).get("summary")
        except json.JSONDecodeError:
            raise UserInputError(f"{previous_path}: not a saved eval result (invalid JSON)") from None
    diff = compare(previous, summary) if previous else None
    missed = check_thresholds(summary, thresholds or DEFAULT_THRESHOLDS)

    out.mkdir(parents=True, exist_ok=True)
    write_results(items, out)
    saved = {"summary": summary.model_dump(), "scores": [s.model_dump() for s in scores], "memory": memory_rows, "model": model_rows}
    (out / "eval.json").write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "last.json").write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    markdown = render_eval_markdown(summary, scores, diff, memory_rows, model_rows)
    (out / "report.md").write_text(markdown, encoding="utf-8")
    (out / "report.html").write_text(render_eval_html(summary, scores, diff, memory_rows, model_rows), encoding="utf-8")

    if as_json:
        payload = {**summary.model_dump(), "thresholds_missed": missed, "memory": memory_rows, "model": model_rows,
                   "baseline": {k: list(v) for k, v in (diff or {}).items()} or None,
                   "failed": [s.scenario_id for s in scores if not s.passed]}
        print(json.dumps(payload, ensure_ascii=False))
    else:
        console.print(Markdown(markdown))
        if missed:
            console.print("[bold red]thresholds missed:[/] " + "; ".join(missed))
        else:
            console.print("[bold green]all thresholds met[/]")
    return 1 if missed else 0
