"""`cloud-doctor prune`: forget door records older than the retention, now (workers do it every hour).

What goes: finished jobs, dedupe keys, resolved alert groups and the event
streams of runs that ended. What stays whatever its age: open runs, runs
waiting for an answer, the run registry and the audit trail.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import typer
from rich.console import Console

from config.settings import get_settings

console = Console()


def prune(older_than_days: int = typer.Option(None, "--older-than-days", min=1, max=3650,
                                              help="retention in days (default: the door_retention_days setting, 30)"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Prune door records older than the retention (finished jobs, dedupe keys, resolved alerts, ended runs' events)."""
    from interfaces.queue.store import open_store

    settings = get_settings()
    days = older_than_days or settings.door_retention_days
    pruned = open_store(settings).prune(datetime.now(timezone.utc) - timedelta(days=days))
    if as_json:
        print(json.dumps({"older_than_days": days, "pruned": pruned}))
        return
    console.print(f"pruned records older than {days} days: " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in pruned.items()))
