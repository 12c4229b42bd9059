"""`cloud-doctor logs ...`: the log compressor, for operators directly.

`cloud-doctor logs summarize /var/log/app.log` (or `-` for stdin) prints the
same digest the diagnostician gives an LLM: templates with counts, first and
last seen, errors first, redacted, within a token budget.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tools.logs import LogDigest, load_miner_settings, summarize_logs

app = typer.Typer(help="Compress logs to templates (what an LLM or a report gets to see).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _logs() -> None:
    """Compress logs to templates (what an LLM or a report gets to see)."""


LEVEL_STYLE = {"error": "bold red", "warn": "yellow", "info": "green", "debug": "dim", "unknown": ""}


def _lines(path: str) -> Iterator[str]:
    if path == "-":
        yield from sys.stdin
        return
    with open(path, encoding="utf-8", errors="replace") as handle:
        yield from handle


@app.command()
def summarize(
    path: str = typer.Argument(..., metavar="PATH|-", help="a log file, or - for standard input"),
    budget: int = typer.Option(None, "--budget", "-b", min=50, help="token budget of the digest (default: config/logs.yaml)"),
    as_json: bool = typer.Option(False, "--json", help="print the digest as JSON"),
) -> None:
    """Summarize a log file into templates: errors first, then warnings, then by count."""
    if path != "-" and not Path(path).is_file():
        what = "a directory, not a file" if Path(path).is_dir() else "not found"
        typer.echo(f"error: {path}: {what} (give a log file, or - to read standard input)", err=True)
        raise typer.Exit(2)
    budget = budget or load_miner_settings().budget_tokens
    source = "stdin" if path == "-" else f"file:{Path(path).resolve()}"
    try:
        digest = summarize_logs(_lines(path), budget_tokens=budget, source=source)
    except OSError as exc:
        typer.echo(f"error: cannot read {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(digest.model_dump_json(indent=2))
        return
    _print(digest)


def _print(digest: LogDigest) -> None:
    console = Console()
    console.print(f"[bold]{digest.source}[/]: {digest.total_lines:,} lines -> "
                  f"{digest.distinct_templates} templates, compression {digest.compression_ratio:,.0f}:1",
                  highlight=False)
    table = Table(show_lines=False, expand=False)
    table.add_column("id", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("first / last seen", no_wrap=True)
    table.add_column("template", overflow="fold", ratio=1)
    for t in digest.templates:
        style = LEVEL_STYLE.get(t.level, "")
        seen = t.first_seen if t.first_seen == t.last_seen else f"{t.first_seen}\n{t.last_seen}"
        table.add_row(t.id, f"[{style}]{t.level}[/]" if style else t.level, f"{t.count:,}",
                      seen, _escape(t.template))
    console.print(table)
    if digest.truncated:
        console.print(f"[dim]{digest.truncated} more templates ({digest.truncated_lines:,} lines) "
                      f"cut to fit {digest.budget_tokens} tokens; raise --budget to see them[/]")
    if digest.other_lines:
        console.print(f"[dim]{digest.other_lines:,} lines were over the template cap and are not shown[/]")


def _escape(text: str) -> str:
    return escape(text)
