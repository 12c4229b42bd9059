"""`cloud-doctor worker`: claims jobs from the shared queue and runs the graph, so doors never do.

Doors validate, persist and acknowledge; everything that takes CPU or waits
on the world happens here: the graph (planner, diagnostician, …), its
checkpoints, the run's events and its Slack posts. The heavy imports (the
graph, agents and tools) happen at start and the graph is compiled once, so
the first job does not pay for them.

A worker renews the lease of each job it holds from a thread of its own (a
CPU-bound step cannot starve it); a worker that dies stops renewing, and
another worker takes the job over when the lease lapses and carries the
thread on from its last checkpoint. A job that killed its worker
`job_max_attempts` times is reported failed instead of run again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable

from agents.context import AgentContext
from config.settings import Settings
from graphs.errors import CloudDoctorError
from graphs.state import ApprovalDecision
from interfaces.queue.models import Job, JobOutcome
from interfaces.queue.publish import RunPublisher
from interfaces.queue.store import DoorStore, open_store
from interfaces.web.events import approval_view
from tools.audit import AuditLog
from tools.policy import ApprovalError
from tools.redact import redact

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 3600.0  # retention runs hourly in each worker; the deletes are idempotent, so replicas need no leader

ContextFactory = Callable[[str, "str | None", str], AgentContext]  # (world, scenario_path, environment)
OutboxFactory = Callable[[DoorStore, str], Awaitable[Any]]  # (store, thread_id) -> a Slack outbox or None


class DoorAudit(AuditLog):
    """The run's audit log: the same append-only file, a copy in the shared database (fleets), and progress lines."""

    def __init__(self, path: Any, sink: Callable[[str, dict[str, Any]], None], store: DoorStore | None):
        super().__init__(path)
        self._sink, self._store = sink, store

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        record = super().append(event, **fields)
        if self._store is not None:
            self._store.append_audit(record)
        try:
            self._sink(event, fields)
        except Exception:  # progress is a courtesy; it must never break the run
            log.debug("progress line failed", exc_info=True)
        return record


def _default_factory(settings: Settings) -> ContextFactory:
    def make(world: str, scenario_path: str | None, environment: str) -> AgentContext:
        from interfaces.context import build_context

        return build_context(settings, world=world, scenario_path=scenario_path, environment=environment)

    return make


