"""`cloud-doctor schedules`: the recurring checks people asked for, and removing one.

A schedule is made by asking ("매일 아침 9시에 prod 비용 확인해줘"); workers
start its runs when they are due. `run-due` does one round of that by hand
(for a deployment without workers, from cron).
"""

from __future__ import annotations

import json
import typer
from rich.console import Console
from rich.table import Table

from config.settings import get_settings

app = typer.Typer(help="Recurring checks (made by asking, run by workers when due).", invoke_without_command=True,
                  no_args_is_help=False)
console = Console()


@app.callback()
def list_schedules(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every schedule: when it runs next, what it runs, what it did last."""
    if ctx.invoked_subcommand is not None:
        return
    from graphs.schedules import open_schedules

    runs = open_schedules(get_settings()).list()
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in runs], ensure_ascii=False, indent=1))
        return
    if not runs:
        console.print("no schedules yet (ask for one: \"every day at 9 check prod's cost\")")
        return
    table = Table("id", "cron", "timezone", "environment", "runs", "next (UTC)", "last run", "check")
    for r in runs:
        table.add_row(r.id, r.schedule.cron, r.schedule.timezone, r.schedule.environment or "-", str(r.runs),
                      f"{r.next_run_at:%Y-%m-%d %H:%M}", r.last_thread or "-", r.schedule.text[:60])
    console.print(table)


@app.command("remove")
def remove(schedule_id: str = typer.Argument(..., help="the schedule's id (SCH-...)")) -> None:
    """Stop a schedule; runs it already started are not touched."""
    from graphs.schedules import open_schedules

    open_schedules(get_settings()).remove(schedule_id)
    console.print(f"removed {schedule_id}")


@app.command("run-due")
def run_due(as_json: bool = typer.Option(False, "--json")) -> None:
    """Queue the runs that are due now (what workers do every few seconds); workers run them."""
    from interfaces.queue.store import open_store
    from interfaces.scheduler import tick

    settings = get_settings()
    started = tick(open_store(settings), settings)
    print(json.dumps(started)) if as_json else console.print(f"queued {len(started)} run(s): {', '.join(started) or '-'}")

