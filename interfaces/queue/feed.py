"""Following runs' events from a door process: one watcher per process, however many streams are open.

Workers write events to the shared log; a door process keeps, for every run
someone follows, the last event id it has read, and reads on when told that
run moved: by PostgreSQL's NOTIFY (a listening thread, with a slow poll as a
safety net), or by polling SQLite. One query covers every followed run, so
300 open widgets cost one small query per tick, not 300.

A follower first reads the run's history after its Last-Event-ID from the
log, then the live events; ids are per run and persisted, so a stream
resumes exactly where it stopped, on any replica, after any restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, AsyncIterator, Callable

from interfaces.queue.models import RunEvent
from interfaces.queue.store import EVENTS_CHANNEL, DoorStore

log = logging.getLogger(__name__)
END_TYPES = ("done",)


class EventFeed:
    def __init__(self, store: DoorStore, *, poll_s: float = 0.05, safety_poll_s: float = 1.0):
        self.store = store
        self.poll_s = poll_s if store.db.dialect == "sqlite" else safety_poll_s
        self._followers: dict[str, set[asyncio.Queue[RunEvent]]] = {}
        self._cursor: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._listener: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="event-feed")
        if self.store.db.dialect == "postgres":
            self._listener = asyncio.create_task(listen(self.store.db.url, EVENTS_CHANNEL, self._on_notify, self._stop),
                                                 name="event-feed-listen")

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for task in (self._task, self._listener):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, self._listener) if t is not None), return_exceptions=True)

    def _on_notify(self, thread_id: str) -> None:
        if thread_id in self._followers:
            self._wake.set()

    async def follow(self, thread_id: str, after: int = 0) -> AsyncIterator[RunEvent]:
        """The run's events after `after`, then live ones, until a `done` event."""
        queue: asyncio.Queue[RunEvent] = asyncio.Queue()
        first = thread_id not in self._followers
        self._followers.setdefault(thread_id, set()).add(queue)
        try:
            if first:
                marks = await asyncio.to_thread(self.store.last_event_ids, [thread_id])
                self._cursor[thread_id] = max(self._cursor.get(thread_id, 0), marks.get(thread_id, 0))
            last = after
            for event in await asyncio.to_thread(self.store.events_after, thread_id, after):
                last = event.id
                yield event
                if event.type in END_TYPES:
                    return
            while True:
                event = await queue.get()
                if event.id <= last:
                    continue
                if event.id > last + 1:  # read what lies between from the log, in order
                    for missed in await asyncio.to_thread(self.store.events_after, thread_id, last):
                        if missed.id >= event.id:
                            break
                        last = missed.id
                        yield missed
                        if missed.type in END_TYPES:
                            return
                last = event.id
                yield event
                if event.type in END_TYPES:
                    return
        finally:
            followers = self._followers.get(thread_id)
            if followers is not None:
                followers.discard(queue)
                if not followers:
                    del self._followers[thread_id]
                    self._cursor.pop(thread_id, None)

    async def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                async with asyncio.timeout(self.poll_s):  # not wait_for: on 3.11 it can swallow a cancellation
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if not self._followers:
                continue
            try:
                await self._read_new()
            except Exception:
                log.exception("reading new run events failed; retrying")
                await asyncio.sleep(self.poll_s)

    async def _read_new(self) -> None:
        threads = list(self._followers)
        marks = await asyncio.to_thread(self.store.last_event_ids, threads)
        moved = [t for t in threads if marks.get(t, 0) > self._cursor.get(t, 0)]
        for thread_id in moved:
            events = await asyncio.to_thread(self.store.events_after, thread_id, self._cursor.get(thread_id, 0))
            for event in events:
                self._cursor[thread_id] = event.id
                for queue in self._followers.get(thread_id, ()):
                    queue.put_nowait(event)


async def listen(url: str, channel: str, on_notify: Callable[[str], None], stop: asyncio.Event) -> None:
    """Call `on_notify(payload)` in this loop for every NOTIFY on `channel`, until `stop`; reconnects on errors.

    A thread with a plain connection does the waiting, so the event loop never blocks on it."""
    loop = asyncio.get_running_loop()
    halt = threading.Event()

    def run() -> None:
        import psycopg

        while not halt.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {channel}")
                    while not halt.is_set():
                        for note in conn.notifies(timeout=0.5):
                            loop.call_soon_threadsafe(on_notify, note.payload)
            except Exception as exc:
                if not halt.is_set():
                    log.warning("LISTEN %s lost its connection (%s); reconnecting", channel, exc)
                    halt.wait(1.0)

    thread = threading.Thread(target=run, name=f"listen-{channel}", daemon=True)
    thread.start()
    try:
        await stop.wait()
    finally:
        halt.set()
        await asyncio.to_thread(thread.join, 2.0)
