"""Runs in the background for long-lived doors (web widget, Slack).

The CLI waits for a run; a server cannot. `RunService` starts runs through
`graphs.runner` as asyncio tasks, serializes decisions per thread, turns the
guarded tools' audit records into progress lines, and publishes every run's
events in order to followers (SSE clients) and listeners (the Slack poster).
Both server doors share one service, so a run started in Slack can be
approved from the widget and the other way round.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable, Literal

from pydantic import BaseModel

from agents.context import AgentContext
from config.settings import Settings
from graphs.errors import CloudDoctorError, UserInputError
from graphs.state import ApprovalDecision, ApprovalRequest, Request
from graphs.threads import ThreadInfo, open_registry
from interfaces.web.events import EventLog, EventStore, EventType, RunEvent, approval_view
from tools.audit import AuditLog
from tools.redact import redact

log = logging.getLogger(__name__)

ContextFactory = Callable[[str, "str | None", str], AgentContext]  # (world, scenario_path, environment)
Listener = Callable[[RunEvent], Awaitable[None]]
Clock = Callable[[], datetime]


class DoorWorld(BaseModel):
    """The world a door's runs use: live, or one recorded scenario (demos and tests)."""

    world: Literal["live", "recorded"] = "live"
    scenario: Path | None = None

    def scenario_path(self) -> str | None:
        return str(self.scenario) if self.world == "recorded" and self.scenario else None


class ProgressAudit(AuditLog):
    """The same append-only audit log, also telling a door what the run is doing right now."""

    def __init__(self, path: Path, sink: Callable[[str], None]):
        super().__init__(path)
        self._sink = sink

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        record = super().append(event, **fields)
        try:
            line = progress_line(event, fields)
            if line:
                self._sink(redact(line))
        except Exception:  # progress is a courtesy; it must never break the run
            log.debug("progress line failed", exc_info=True)
        return record


def progress_line(event: str, fields: dict[str, Any]) -> str:
    if event == "command":
        if fields.get("status") == "started":  # the audit's before-run record; the outcome line follows
            return ""
        where = f"{fields.get('host')}: " if fields.get("host") else ""
        return f"{where}`{fields.get('command')}` — {fields.get('status', fields.get('verdict', ''))}"
    if event == "log_read":
        return f"read logs {fields.get('source', '')}" + (f" on {fields['host']}" if fields.get("host") else "")
    if event == "approval_requested":
        return f"approval {fields.get('status', 'requested')}: {fields.get('rules', '')}"
    if event == "approval_decision":
        verb = "approved" if fields.get("approved") else "rejected"
        return f"{fields.get('name', fields.get('user'))} ({fields.get('role')}) {verb}"
    if event == "approval_refused":
        return f"decision refused: {fields.get('reason', '')}"
    return event.replace("_", " ")


def _default_factory(settings: Settings) -> ContextFactory:
    def make(world: str, scenario_path: str | None, environment: str) -> AgentContext:
        from interfaces.context import build_context

        return build_context(settings, world=world, scenario_path=scenario_path, environment=environment)

    return make


