"""`cloud-doctor`: the command-line door.

Every command builds the same Request and runs the same graph as Slack and
the web widget. Errors print one line (exit 2 for bad input, 1 for
failures); `--verbose` shows the traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from config.settings import get_settings
from graphs.errors import CloudDoctorError, UserInputError
from graphs.state import ENVIRONMENTS, ApprovalDecision, Request, UserRef

app = typer.Typer(help="Cloud Doctor: diagnose, propose, approve and deploy fixes for cloud infrastructure.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
err = Console(stderr=True)
STATE = {"verbose": False}
CLICK_USAGE_ERRORS = {"UsageError", "BadParameter", "MissingParameter", "NoSuchOption", "BadOptionUsage", "BadArgumentUsage"}


def _register_subapps() -> None:
    """Sub-command groups live in their own modules; a missing one must not break the rest."""
    for module, name in (("interfaces.cli_logs", "logs"), ("interfaces.cli_incidents", "incidents"),
                         ("interfaces.cli_schedules", "schedules")):
        try:
            sub = __import__(module, fromlist=["app"]).app
        except ImportError:
            continue
        app.add_typer(sub, name=name)
    # single commands that live in their own modules
    for module, name in (("interfaces.cli_heal", "heal"), ("interfaces.cli_prune", "prune")):
        try:
            app.command(name)(getattr(__import__(module, fromlist=[name]), name))
        except ImportError:
            continue
    try:
        from interfaces.cli_deploy import register as register_delivery  # deployments, rollback, rollout demo
    except ImportError:
        return
    register_delivery(app)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="show tracebacks and debug logs")) -> None:
    STATE["verbose"] = verbose
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _environment(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise UserInputError(f"unknown environment {env!r}: use one of {', '.join(ENVIRONMENTS)}")
    return env


def _roles(roles: list[str]) -> list[str]:
    from tools.policy import default_policy

    known = default_policy().roles
    for role in roles:
        if role not in known:
            raise UserInputError(f"unknown role {role!r} (policy.yaml roles: {', '.join(known)})")
    return roles


def _print_outcome(outcome, as_json: bool) -> None:
    if as_json:
        console.print_json(outcome.model_dump_json(exclude={"evidence"}))
        return
    if outcome.report is not None:
        console.print(Markdown(outcome.report.markdown))
    pending = outcome.pending_approval
    if pending is not None:
        from tools.policy import describe_rules

        console.print(f"\n[bold yellow]Waiting for approval {pending.id}[/]: still needed {describe_rules(pending.still_needed)}")
        for rule in pending.still_needed:
            if rule.why:
                console.print(f"  why: {rule.why}")
        confirm = f" --confirm {pending.confirmation}" if pending.confirmation else ""
        console.print(f"  approve: [bold]cloud-doctor approve {outcome.thread_id} --as NAME --role ROLE{confirm}[/]")
        console.print(f"  reject:  [bold]cloud-doctor approve {outcome.thread_id} --as NAME --role ROLE --reject --reason '...'[/]")
    if outcome.question:
        console.print(f"\n[bold yellow]Question[/]: {escape(outcome.question)}")
        console.print(f"  answer: [bold]cloud-doctor ask 'YOUR ANSWER' --thread {outcome.thread_id}[/]")
    elif outcome.gate is not None:
        console.print(f"\n[bold yellow]Waiting for the stage gate[/]: {escape(outcome.gate.detail)}")
        console.print(f"  check again: [bold]cloud-doctor ask 'continue' --thread {outcome.thread_id}[/]")
    turn = f" · turn {outcome.turn}" if outcome.turn > 1 else ""
    console.print(f"[dim]thread {outcome.thread_id}{turn} · {outcome.status} · {outcome.wall_s:.2f}s · "
                  f"follow up: cloud-doctor ask '...' --thread {outcome.thread_id}[/]")


@app.command()
def ask(
    text: str = typer.Argument(..., help="what you want, in words (Korean or English)"),
    env: Optional[str] = typer.Option(None, "--env", "-e", help="dev, staging or prod (default dev; without it, words that name no environment get a question)"),
    alert: Optional[Path] = typer.Option(None, "--alert", help="an alert payload: Alertmanager, CloudWatch/SNS or plain JSON"),
    user: str = typer.Option("operator", "--as", help="who is asking"),
    role: list[str] = typer.Option([], "--role", help="the asker's role(s)"),
    emergency: bool = typer.Option(False, "--emergency", help="ask for an emergency override of the deployment window"),
    at: Optional[str] = typer.Option(None, "--at", help="judge policy windows at this ISO time instead of now"),
    as_json: bool = typer.Option(False, "--json", help="print the outcome as JSON"),
    thread: Optional[str] = typer.Option(None, "--thread", "-t",
                                         help="continue this thread: answer the question its run asks, or follow up in it"),
) -> None:
    """Ask in words (and optionally with an alert); stops when a person must approve. With --thread, the words answer
    the thread's question (the run goes on) or follow up in it ("why?", "do the same in prod", "roll it back")."""
    from tools.alerts import load_alert_file

    settings = get_settings()
    info = None
    if thread is not None:
        from graphs.threads import open_registry

        info = open_registry(settings).get(thread)
    default_env = info.environment if info is not None else "dev"
    request = Request(
        text=text, alert=load_alert_file(alert) if alert else None, environment=_environment(env or default_env),
        environment_explicit=env is not None,
        user=UserRef(id=user, name=user, roles=_roles(role)), door="cli", emergency=emergency,
        at=_parse_time(at) if at else None,
    )
    from graphs.checkpoints import open_checkpointer
    from graphs.conversation import continue_thread
    from graphs.runner import start_run
    from interfaces.context import build_context, close_context

    host = request.alert.labels.get("host") if request.alert else None

    async def go():
        async with open_checkpointer(settings) as saver:
            if info is not None:
                ctx = build_context(settings, world=info.world, scenario_path=info.scenario_path, environment=info.environment)
            else:
                ctx = build_context(settings, environment=request.environment, log_host=host)
            try:
                if info is not None:
                    return await continue_thread(ctx, saver, info.thread_id, request)
                return await start_run(request, ctx, saver)
            finally:
                await close_context(ctx)

    _print_outcome(asyncio.run(go()), as_json)


