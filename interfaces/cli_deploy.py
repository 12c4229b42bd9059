"""CLI commands for delivery: `deployments`, `rollback`, and `rollout demo`.

The logic lives in agents/delivery/desk.py (shared with Slack and the web
widget); this module only parses flags and prints.
"""

from __future__ import annotations

import asyncio
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from config.settings import get_settings
from graphs.errors import ConfigError
from graphs.state import UserRef
from tools.deployment_records import DeploymentRecord, DeploymentStatistics

app = typer.Typer(help="Progressive delivery: see a canary and a blue-green rollout work on this machine.",
                  no_args_is_help=True)
console = Console()


def _last_analysis(record: DeploymentRecord) -> str:
    if not record.analysis:
        return "-"
    last = record.analysis[-1]
    bad = [m for m in last.measurements if m.phase in ("failed", "error", "inconclusive")]
    return f"{last.phase}" + (f": {bad[0].metric} {bad[0].detail}" if bad else "")


def _statistics_line(stats: DeploymentStatistics) -> str:
    rate = f"{stats.success_rate:.0%}" if stats.success_rate is not None else "-"
    ttr = (f"time to roll back: mean {stats.rollback_seconds_mean:.1f}s, median {stats.rollback_seconds_median:.1f}s, "
           f"max {stats.rollback_seconds_max:.1f}s") if stats.rollback_seconds_mean is not None else "time to roll back: -"
    return (f"{stats.deployments} deployments ({stats.active} active): {stats.promoted} promoted, {stats.rolled_back} rolled back, "
            f"{stats.rollback_failed} rollback not verified, {stats.failed} failed; success rate {rate}; "
            f"{stats.rollbacks} rollbacks ({stats.automatic_rollbacks} automatic, {stats.manual_rollbacks} manual, "
            f"{stats.verified_rollbacks} verified); {ttr}")


def deployments(
    as_json: bool = typer.Option(False, "--json", help="print active and recent deployments and statistics as JSON"),
    env: Optional[str] = typer.Option(None, "--env", "-e", help="only this environment"),
    limit: int = typer.Option(30, "--limit", min=1, max=500),
) -> None:
    """Active and recent deployments with their stage, analysis and outcome; rollback statistics."""
    from agents.delivery.desk import list_deployments

    listing = list_deployments(get_settings(), limit=limit, environment=env)
    if as_json:
        console.print_json(listing.model_dump_json())
        return
    if not listing.active and not listing.recent:
        console.print("no deployments yet (try `cloud-doctor rollout demo`)")
        return
    for title, records in (("Active", listing.active), ("Recent", listing.recent)):
        if not records:
            continue
        table = Table("deployment", "service", "env", "strategy", "version", "status", "stage", "last analysis", "started",
                      title=title, title_justify="left")
        for r in records:
            table.add_row(r.id, r.service, r.environment, r.strategy, f"{r.previous_version} → {r.version}", r.status,
                          r.stage or "-", _last_analysis(r)[:60], f"{r.started_at:%Y-%m-%d %H:%M}")
        console.print(table)
    console.print(_statistics_line(listing.statistics))


def rollback(
    deployment: str = typer.Argument(..., help="the deployment id (see `cloud-doctor deployments`)"),
    reason: str = typer.Option(..., "--reason", help="why: shown to the approvers and kept with the deployment"),
    user: str = typer.Option("operator", "--as", help="who asks for the rollback"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Ask for a rollback; it runs after the policy's approvals (`cloud-doctor approve THREAD ...`)."""
    from agents.delivery.desk import request_rollback
    from graphs.checkpoints import open_checkpointer
    from interfaces.cli import _print_outcome
    from interfaces.context import build_context, close_context

    settings = get_settings()

    async def go():
        async with open_checkpointer(settings) as saver:
            ctx = build_context(settings, use_memory=False)
            try:
                return await request_rollback(ctx, saver, deployment, reason=reason, user=UserRef(id=user, name=user), door="cli")
            finally:
                await close_context(ctx)

    _print_outcome(asyncio.run(go()), as_json)


@app.command("demo")
def demo(
    as_json: bool = typer.Option(False, "--json", help="print the rollouts as JSON"),
    scale: float = typer.Option(0.025, "--time-scale", min=0.005, max=1.0,
                                help="policy seconds × this = real seconds (0.025: a 60 s interval takes 1.5 s)"),
) -> None:
    """Start nginx and the sample service on 127.0.0.1, roll out a good and a faulty version, show what happened."""
    from agents.delivery.demo import run_demo
    from agents.delivery.stage import NginxMissing
    from tools.deployments_store import open_deployment_store
    from tools.policy import default_policy

    settings = get_settings()
    policy = default_policy().delivery
    store = open_deployment_store(settings)
    say = None if as_json else (lambda text: console.print(text, highlight=False, markup=False))
    try:
        result = asyncio.run(run_demo(policy, store=store, scale=scale, on_event=say))
    except NginxMissing as exc:
        raise ConfigError(str(exc)) from None
    if as_json:
        console.print_json(result.model_dump_json())
    else:
        console.print()
        for r in result.rollouts:
            steps = " → ".join(f"{s.name} ({s.status})" for s in r.steps)
            colour = "green" if r.outcome == "promoted" else "yellow" if r.outcome == "rolled_back" else "red"
            console.print(f"[bold {colour}]{r.version} ({r.strategy}): {r.outcome}[/]{' (verified)' if r.verified else ' (NOT verified)'}"
                          f" — {r.deployment_id}")
            console.print(f"  stages: {steps}", highlight=False)
            console.print(f"  {r.detail}", highlight=False, markup=False)
        load = result.load
        console.print(f"\n{result.seconds:.1f}s; time ×{1 / result.time_scale:.0f}; load: {load.sent} requests "
                      f"({', '.join(f'{v}: {n}' for v, n in sorted(load.by_version.items()))}); "
                      "recorded: `cloud-doctor deployments`", highlight=False)
    if not result.as_expected:
        raise typer.Exit(1)


def register(parent: typer.Typer) -> None:
    """Add `deployments` and `rollback` to the top level and `rollout` as a group."""
    parent.command("deployments")(deployments)
    parent.command("rollback")(rollback)
    parent.add_typer(app, name="rollout")


__all__ = ["register", "app"]
