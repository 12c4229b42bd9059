"""`cloud-doctor incidents add|search|import|stats`: the incident memory from a terminal.

Input is checked before the store opens, so a typo answers at once with one
line (exit 2) instead of after the embedding model has loaded.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from config.settings import Settings, get_settings
from graphs.errors import CloudDoctorError, NotFoundError, UserInputError

app = typer.Typer(help="Past incidents the diagnostician learns from: add, search, import, stats.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def _verbose() -> bool:
    main = sys.modules.get("interfaces.cli")
    return bool(main and getattr(main, "STATE", {}).get("verbose"))


def _one_line_errors(func: F) -> F:
    """Named errors become one line on stderr and their exit code, also when this app runs alone."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CloudDoctorError as exc:
            if _verbose():
                raise
            err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _store(settings: Settings) -> Any:
    from memory.incidents import open_incident_store

    return open_incident_store(settings)


def _record_from_flags(settings: Settings, *, file: Optional[Path], incident_id: Optional[str], title: Optional[str],
                       summary: str, root_cause: Optional[str], evidence: list[str], fix: str, fix_kind: Optional[str],
                       outcome: str, environment: Optional[str]) -> Any:
    from memory.incidents import parse_incident

    if file is not None:
        if not file.is_file():
            raise NotFoundError(f"incident file not found: {file}")
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserInputError(f"{file}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except UnicodeDecodeError:
            raise UserInputError(f"{file}: not a UTF-8 text file") from None
        return parse_incident(raw, settings, where=str(file), default_source="manual")
    if not title or not root_cause:
        raise UserInputError("give --title and --root-cause (or --file INCIDENT.json)")
    raw: dict[str, Any] = {"title": title, "summary": summary, "root_cause": root_cause, "evidence": evidence,
                           "fix": fix, "outcome": outcome}
    for key, value in (("id", incident_id), ("fix_kind", fix_kind), ("environment", environment)):
        if value:
            raw[key] = value
    return parse_incident(raw, settings, where="incident", default_source="manual")


@app.command("add")
@_one_line_errors
def add(
    title: Optional[str] = typer.Option(None, "--title", help="one line: what happened"),
    summary: str = typer.Option("", "--summary", help="what was seen (alert, symptoms)"),
    root_cause: Optional[str] = typer.Option(None, "--root-cause", help="a taxonomy category, e.g. memory_leak"),
    fix: str = typer.Option("", "--fix", help="what fixed it"),
    outcome: str = typer.Option("", "--outcome", help="how the fix went"),
    evidence: list[str] = typer.Option([], "--evidence", help="a piece of evidence (repeatable)"),
    fix_kind: Optional[str] = typer.Option(None, "--fix-kind", help="terraform | code_patch | command | none"),
    environment: Optional[str] = typer.Option(None, "--environment", "-e", help="dev | staging | prod"),
    incident_id: Optional[str] = typer.Option(None, "--id", help="an id to upsert (default: derived from the text)"),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="one incident as a JSON object instead of flags"),
) -> None:
    """Remember one resolved incident."""
    settings = get_settings()
    record = _record_from_flags(settings, file=file, incident_id=incident_id, title=title, summary=summary,
                                root_cause=root_cause, evidence=evidence, fix=fix, fix_kind=fix_kind, outcome=outcome,
                                environment=environment)
    store = _store(settings)
    stored = store.add(record)
    console.print(f"added {stored.id} ({stored.root_cause}) to {store.location}", highlight=False, markup=False,
                  soft_wrap=True)


@app.command("search")
@_one_line_errors
def search(
    text: str = typer.Argument(..., help="symptoms, an alert summary, log lines"),
    k: int = typer.Option(3, "-k", "--k", min=1, max=50, help="how many incidents"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Find the past incidents most similar to TEXT."""
    if not text.strip():
        raise UserInputError("give some text to search for")
    hits = _store(get_settings()).search(text, k=k)
    if as_json:
        console.print_json(json.dumps([h.model_dump(mode="json") for h in hits]))
        return
    if not hits:
        console.print("no incidents stored yet: add some with `cloud-doctor incidents import PATH`")
        return
    for h in hits:  # a short block per incident reads at any terminal width, unlike a wide table
        console.print(f"[bold]{h.score:.2f}[/]  {escape(h.id)}  [cyan]{h.root_cause}[/]  {escape(h.title)}",
                      highlight=False, soft_wrap=True)
        for label, value in (("fix", h.fix), ("outcome", h.outcome)):
            if value:
                console.print(f"      {label}: {escape(value)}", highlight=False, soft_wrap=True)


@app.command("import")
@_one_line_errors
def import_(
    path: Path = typer.Argument(..., help="a .jsonl file of incidents, or a scenario .yaml file or folder"),
) -> None:
    """Import incidents from JSONL, or from labelled incident scenarios (expected.root_cause)."""
    from memory.incidents import read_incidents

    settings = get_settings()
    records, summary = read_incidents(path, settings)  # every input problem surfaces before the model loads
    store = _store(settings)
    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("import", total=len(records))
        store.add_many(records, on_progress=lambda done, total: progress.update(task, completed=done))
    skipped = f", {summary.skipped} skipped (not labelled incidents)" if summary.skipped else ""
    console.print(f"imported {len(records)} incidents from {path}{skipped}; {store.count()} stored in {store.location}",
                  highlight=False, markup=False, soft_wrap=True)


@app.command("stats")
@_one_line_errors
def stats(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """How many incidents are stored, per root cause and source."""
    figures = _store(get_settings()).stats()
    if as_json:
        console.print_json(json.dumps(figures))
        return
    console.print(f"{figures['count']} incidents in {figures['store']}", highlight=False, markup=False, soft_wrap=True)
    if figures["root_causes"]:
        table = Table("root cause", "incidents")
        for cause, n in figures["root_causes"].items():
            table.add_row(cause, str(n))
        console.print(table)
        console.print("sources: " + ", ".join(f"{s} {n}" for s, n in figures["sources"].items()), highlight=False)