@app.command()
def approve(
    thread: str = typer.Argument(..., help="the thread id printed by ask, Slack or the widget"),
    user: str = typer.Option(..., "--as", help="who decides"),
    role: str = typer.Option(..., "--role", help="the role the decider approves as"),
    reject: bool = typer.Option(False, "--reject", help="reject instead of approving"),
    reason: str = typer.Option("", "--reason", help="why (a business justification where the policy asks for one)"),
    confirm: Optional[str] = typer.Option(None, "--confirm", help="type the environment name to confirm destroying it"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Approve or reject a paused run; it resumes when the policy's approvals are complete."""
    from graphs.threads import open_registry

    settings = get_settings()
    _roles([role])
    info = open_registry(settings).get(thread)
    from graphs.checkpoints import open_checkpointer
    from graphs.runner import decide
    from interfaces.context import build_context, close_context

    decision = ApprovalDecision(request_id="pending", user=UserRef(id=user, name=user, roles=[role]), role=role,
                                approved=not reject, reason=reason, confirmation=confirm)

    async def go():
        async with open_checkpointer(settings) as saver:
            ctx = build_context(settings, world=info.world, scenario_path=info.scenario_path, environment=info.environment)
            try:
                return await decide(ctx, saver, thread, decision)
            finally:
                await close_context(ctx)

    _print_outcome(asyncio.run(go()), as_json)


@app.command()
def runs(as_json: bool = typer.Option(False, "--json"), limit: int = typer.Option(30, "--limit")) -> None:
    """Runs (threads) with their status and what they wait for."""
    from graphs.threads import open_registry

    threads = open_registry(get_settings()).list(limit)
    if as_json:
        console.print_json(json.dumps([t.model_dump(mode="json") for t in threads]))
        return
    table = Table("thread", "door", "env", "status", "waiting for", "updated", "headline")
    for t in threads:
        waiting = t.waiting_for or "-"
        table.add_row(t.thread_id + (f" ({t.turns} turns)" if t.turns > 1 else ""), t.door, t.environment, t.status,
                      waiting if len(waiting) <= 120 else waiting[:117] + "...", f"{t.updated_at:%Y-%m-%d %H:%M}", t.headline[:60])
    console.print(table if threads else "no runs yet")


@app.command()
def guard(
    command: Optional[str] = typer.Argument(None, help="a command as you would type it"),
    env: str = typer.Option("dev", "--env", "-e"),
    as_json: bool = typer.Option(False, "--json"),
    batch: Optional[Path] = typer.Option(None, "--batch", help="a file of commands, one per line (`-` for standard input)"),
) -> None:
    """Which catalogue entry a command is (with its typed parameters and the argv that would run), or the rule that
    refused it; runs nothing. With --batch, one verdict per line, in order."""
    from interfaces.cli_tools import batch_records, dumps, render_verdict, verdict_record

    environment = _environment(env)
    if (command is None) == (batch is None):
        raise UserInputError("give one command, or --batch FILE (one command per line)")
    records = batch_records(batch, environment) if batch is not None else iter([verdict_record(command or "", environment)])
    colours = {"allow": "green", "approve": "yellow", "forbid": "red"}
    for record in records:
        if as_json:
            print(dumps(record), flush=True)
        else:
            where = f"{record['line']}: " if "line" in record else ""
            console.print(f"{where}[bold {colours[record['verdict']]}]{record['verdict']}[/] {render_verdict(record)}", markup=True, highlight=False)


@app.command("tools")
def tools_(
    as_json: bool = typer.Option(False, "--json"),
    kind: Optional[str] = typer.Option(None, "--kind", help="read or action"),
    family: Optional[str] = typer.Option(None, "--family", help="host, files, systemd, kubernetes, mysql, postgres, redis, aws, terraform, http, ..."),
) -> None:
    """The catalogue: every read tool and action, its typed parameters, what it renders and its approval class."""
    from interfaces.cli_tools import catalogue_entries

    entries = catalogue_entries(kind, family)
    if as_json:
        print(json.dumps(entries, ensure_ascii=False, indent=1))
        return
    table = Table("tool", "kind", "renders", "parameters", "approval")
    for e in entries:
        params = ", ".join(f"{k}{'*' if p['required'] else ''}:{p['type']}" for k, p in e["params"].items())
        table.add_row(e["name"], e["kind"], e["renders"], params, e["approval"])
    console.print(table)
    console.print(f"{len(entries)} entries; * required. `cloud-doctor tools --json` has descriptions, roles, verifications and rollbacks.")


@app.command()
def replay(
    path: Path = typer.Argument(..., help="a scenario file or a folder of them"),
    out: Path = typer.Option(Path("out/replay"), "--out", help="where results.jsonl, report.md and report.html go"),
    concurrency: int = typer.Option(4, "--concurrency", "-j", min=1, max=32),
    memory: bool = typer.Option(False, "--memory/--no-memory", help="let the diagnostician consult incident memory"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    models: Optional[Path] = typer.Option(None, "--models", help="a models.yaml to run with (default: the configured one)"),
    record_llm: Optional[Path] = typer.Option(None, "--record-llm", help="store every model exchange in this folder"),
    replay_llm: Optional[Path] = typer.Option(None, "--replay-llm", help="answer model calls from this recorded folder, offline"),
) -> None:
    """Replay recorded incidents and requests offline through the same graph; writes a report."""
    from interfaces.replay import ModelFlags, replay_command

    replay_command(path, out=out, concurrency=concurrency, use_memory=memory, as_json=as_json, console=console,
                   model_flags=ModelFlags(models_file=models, record_llm=record_llm, replay_llm=replay_llm))


@app.command("eval")
def eval_(
    path: Path = typer.Argument(..., help="a scenario file or a folder of them"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="compare with this saved eval result"),
    out: Path = typer.Option(Path("out/eval"), "--out"),
    concurrency: int = typer.Option(4, "--concurrency", "-j", min=1, max=32),
    memory: bool = typer.Option(False, "--memory/--no-memory", help="also measure accuracy with incident memory"),
    thresholds: Optional[Path] = typer.Option(None, "--thresholds", help="default: evals/thresholds.yaml"),
    models: Optional[Path] = typer.Option(None, "--models", help="a models.yaml to run with (default: the configured one)"),
    record_llm: Optional[Path] = typer.Option(None, "--record-llm", help="store every model exchange in this folder"),
    replay_llm: Optional[Path] = typer.Option(None, "--replay-llm", help="answer model calls from this recorded folder, offline"),
) -> None:
    """Score scenarios (with and without the model when one is configured); exits 1 when a threshold is missed."""
    from interfaces.eval_cli import eval_command
    from interfaces.replay import ModelFlags

    code = eval_command(path, as_json=as_json, baseline=baseline, out=out, concurrency=concurrency,
                        with_memory=memory, thresholds=thresholds, console=console,
                        model_flags=ModelFlags(models_file=models, record_llm=record_llm, replay_llm=replay_llm))
    raise typer.Exit(code)


@app.command("redact")
def redact_(source: str = typer.Argument(..., help="a file, or - for standard input")) -> None:
    """Print a file as a model would be shown it: every secret masked (check before connecting a model)."""
    from interfaces.cli_redact import redact_command

    redact_command(source)


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host", help="bind address; put TLS in front (see the README)"),
          port: int = typer.Option(8080, "--port"),
          workers: Optional[int] = typer.Option(None, "--workers", help="worker processes to start (default CLOUD_DOCTOR_WORKERS, 2); "
                                                "0 when `cloud-doctor worker` runs elsewhere")) -> None:
    """Serve the doors (web API and widget, Slack, alert webhooks) and start the workers that run what they queue."""
    import uvicorn

    from interfaces.web.app import create_app
    from interfaces.worker_pool import WorkerPool

    logging.getLogger().setLevel(logging.DEBUG if STATE["verbose"] else logging.WARNING)
    settings = get_settings()
    app = create_app()  # a broken config refuses to start here, with one line
    pool = WorkerPool(settings.workers if workers is None else workers)
    if pool.count:
        pool.start()
    else:
        logging.getLogger("cloud_doctor.workers").warning("workers: none started by serve; run `cloud-doctor worker` beside it")
    try:
        # keep-alive longer than a proxy's (nginx: 60 s), so the proxy, not this server, closes idle connections
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=75)
    finally:
        pool.stop()


@app.command()
def worker(name: Optional[str] = typer.Option(None, "--name", help="how this worker names itself in the queue"),
           concurrency: Optional[int] = typer.Option(None, "--concurrency", "-j", min=1, max=64,
                                                     help="runs at once (default CLOUD_DOCTOR_WORKER_CONCURRENCY, 4)")) -> None:
    """Claim queued runs and decisions from the shared database and run them (doors only queue them)."""
    from interfaces.worker import run_worker

    logging.getLogger().setLevel(logging.DEBUG if STATE["verbose"] else logging.WARNING)
    run_worker(get_settings(), name=name, concurrency=concurrency)


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"--at {value!r}: use an ISO time such as 2026-03-06T19:30:00+09:00") from None


def main() -> None:
    from tools.redaction.console import install as redact_console

    redact_console()  # every command's output passes redaction, whichever module prints it
    _register_subapps()
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except CloudDoctorError as exc:
        if STATE["verbose"]:
            raise
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors and anything unexpected
        import click

        if isinstance(exc, click.ClickException) or type(exc).__name__ in CLICK_USAGE_ERRORS:  # typer vendors click
            exc.show()
            sys.exit(exc.exit_code)
        if STATE["verbose"]:
            raise
        err.print(f"[red]internal error:[/] {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} (run with --verbose for details)", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
