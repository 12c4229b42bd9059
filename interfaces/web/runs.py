"""What doors do with runs: register and queue them, read them, follow their events. Never run them.

A door validates a request, registers the run and queues its job in one
transaction, and acknowledges; workers (interfaces/worker.py) run the graph.
Reads come from the registry and the event log in the shared database, so
any replica answers for any run, and the door's event loop only waits on
I/O. Both server doors (Slack and the web) share one service per process.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable, Literal

from pydantic import BaseModel

from config.settings import Settings
from graphs.errors import CloudDoctorError, NotFoundError, UserInputError
from graphs.state import ApprovalDecision, ApprovalRequest, Request, UserRef
from graphs.threads import ThreadInfo
from interfaces.queue.feed import EventFeed
from interfaces.queue.models import JobOutcome, JobSpec, RollbackAsk, RunEvent, SlackOrigin, SlackPlace
from interfaces.queue.store import DoorStore, open_store
from tools.policy import ApprovalError, check_decision, default_policy

Clock = Callable[[], datetime]


class DoorWorld(BaseModel):
    """The world a door's runs use: live, or one recorded scenario (demos and tests)."""

    world: Literal["live", "recorded"] = "live"
    scenario: Path | None = None

    def scenario_path(self) -> str | None:
        return str(self.scenario) if self.world == "recorded" and self.scenario else None


