"""Batch replay: recorded incidents and requests through the live graph, offline.

Scenarios run concurrently under a bound, with a progress bar; a file that
fails to load or a run that crashes is reported as such and the others go
on. Results go to JSONL (one line per scenario) and a readable report.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from config.settings import Settings, get_settings
from evals.scenario import Scenario, find_scenarios, load_scenario
from graphs.errors import CloudDoctorError
from graphs.runner import RunOutcome, run_scenario
from tools.redact import redact_value


class ReplayItem(BaseModel):
    path: str
    scenario: Scenario | None = None
    outcome: RunOutcome | None = None
    error: str | None = None


MemoryFactory = Callable[[Scenario], Any]


async def replay_scenarios(paths: list[Path], settings: Settings, *, concurrency: int = 4,
                           memory_for: MemoryFactory | None = None,
                           on_done: Callable[[ReplayItem], None] | None = None) -> list[ReplayItem]:
    """Replay every scenario file; never lets one failure stop the rest."""
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
                    item.outcome = await run_scenario(item.scenario, settings, memory=memory)
                except Exception as exc:  # a crash in one scenario is a result, not the end of the replay
                    item.error = f"run crashed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    item.outcome = None
        if on_done:
            on_done(item)
        return item

    return list(await asyncio.gather(*(one(p) for p in paths)))


def run_with_progress(path: Path, settings: Settings, *, concurrency: int, memory_for: MemoryFactory | None,
                      console: Console, label: str = "replaying") -> list[ReplayItem]:
    paths = find_scenarios(path)
    progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[last]}"), console=console, transient=True, disable=not console.is_terminal)
    with progress:
        task = progress.add_task(label, total=len(paths), last="")

        def done(item: ReplayItem) -> None:
            name = item.scenario.id if item.scenario else Path(item.path).name
            progress.update(task, advance=1, last=f"{name}: {item.outcome.status if item.outcome else 'error'}")

        return asyncio.run(replay_scenarios(paths, settings, concurrency=concurrency, memory_for=memory_for, on_done=done))


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


def replay_command(path: Path, *, out: Path, concurrency: int, use_memory: bool, as_json: bool, console: Console) -> None:
    from evals.report import render_replay_html, render_replay_markdown
    from interfaces.memory_eval import memory_factory

    settings = get_settings()
    memory_for = memory_factory(settings, path) if use_memory else None
    items = run_with_progress(path, settings, concurrency=concurrency, memory_for=memory_for, console=console)
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
    }
    if as_json:
        console.print_json(json.dumps(summary))
        return
    from rich.markdown import Markdown

    console.print(Markdown(render_replay_markdown(items, details=False)))
    console.print(f"\n[bold]{summary['completed']}/{summary['scenarios']} replayed[/], {summary['errors']} error(s) · "
                  f"results {results} · report {out / 'report.md'} and {out / 'report.html'}")


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts
