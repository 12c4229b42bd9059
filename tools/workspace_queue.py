"""One Terraform operation per workspace at a time, so our own runs never race for the state lock.

Two layers: an asyncio lock per workspace path (runs inside one process wait
their turn without polling) and an `flock` on a file in the data directory
(runs in other processes — a second CLI, the web server, a worker — wait
too). flock locks belong to the open file, so two event loops in one process
also exclude each other. Terraform's own state lock stays the last line of
defence against runs we do not control (CI, a person's laptop).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import time
import weakref
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from graphs.errors import CloudDoctorError


class WorkspaceBusyError(CloudDoctorError):
    """Another operation held the workspace for longer than we were willing to wait."""


def workspace_key(workdir: str | Path) -> str:
    return str(Path(workdir).resolve())


class WorkspaceQueue:
    """Serialises operations per workspace directory; different workspaces run in parallel."""

    def __init__(self, lock_dir: str | Path, *, poll_s: float = 0.05):
        self.lock_dir = Path(lock_dir)
        self.poll_s = poll_s
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()

    def lock_file(self, workdir: str | Path) -> Path:
        key = workspace_key(workdir)
        name = Path(key).name or "root"
        return self.lock_dir / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"

    def _local_lock(self, key: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        locks = self._locks.setdefault(loop, {})
        return locks.setdefault(key, asyncio.Lock())

    @asynccontextmanager
    async def hold(self, workdir: str | Path, operation: str = "terraform", *, timeout: float | None = None) -> AsyncIterator[None]:
        """Wait for the workspace, run the body, release it (also on errors and cancellation)."""
        key = workspace_key(workdir)
        deadline = None if timeout is None else time.monotonic() + timeout
        local = self._local_lock(key)
        try:
            await asyncio.wait_for(local.acquire(), timeout=timeout)
        except asyncio.TimeoutError:
            raise WorkspaceBusyError(f"workspace {key} is busy with another operation in this process; try again later") from None
        try:
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_file(key), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                await self._flock(fd, key, deadline)
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps({"pid": os.getpid(), "operation": operation, "workspace": key, "since": time.time()}).encode(), 0)
                try:
                    yield
                finally:
                    os.ftruncate(fd, 0)
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        finally:
            local.release()

    async def _flock(self, fd: int, key: str, deadline: float | None) -> None:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    holder = self.holder(key) or {}
                    who = f" (pid {holder.get('pid')}, {holder.get('operation')})" if holder else ""
                    raise WorkspaceBusyError(f"workspace {key} is busy with another process{who}; try again later") from None
                await asyncio.sleep(self.poll_s)

    def holder(self, workdir: str | Path) -> dict | None:
        """Who holds the workspace now (pid, operation, since), as written by the holder; None when free or unknown."""
        try:
            text = self.lock_file(workdir).read_text()
            return json.loads(text) if text.strip() else None
        except (OSError, ValueError):
            return None


_queues: dict[str, WorkspaceQueue] = {}


def queue_for(data_dir: str | Path) -> WorkspaceQueue:
    """The process-wide queue for a data directory (one per directory, shared by every runner)."""
    lock_dir = Path(data_dir) / "locks" / "terraform"
    key = str(lock_dir.resolve())
    if key not in _queues:
        _queues[key] = WorkspaceQueue(lock_dir)
    return _queues[key]