class RunService:
    def __init__(self, settings: Settings, world: DoorWorld | None = None, *, clock: Clock | None = None):
        self.settings = settings
        self.world = world or DoorWorld()
        self.clock = clock
        self.store: DoorStore | None = None
        self.feed: EventFeed | None = None
        self._scenario_at: tuple[datetime | None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        # Store calls run in threads; a thread waiting for the GIL behind the event loop would wait out the
        # default 5 ms switch interval on every call, which under load is most of an ack's time.
        sys.setswitchinterval(0.0005)
        self.store = await asyncio.to_thread(open_store, self.settings)
        if self.settings.workers > 0:  # workers beside this door (serve's own) checkpoint the WAL
            self.store.db.checkpoints_wal = False
        self.feed = EventFeed(self.store)
        await self.feed.start()
        await self._warm()

    async def _warm(self) -> None:
        """Pay at start what the first requests would pay: executor threads, their database connections, model code."""
        store = self._store()
        await asyncio.gather(*(asyncio.to_thread(store.queued_jobs) for _ in range(8)))
        request = Request(text="warm-up", user=UserRef(id="warm-up"), door="web")
        self.start_job(request, "warm-up").model_dump_json()
        self.run_info(request, "warm-up").model_dump_json()
        SlackPlace(thread_id="warm-up", channel="C0").model_dump_json()
        self.request_time()

    async def close(self) -> None:
        if self.feed is not None:
            await self.feed.stop()

    def _store(self) -> DoorStore:
        if self.store is None:
            raise CloudDoctorError("the run service is not open (start the server with its lifespan)")
        return self.store

    async def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A store call off the event loop (the database is synchronous; the door never waits on it in the loop)."""
        return await asyncio.to_thread(method, *args, **kwargs)

    # --------------------------------------------------------------- runs

    def request_time(self) -> datetime | None:
        """When policy windows are judged: the injected clock, a recorded scenario's moment, or now."""
        if self.clock is not None:
            return self.clock()
        if self.world.scenario_path():
            if self._scenario_at is None:  # read once: parsing the scenario costs more than the rest of a request
                from evals.scenario import load_scenario

                self._scenario_at = (load_scenario(self.world.scenario_path()).at,)
            return self._scenario_at[0]
        return None

    def run_info(self, request: Request, thread_id: str) -> ThreadInfo:
        return ThreadInfo(thread_id=thread_id, door=request.door, world=self.world.world, scenario_path=self.world.scenario_path(),
                          environment=request.environment, status="queued", headline="queued", requested_by=request.user.id,
                          request=request)

    def start_job(self, request: Request, thread_id: str, reply_to: SlackOrigin | None = None) -> JobSpec:
        return JobSpec(thread_id=thread_id, kind="start", request=request, world=self.world.world,
                       scenario_path=self.world.scenario_path(), reply_to=reply_to)

    async def start(self, request: Request, thread_id: str, *, keys: Iterable[str] = (), slack: SlackPlace | None = None,
                    reply_to: SlackOrigin | None = None, rollback: RollbackAsk | None = None) -> bool:
        """Register the run and queue it; False when a dedupe key or the thread was seen before (nothing queued)."""
        store = self._store()
        spec = self.start_job(request, thread_id, reply_to).model_copy(update={"rollback": rollback})
        job = await self.call(store.try_start_run, self.run_info(request, thread_id), spec, keys=list(keys), slack=slack)
        return job is not None

    async def start_rollback(self, deployment_id: str, reason: str, user: UserRef, door: str, thread_id: str, *,
                             keys: Iterable[str] = (), slack: SlackPlace | None = None, reply_to: SlackOrigin | None = None) -> Request:
        """Check a rollback request against the deployments store (one-line refusals) and queue its run."""
        from agents.delivery.desk import check_rollback_request

        record = await self.call(check_rollback_request, self.settings, deployment_id, reason)
        request = Request(text=f"rollback {record.id}: {reason.strip()}", environment=record.environment,  # type: ignore[arg-type]
                          environment_explicit=True, user=user, door=door, at=self.request_time())  # type: ignore[arg-type]
        await self.start(request, thread_id, keys=keys, slack=slack, reply_to=reply_to,
                         rollback=RollbackAsk(deployment_id=record.id, reason=reason.strip()))
        return request

    async def decide(self, thread_id: str, decision: ApprovalDecision, *, reply_to: SlackOrigin | None = None,
                     keys: Iterable[str] = (), wait_s: float = 0.0) -> JobOutcome | None:
        """Pre-check a decision against the registry (refusals raise at once) and queue it; optionally wait for the worker."""
        info = await self.thread(thread_id)
        self.precheck(info, decision)
        spec = JobSpec(thread_id=thread_id, kind="decide", decision=decision, world=info.world, scenario_path=info.scenario_path,
                       reply_to=reply_to)
        job_id = await self.call(self._store().enqueue, spec, keys=list(keys))
        if job_id is None or wait_s <= 0:
            return None
        return await self.wait_job(job_id, wait_s)

    async def reply(self, thread_id: str, request: Request, *, reply_to: SlackOrigin | None = None,
                    keys: Iterable[str] = ()) -> bool:
        """Queue someone's words in a thread (an answer to its question, or a follow-up); False for a repeated delivery."""
        info = await self.thread(thread_id)
        if not (request.text or "").strip():
            raise UserInputError("say something to continue the thread with (an answer or a follow-up)")
        spec = JobSpec(thread_id=thread_id, kind="reply", request=request, world=info.world, scenario_path=info.scenario_path,
                       reply_to=reply_to)
        return await self.call(self._store().enqueue, spec, keys=list(keys)) is not None

    def precheck(self, info: ThreadInfo, decision: ApprovalDecision) -> ApprovalRequest:
        """The policy's verdict on a decision, from the registry's copy of the approval (the worker checks again)."""
        pending = info.pending
        if pending is None or info.status != "awaiting_approval":
            raise ApprovalError(f"run {info.thread_id} is not waiting for an approval (status: {info.status})")
        decision = decision.model_copy(update={"request_id": pending.id})
        if decision.approved and pending.confirmation and (decision.confirmation or "").strip() != pending.confirmation:
            raise ConfirmationNeeded(pending.confirmation)
        check_decision(default_policy(), pending, decision, info.decisions)
        return pending

    async def wait_job(self, job_id: int, timeout_s: float) -> JobOutcome | None:
        """Until the worker finishes the job (None after `timeout_s`); polls with backoff, I/O only."""
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while time.monotonic() < deadline:
            outcome = await self.call(self._store().job_outcome, job_id)
            if outcome is not None:
                return outcome
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        return None

    async def thread(self, thread_id: str) -> ThreadInfo:
        return await self.call(self._store().registry.get, thread_id)

    async def find(self, thread_id: str) -> ThreadInfo | None:
        return await self.call(self._store().registry.find, thread_id)

    async def pending(self, thread_id: str) -> ApprovalRequest | None:
        info = await self.thread(thread_id)
        return info.pending if info.status == "awaiting_approval" else None

    def follow(self, thread_id: str, after: int = 0) -> AsyncIterator[RunEvent]:
        if self.feed is None:
            raise CloudDoctorError("the run service is not open (start the server with its lifespan)")
        return self.feed.follow(thread_id, after)

    async def events(self, thread_id: str, after: int = 0) -> list[RunEvent]:
        return await self.call(self._store().events_after, thread_id, after)


class ConfirmationNeeded(ApprovalError):
    """Approving this needs the environment's name typed back; each door words the ask its own way."""

    def __init__(self, expected: str):
        super().__init__(f"type {expected} to confirm")
        self.expected = expected


__all__ = ["ConfirmationNeeded", "DoorWorld", "NotFoundError", "RunService"]