class Worker:
    def __init__(self, settings: Settings, *, context_factory: ContextFactory | None = None,
                 outbox_factory: OutboxFactory | None = None, name: str | None = None,
                 concurrency: int | None = None, poll_s: float = 0.1):
        self.settings = settings
        self.make_context = context_factory or _default_factory(settings)
        self.outbox_factory = outbox_factory
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self) % 10000}"
        self.concurrency = concurrency or settings.worker_concurrency
        self.poll_s = poll_s
        self.store: DoorStore | None = None
        self.checkpointer: Any = None
        self._active: dict[int, tuple[Job, asyncio.Task[Any]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self.jobs_done = 0
        self._next_prune = 0.0

    # ------------------------------------------------------------- lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop` is set; running jobs finish first (a second signal cancels them)."""
        from graphs.checkpoints import open_checkpointer
        from graphs.ops_graph import compile_graph

        self._loop = asyncio.get_running_loop()
        self.store = await asyncio.to_thread(open_store, self.settings)
        async with AsyncExitStack() as stack:
            self.checkpointer = await stack.enter_async_context(open_checkpointer(self.settings))
            compile_graph(self.checkpointer)  # warm: the first job must not pay for compiling
            heartbeat = threading.Thread(target=self._heartbeat, args=(stop,), name="job-leases", daemon=True)
            heartbeat.start()
            listener = asyncio.create_task(self._listen(stop), name="job-wakeups")
            log.info("worker %s ready (%d at once, database: %s)", self.name, self.concurrency, self.store.db.dialect)
            next_tick = 0.0
            try:
                while not stop.is_set():
                    if time.monotonic() >= next_tick:  # due schedules and stage gates (interfaces/scheduler.py)
                        next_tick = time.monotonic() + self.settings.schedule_poll_s
                        await self._tick()
                    if len(self._active) >= self.concurrency:
                        await self._wait_any(stop)
                        continue
                    job = await asyncio.to_thread(self.store.claim, self.name, self.settings.job_lease_s,
                                                  self.settings.job_max_attempts)
                    if job is None:
                        self._wake.clear()
                        await _wait_first(self._wake.wait(), stop.wait(), timeout=self.poll_s)
                        continue
                    task = asyncio.create_task(self._run_job(job), name=f"job-{job.id}")
                    self._active[job.id] = (job, task)
                    task.add_done_callback(lambda _t, job_id=job.id: self._active.pop(job_id, None))
                if self._active:
                    await asyncio.gather(*(t for _, t in self._active.values()), return_exceptions=True)
            finally:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    async def _tick(self) -> None:
        from interfaces.scheduler import tick

        assert self.store is not None
        try:
            if await asyncio.to_thread(tick, self.store, self.settings):
                self._wake.set()
        except Exception:  # a broken schedule must not stop the worker
            log.exception("the scheduler tick failed")
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY_S
            try:
                before = datetime.now(timezone.utc) - timedelta(days=self.settings.door_retention_days)
                pruned = await asyncio.to_thread(self.store.prune, before)
                if any(pruned.values()):
                    log.info("pruned older than %s days: %s", self.settings.door_retention_days, pruned)
            except Exception:  # retention must not stop the worker either
                log.exception("pruning the door tables failed")

    async def _wait_any(self, stop: asyncio.Event) -> None:
        tasks = [t for _, t in self._active.values()]
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()

    async def _listen(self, stop: asyncio.Event) -> None:
        """PostgreSQL tells idle workers about new jobs at once (LISTEN); SQLite workers poll."""
        assert self.store is not None
        if self.store.db.dialect != "postgres":
            return
        from interfaces.queue.feed import listen

        await listen(self.store.db.url, "cd_jobs", lambda _payload: self._wake.set(), stop)

    def _heartbeat(self, stop: asyncio.Event) -> None:
        """Renew the leases of running jobs; a job another worker took over is cancelled here."""
        assert self.store is not None and self._loop is not None
        interval = max(0.2, self.settings.job_lease_s / 3)
        while not stop.is_set() or self._active:
            for job, task in list(self._active.values()):
                try:
                    if not self.store.renew(job, self.settings.job_lease_s):
                        log.warning("job %s of %s was taken over by another worker; stopping it here", job.id, job.thread_id)
                        self._loop.call_soon_threadsafe(task.cancel)
                except Exception:
                    log.exception("could not renew the lease of job %s", job.id)
            time.sleep(interval)

    # ------------------------------------------------------------------ jobs

    async def _run_job(self, job: Job) -> None:
        assert self.store is not None
        publisher = RunPublisher(self.store, job.thread_id)
        outbox = await self.outbox_factory(self.store, job.thread_id) if self.outbox_factory else None
        if outbox is not None:
            publisher.listeners.append(outbox.wake)
        try:
            if outbox is not None and not await outbox.open(job):
                outcome = JobOutcome(status="failed", run_status="failed", message="could not post in Slack")
                await asyncio.to_thread(publisher.fail, "could not post in the Slack channel (see the private reply)")
            elif job.exhausted:
                message = f"the run stopped its worker {job.attempts - 1} times and was given up"
                await asyncio.to_thread(publisher.fail, message)
                outcome = JobOutcome(status="failed", run_status="failed", message=message)
            else:
                if job.attempts > 1:
                    await asyncio.to_thread(publisher.progress, f"resumed by worker {self.name} after the previous worker stopped")
                outcome = await self._dispatch(job, publisher)
        except asyncio.CancelledError:
            raise  # taken over, or the worker is stopping hard: the lease lapses and another worker carries on
        except Exception as exc:
            message = _one_line(exc)
            if not isinstance(exc, CloudDoctorError):
                log.exception("job %s (%s of %s) failed", job.id, job.kind, job.thread_id)
                message = f"internal error: {type(exc).__name__}: {message} (see the worker log)"
            await asyncio.to_thread(publisher.fail, message)
            outcome = JobOutcome(status="failed", run_status="failed", message=redact(message))
        if outbox is not None:
            await outbox.flush(job, outcome)
        await asyncio.to_thread(self.store.finish, job, outcome)
        self.jobs_done += 1

    async def _dispatch(self, job: Job, publisher: RunPublisher) -> JobOutcome:
        handlers = {"start": self._start, "decide": self._decide, "note": self._note, "reply": self._reply}
        return await handlers[job.kind](job, publisher)

    async def _note(self, job: Job, publisher: RunPublisher) -> JobOutcome:
        await asyncio.to_thread(publisher.note, job.text or "")
        return JobOutcome(status="done", message="noted")

    def _context(self, job: Job, environment: str, publisher: RunPublisher) -> AgentContext:
        ctx = self.make_context(job.world, job.scenario_path, environment)
        assert ctx.audit is not None and self.store is not None
        shared = self.store if self.store.db.dialect == "postgres" else None
        ctx.audit = DoorAudit(ctx.audit.path, publisher.progress_from_audit, shared)
        return ctx

    async def _start(self, job: Job, publisher: RunPublisher) -> JobOutcome:
        from graphs.runner import resume_run, start_run
        from interfaces.context import close_context

        assert job.request is not None
        request = job.request
        ctx = self._context(job, request.environment, publisher)
        try:
            outcome = None
            if job.attempts > 1:
                outcome = await resume_run(ctx, self.checkpointer, job.thread_id)
            if outcome is None:
                await asyncio.to_thread(publisher.started, request)
                if job.rollback is not None:  # a manual rollback: the run starts at its proposal and waits for approvals
                    from agents.delivery.desk import request_rollback

                    outcome = await request_rollback(ctx, self.checkpointer, job.rollback.deployment_id, reason=job.rollback.reason,
                                                     user=request.user, door=request.door, thread_id=job.thread_id)
                else:
                    outcome = await start_run(request, ctx, self.checkpointer, thread_id=job.thread_id, world=job.world,
                                              scenario_path=job.scenario_path)
        finally:
            await close_context(ctx)
        await asyncio.to_thread(publisher.outcome, outcome, None)
        return JobOutcome(status="done", run_status=outcome.status, message=outcome.headline)

    async def _reply(self, job: Job, publisher: RunPublisher) -> JobOutcome:
        return await _reply_job(self, job, publisher)

    async def _decide(self, job: Job, publisher: RunPublisher) -> JobOutcome:
        from graphs.runner import decide, pending_request, resume_run
        from interfaces.context import close_context

        assert job.decision is not None and self.store is not None
        info = await asyncio.to_thread(self.store.registry.get, job.thread_id)
        ctx = self._context(job, info.environment, publisher)
        try:
            before = await pending_request(ctx, self.checkpointer, job.thread_id)
            if job.attempts > 1 and _already_applied(info.decisions, job.decision, before):
                outcome = await resume_run(ctx, self.checkpointer, job.thread_id)
                assert outcome is not None
            else:
                try:
                    outcome = await decide(ctx, self.checkpointer, job.thread_id, job.decision)
                except ApprovalError as exc:
                    return JobOutcome(status="refused", run_status=info.status, message=_one_line(exc))
                except CloudDoctorError as exc:  # not waiting any more, or gone: the door says so to the person
                    return JobOutcome(status="refused", run_status=info.status, message=_one_line(exc))
        finally:
            await close_context(ctx)
        pending = outcome.pending_approval
        await asyncio.to_thread(publisher.decision, job.decision, before.id if before else None,
                                approval_view(job.thread_id, pending).still_needed if pending else "")
        await asyncio.to_thread(publisher.outcome, outcome, before.id if before else None)
        return JobOutcome(status="done", run_status=outcome.status, message=outcome.headline)


async def _reply_job(worker: "Worker", job: Job, publisher: RunPublisher) -> JobOutcome:
    """Someone's words in a thread: the answer its run waits for, or a follow-up (graphs/conversation.py)."""
    from graphs.conversation import already_continued, continue_thread
    from graphs.runner import resume_run
    from interfaces.context import close_context

    assert job.request is not None and worker.store is not None
    info = await asyncio.to_thread(worker.store.registry.get, job.thread_id)
    if info.status in ("queued", "running") and job.attempts == 1:
        return JobOutcome(status="refused", run_status=info.status, message=f"run {job.thread_id} is still {info.status}")
    ctx = worker._context(job, info.environment, publisher)
    try:
        outcome = None
        if job.attempts > 1 and await already_continued(ctx, worker.checkpointer, job.thread_id, job.request):
            outcome = await resume_run(ctx, worker.checkpointer, job.thread_id)  # the words got there: carry on, not again
        if outcome is None:
            await asyncio.to_thread(publisher.replied, job.request)
            outcome = await continue_thread(ctx, worker.checkpointer, job.thread_id, job.request, check_status=False)
    except CloudDoctorError as exc:  # nothing to continue (a failed run): the door says so to the person
        message = _one_line(exc)
        await asyncio.to_thread(publisher.fail, message)
        return JobOutcome(status="refused", run_status="failed", message=message)
    finally:
        await close_context(ctx)
    after = await asyncio.to_thread(worker.store.registry.get, job.thread_id)
    beside = after.status if after.status in ("awaiting_approval", "waiting") and outcome.waiting is None else None
    await asyncio.to_thread(publisher.outcome, outcome, None, "approval" if beside == "awaiting_approval" else beside)
    return JobOutcome(status="done", run_status=after.status if beside else outcome.status, message=outcome.headline)


def _already_applied(decisions: list[ApprovalDecision], decision: ApprovalDecision, pending: Any) -> bool:
    """A retried decision that its first worker applied before it stopped (the checkpoint has it)."""
    if pending is None:
        return True
    return any(d.user.id == decision.user.id and d.request_id == pending.id for d in decisions)


def _one_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


async def _wait_first(*waits: Awaitable[Any], timeout: float) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def run_worker(settings: Settings, *, name: str | None = None, concurrency: int | None = None) -> None:
    """The `cloud-doctor worker` command: run until SIGTERM/SIGINT, finishing the jobs in hand."""
    from interfaces.slack_outbox import outbox_factory_from_env

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        worker = Worker(settings, outbox_factory=outbox_factory_from_env(settings), name=name, concurrency=concurrency)
        await worker.run(stop)

    asyncio.run(main())
