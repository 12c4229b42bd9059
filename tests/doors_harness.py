"""Doors and workers for tests: an in-process worker on its own event loop, and waiting for the queue to drain.

The worker is the real `interfaces.worker.Worker` (the same claim, lease and
publish code `cloud-doctor worker` runs), in a thread with its own loop, so
the door's loop stays free as it is in production.
"""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from config.settings import Settings, reset_settings
from interfaces.queue.store import open_store
from interfaces.worker import Worker


def door_settings(tmp_path: Path, monkeypatch: Any, **overrides: Any) -> Settings:
    """Settings for a door under test: its own data folder and no incident memory (no embedding model to load),
    in the environment too, so code that reads the settings afresh sees the same."""
    monkeypatch.setenv("CLOUD_DOCTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    reset_settings()
    return Settings(data_dir=tmp_path / "data", memory_enabled=False, **overrides)


def token_file(tmp_path: Path, *entries: str) -> Path:
    """A web tokens file with these entries (YAML flow mappings: user, name, roles, token or sha256)."""
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n" + "".join(f"  - {e}\n" for e in entries))
    return path


_LOOPS: list[asyncio.AbstractEventLoop] = []


@contextmanager
def worker_thread(settings: Settings, **kwargs: Any) -> Iterator[Worker]:
    """Run a Worker until the block ends; it finishes the jobs it holds first."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            stop = asyncio.Event()
            holder["loop"], holder["stop"] = asyncio.get_running_loop(), stop
            _LOOPS.append(holder["loop"])
            worker = Worker(settings, **kwargs)
            holder["worker"] = worker
            ready.set()
            await worker.run(stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the test below
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="test-worker", daemon=True)
    thread.start()
    ready.wait(30)
    if "error" in holder:
        raise holder["error"]
    try:
        yield holder["worker"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(60)
        if "error" in holder:
            raise holder["error"]


def wait_drained(settings: Settings, timeout: float = 20) -> None:
    """Until no job is queued or running (a condition, checked as it changes; fails after `timeout`)."""
    store = open_store(settings)
    deadline = time.monotonic() + timeout
    while store.queued_jobs():
        if time.monotonic() > deadline:
            with store.db.transaction(write=False) as tx:
                stuck = tx.execute("SELECT id, thread_id, kind, status, attempts, worker FROM cd_jobs WHERE status IN ('queued', 'running')")
            import io
            out = io.StringIO()
            for loop in _LOOPS:
                for task in asyncio.all_tasks(loop):
                    task.print_stack(file=out)
            raise AssertionError(f"{len(stuck)} job(s) still queued or running after {timeout} s: {stuck}\n{out.getvalue()}")
        time.sleep(0.02)
