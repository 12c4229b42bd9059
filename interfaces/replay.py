"""Batch replay: recorded incidents and requests through the live graph, offline.

Scenarios run concurrently under a bound, with a progress bar; a file that
fails to load or a run that crashes is reported as such and the others go
on. Results go to JSONL (one line per scenario) and a readable report.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from config.settings import Settings, get_settings
from evals.scenario import Scenario, find_scenarios, load_scenario
from graphs.errors import CloudDoctorError, UserInputError
from graphs.runner import RunOutcome, run_scenario
from tools.redact import redact_value


class ReplayItem(BaseModel):
    path: str
    scenario: Scenario | None = None
    outcome: RunOutcome | None = None
    error: str | None = None


MemoryFactory = Callable[[Scenario], Any]


@dataclass(frozen=True)
class ModelFlags:
    """--models, --record-llm, --replay-llm: which models a replay runs with, and whether their exchanges are recorded."""

    models_file: Path | None = None
    record_llm: Path | None = None
    replay_llm: Path | None = None


def models_for_replay(settings: Settings, flags: ModelFlags | None) -> Any:
    """A ModelRouter for the flags (or the configured models.yaml), or None when every role is `none`."""
    from agents.llm import ModelRouter

    flags = flags or ModelFlags()
    if flags.record_llm and flags.replay_llm:
        raise UserInputError("--record-llm and --replay-llm exclude each other: record a session, then replay it")
    if flags.models_file is not None and not flags.models_file.is_file():
        raise UserInputError(f"--models {flags.models_file}: file not found")
    if flags.replay_llm is not None and not (flags.replay_llm / "runs").is_dir():
        raise UserInputError(f"--replay-llm {flags.replay_llm}: no recorded model sessions there (expected runs/*.jsonl)")
    update = {k: v for k, v in {"models_file": flags.models_file, "record_llm": flags.record_llm, "replay_llm": flags.replay_llm}.items() if v}
    router = ModelRouter.from_settings(settings.model_copy(update=update) if update else settings)
    return router if any(router.available(role) for role in router.config.roles) else None


async def replay_scenarios(paths: list[Path], settings: Settings, *, concurrency: int = 4,
                           memory_for: MemoryFactory | None = None,
                           on_done: Callable[[ReplayItem], None] | None = None, models: Any = None) -> list[ReplayItem]:
    """Replay every scenario file; never lets one failure stop the rest. Each run gets its own model clock and usage."""
    bound = asyncio.Semaphore(concurrency)

    async def one(path: Path) -> ReplayItem:
        item = ReplayItem(path=str(path))
        try:
            item.scenario = load_scenario(path)
        except CloudDoctorError as exc:
            item.error = f"load failed: {exc}"
        if item.scenario is not None:
            async with bound:
                try:
                    memory = memory_for(item.scenario) if memory_for else None
                    run_models = models.for_run(item.scenario.id) if models is not None else None
                    item.outcome = await run_scenario(item.scenario, settings, memory=memory, models=run_models)
                except Exception as exc:  # a crash in one scenario is a result, not the end of the replay
                    item.error = f"run crashed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    item.outcome = None
        if on_done:
            on_done(item)
        return item

    return list(await asyncio.gather(*(one(p) for p in paths)))


def run_with_progress(path: Path, settings: Settings, *, concurrency: int, memory_for: MemoryFactory | None,
                      console: Console, label: str = "replaying", models: Any = None) -> list[ReplayItem]:
    paths = find_scenarios(path)
    progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[last]}"), console=console, transient=True, disable=not console.is_terminal)
    with progress:
        task = progress.add_task(label, total=len(paths), last="")

        def done(item: ReplayItem) -> None:
            name = item.scenario.id if item.scenario else Path(item.path).name
            progress.update(task, advance=1, last=f"{name}: {item.outcome.status if item.outcome else 'error'}")

        return asyncio.run(replay_scenarios(paths, settings, concurrency=concurrency, memory_for=memory_for, on_done=done, models=models))


def write_results(items: list[ReplayItem], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            record = {
                "path": item.path,
                "scenario_id": item.scenario.id if item.scenario else None,
                "title": item.scenario.title if item.scenario else None,
                "error": item.error,
                "outcome": item.outcome.model_dump(mode="json") if item.outcome else None,
            }
            fh.write(json.dumps(redact_value(record), ensure_ascii=False) + "\n")
    return path


def model_summary(models: Any) -> dict[str, Any]:
    """Which model served each role, and how a replayed session went (for --json and the report)."""
    if models is None:
        return {"models": "none"}
    summary: dict[str, Any] = {"models": models.describe()}
    sessions = getattr(models, "sessions", None)
    if sessions is not None:
        summary["llm_sessions"] = {"mode": sessions.mode, "directory": str(sessions.directory), "hits": sessions.hits,
                                   "misses": len(sessions.misses)}
    return summary


def describe_models(summary: dict[str, Any]) -> str:
    models = summary.get("models")
    text = "models: " + ("none (rules, analyzers and templates)" if models == "none" else "; ".join(f"{r} {m}" for r, m in models.items()))
    sessions = summary.get("llm_sessions")
    if sessions:
        text += f" · model sessions {sessions['mode']}ed in {sessions['directory']}"
        if sessions["mode"] == "replay":
            text += f": {sessions['hits']} answered, {sessions['misses']} missed"
    return text


def replay_command(path: Path, *, out: Path, concurrency: int, use_memory: bool, as_json: bool, console: Console,
                   model_flags: ModelFlags | None = None) -> None:
    from evals.report import render_replay_html, render_replay_markdown
    from interfaces.memory_eval import memory_factory

    settings = get_settings()
    memory_for = memory_factory(settings, path) if use_memory else None
    models = models_for_replay(settings, model_flags)
    items = run_with_progress(path, settings, concurrency=concurrency, memory_for=memory_for, console=console, models=models)
    results = write_results(items, out)
    markdown = render_replay_markdown(items)
    (out / "report.md").write_text(markdown, encoding="utf-8")
    (out / "report.html").write_text(render_replay_html(items), encoding="utf-8")
    summary = {
        "scenarios": len(items),
        "completed": sum(1 for i in items if i.outcome is not None),
        "errors": sum(1 for i in items if i.error),
        "statuses": _count(i.outcome.status for i in items if i.outcome),
        "results": str(results), "report_md": str(out / "report.md"), "report_html": str(out / "report.html"),
        **model_summary(models),
    }
    if as_json:
        console.print_json(json.dumps(summary))
        return
    from rich.markdown import Markdown

    console.print(Markdown(render_replay_markdown(items, details=False)))
    console.print(describe_models(summary))
    console.print(f"\n[bold]{summary['completed']}/{summary['scenarios']} replayed[/], {summary['errors']} error(s) · "
                  f"results {results} · report {out / 'report.md'} and {out / 'report.html'}")


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts
