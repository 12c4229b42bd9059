"""A small registry of runs (threads): what each door started, and what it waits for.

The checkpointer keeps the graph state; this registry keeps what a door needs
to list runs and to rebuild a thread's world on resume (live, or the recorded
scenario it replays).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from graphs.errors import NotFoundError


class ThreadInfo(BaseModel):
    thread_id: str
    door: str
    world: str = "live"  # live | recorded
    scenario_path: str | None = None
    environment: str = "dev"
    status: str = "running"
    headline: str = ""
    waiting_for: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


class ThreadRegistry:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS threads (thread_id TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def save(self, info: ThreadInfo) -> None:
        info.updated_at = datetime.now(timezone.utc)
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO threads (thread_id, body, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(thread_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                (info.thread_id, info.model_dump_json(), info.updated_at.isoformat()),
            )

    def get(self, thread_id: str) -> ThreadInfo:
        with closing(self._connect()) as db:
            row = db.execute("SELECT body FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no run with thread id {thread_id!r} (see `cloud-doctor runs`)")
        return ThreadInfo.model_validate(json.loads(row[0]))

    def list(self, limit: int = 50) -> list[ThreadInfo]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT body FROM threads ORDER BY updated_at DESC LIMIT ?", (limit,)).fetchall()
        return [ThreadInfo.model_validate(json.loads(r[0])) for r in rows]


def open_registry(settings) -> ThreadRegistry:
    """The registry in the settings' data directory."""
    return ThreadRegistry(settings.ensure_data_dir() / "threads.sqlite")