class RunService:
    def __init__(self, settings: Settings, world: DoorWorld | None = None, *,
                 context_factory: ContextFactory | None = None, clock: Clock | None = None):
        self.settings = settings
        self.world = world or DoorWorld()
        self.make_context = context_factory or _default_factory(settings)
        self.clock = clock
        self.store = EventStore()
        self.checkpointer: Any = None
        self._listeners: list[Listener] = []
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._outcomes: OrderedDict[str, Any] = OrderedDict()  # last outcome per run, bounded like the events
        self._queue: asyncio.Queue[RunEvent] | None = None
        self._stack: AsyncExitStack | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        from graphs.checkpoints import open_checkpointer

        self._stack = AsyncExitStack()
        self.checkpointer = await self._stack.enter_async_context(open_checkpointer(self.settings))
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._track(asyncio.create_task(self._dispatch(), name="run-events"))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._stack is not None:
            await self._stack.aclose()
        self.checkpointer = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the service runs in (tests in other threads schedule `wait_idle` on it)."""
        return self._loop

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def wait_idle(self) -> None:
        """Until every started run and decision has finished and its events were delivered."""
        while True:
            busy = [t for t in self._tasks if not t.done() and t.get_name() != "run-events"]
            if not busy:
                break
            await asyncio.gather(*busy, return_exceptions=True)
        if self._queue is not None:
            await self._queue.join()

    # --------------------------------------------------------------- runs

    def request_time(self) -> datetime | None:
        """When policy windows are judged: the injected clock, a recorded scenario's moment, or now."""
        if self.clock is not None:
            return self.clock()
        if self.world.scenario_path():
            from evals.scenario import load_scenario

            return load_scenario(self.world.scenario_path()).at
        return None

    def start(self, request: Request, thread_id: str) -> EventLog:
        """Start a run in the background; its events follow in the returned log."""
        if self.checkpointer is None:
            raise CloudDoctorError("the run service is not open (start the server with its lifespan)")
        if self.store.get(thread_id) is not None or self._known(thread_id):
            raise UserInputError(f"thread {thread_id} already has a run; start a new thread")
        open_registry(self.settings).save(ThreadInfo(
            thread_id=thread_id, door=request.door, world=self.world.world, scenario_path=self.world.scenario_path(),
            environment=request.environment, status="running", headline="working"))
        events = self.store.open(thread_id)
        self._emit(events, "progress", {"text": f"started ({request.environment}): " + redact(_ask_text(request))})
        self._track(asyncio.create_task(self._run(request, thread_id, events), name=f"run-{thread_id}"))
        return events

    async def _run(self, request: Request, thread_id: str, events: EventLog) -> None:
        from graphs.runner import start_run

        async with self._lock(thread_id):
            try:
                ctx = self._context(thread_id, self.world.world, self.world.scenario_path(), request.environment)
                outcome = await start_run(request, ctx, self.checkpointer, thread_id=thread_id, world=self.world.world,
                                          scenario_path=self.world.scenario_path())
            except Exception as exc:  # the door shows one line; the log keeps the traceback
                self._fail(thread_id, events, exc)
                return
            self._publish(events, outcome, previous_request=None)

    async def decide(self, thread_id: str, decision: ApprovalDecision) -> Any:
        """Resume a waiting thread with one decision; policy refusals raise (the door shows them)."""
        from graphs.runner import decide

        async with self._lock(thread_id):
            info = open_registry(self.settings).get(thread_id)
            before = await self.pending(thread_id)
            events = await self.follow_log(thread_id)
            ctx = self._context(thread_id, info.world, info.scenario_path, info.environment)
            outcome = await decide(ctx, self.checkpointer, thread_id, decision)
            pending = outcome.pending_approval
            self._emit(events, "decision", {
                "user": decision.user.name, "role": decision.role, "approved": decision.approved,
                "reason": redact(decision.reason), "request_id": before.id if before else None,
                "still_needed": approval_view(thread_id, pending).still_needed if pending else "",
            })
            self._publish(events, outcome, previous_request=before.id if before else None)
            return outcome

    async def pending(self, thread_id: str) -> ApprovalRequest | None:
        from graphs.runner import pending_request

        info = open_registry(self.settings).get(thread_id)
        ctx = self._context(thread_id, info.world, info.scenario_path, info.environment, progress=False)
        return await pending_request(ctx, self.checkpointer, thread_id)

    def thread(self, thread_id: str) -> ThreadInfo:
        return open_registry(self.settings).get(thread_id)

    def last_outcome(self, thread_id: str) -> Any:
        return self._outcomes.get(thread_id)

    async def follow_log(self, thread_id: str) -> EventLog:
        """The run's event log; for a run this process did not start, a snapshot from registry and checkpoint."""
        events = self.store.get(thread_id)
        if events is not None:
            return events
        info = self.thread(thread_id)
        pending = await self.pending(thread_id) if info.status == "awaiting_approval" else None
        events = self.store.open(thread_id)
        self._emit(events, "report", {"status": info.status, "headline": info.headline, "markdown": ""})
        if pending is not None:
            self._emit(events, "approval", {**approval_view(thread_id, pending).model_dump(), "update": False})
        elif info.status != "running":
            self._emit(events, "done", {"status": info.status, "headline": info.headline})
            events.close()
        return events

    # ------------------------------------------------------------ helpers

    def _known(self, thread_id: str) -> bool:
        try:
            open_registry(self.settings).get(thread_id)
            return True
        except CloudDoctorError:
            return False

    def _lock(self, thread_id: str) -> asyncio.Lock:
        return self._locks.setdefault(thread_id, asyncio.Lock())

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _context(self, thread_id: str, world: str, scenario_path: str | None, environment: str,
                 progress: bool = True) -> AgentContext:
        ctx = self.make_context(world, scenario_path, environment)
        if progress:
            events = self.store.open(thread_id)
            ctx.audit = ProgressAudit(ctx.audit.path, lambda line: self._call_in_loop(events, line))
        return ctx

    def _call_in_loop(self, events: EventLog, line: str) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._emit(events, "progress", {"text": line})
        elif self._loop is not None:
            self._loop.call_soon_threadsafe(self._emit, events, "progress", {"text": line})

    def _emit(self, events: EventLog, type_: EventType, data: dict[str, Any]) -> None:
        event = events.add(type_, data)
        if self._listeners and self._queue is not None:
            self._queue.put_nowait(event)

    def _publish(self, events: EventLog, outcome: Any, previous_request: str | None) -> None:
        """Report, approval and end events; after a decision the report is repeated only when something new happened."""
        self._outcomes[outcome.thread_id] = outcome
        self._outcomes.move_to_end(outcome.thread_id)
        while len(self._outcomes) > self.store.limit:
            self._outcomes.popitem(last=False)
        pending = outcome.pending_approval
        new_request = pending is not None and pending.id != previous_request
        if previous_request is None or pending is None or new_request:
            report = outcome.report
            self._emit(events, "report", {"status": outcome.status, "headline": outcome.headline,
                                          "markdown": report.markdown if report else ""})
        if pending is not None:
            self._emit(events, "approval", {**approval_view(outcome.thread_id, pending).model_dump(), "update": not new_request})
        else:
            self._emit(events, "done", {"status": outcome.status, "headline": outcome.headline})
            events.close()

    def _fail(self, thread_id: str, events: EventLog, exc: Exception) -> None:
        if isinstance(exc, CloudDoctorError):
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        else:
            log.exception("run %s failed", thread_id)
            first = str(exc).splitlines()[0] if str(exc) else ""
            message = f"internal error: {type(exc).__name__}: {first} (see the server log)"
        registry = open_registry(self.settings)
        try:
            info = registry.get(thread_id)
            info.status, info.headline = "failed", redact(message)
            registry.save(info)
        except CloudDoctorError:
            pass
        self._emit(events, "error", {"message": redact(message)})
        self._emit(events, "done", {"status": "failed", "headline": redact(message)})
        events.close()

    async def _dispatch(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            try:
                for listener in self._listeners:
                    try:
                        await listener(event)
                    except Exception:
                        log.exception("a listener failed on %s event of %s", event.type, event.thread_id)
            finally:
                self._queue.task_done()


def _ask_text(request: Request) -> str:
    if request.alert is not None:
        return request.alert.name + (f" — {request.text}" if request.text else "")
    return request.text or ""
