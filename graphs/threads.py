"""The registry of runs (threads): what each door started, its status, and what it waits for.

The checkpointer keeps the graph state; this registry keeps what a door needs
without loading the graph: the list of runs, a thread's world (live, or the
recorded scenario it replays), who asked, the approval it waits for and the
decisions so far, and the last report. Workers write it when a run moves;
doors read it to answer at once (and to pre-check a decision before queueing
it). It lives in the shared database (graphs/database.py), so every replica
sees every run.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field

from config.settings import Settings
from graphs.database import Database, Migration, Tx, open_database
from graphs.errors import NotFoundError
from graphs.state import ApprovalDecision, ApprovalRequest, Report, Request

RUNS_SCHEMA = Migration(
    "0001_runs",
    sqlite=[
        "CREATE TABLE IF NOT EXISTS cd_runs (thread_id TEXT PRIMARY KEY, door TEXT NOT NULL, environment TEXT NOT NULL, "
        "status TEXT NOT NULL, requested_by TEXT NOT NULL DEFAULT '', body TEXT NOT NULL, "
        "last_event_id INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS cd_runs_updated ON cd_runs (updated_at)",
    ],
    postgres=[
        "CREATE TABLE IF NOT EXISTS cd_runs (thread_id TEXT PRIMARY KEY, door TEXT NOT NULL, environment TEXT NOT NULL, "
        "status TEXT NOT NULL, requested_by TEXT NOT NULL DEFAULT '', body TEXT NOT NULL, "
        "last_event_id BIGINT NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS cd_runs_updated ON cd_runs (updated_at)",
    ],
)
OPEN_STATUSES = ("queued", "running", "awaiting_approval")


def new_thread_id(door: str) -> str:
    return f"{door}-{uuid.uuid4().hex[:10]}"


class ThreadInfo(BaseModel):
    thread_id: str
    door: str
    world: str = "live"  # live | recorded
    scenario_path: str | None = None
    environment: str = "dev"
    status: str = "running"
    headline: str = ""
    waiting_for: str = ""
    requested_by: str = ""  # the asker's user id (web token user, Slack user id, CLI --as)
    request: Request | None = None  # what was asked, so a crashed run restarts and an emergency re-ask repeats it
    pending: ApprovalRequest | None = None  # the approval the run waits for
    decisions: list[ApprovalDecision] = Field(default_factory=list)  # decisions on `pending` so far
    report: Report | None = None  # the last report
    turns: int = 1  # turns of the conversation so far (a follow-up in a finished thread is a new turn)
    graph_thread: str | None = None  # the checkpointed thread of the turn that holds the run's state (None: thread_id)
    question: str | None = None  # what a needs_input run asks
    resume_at: datetime | None = None  # a run waiting at a stage gate: when workers check it again
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


def _row_values(info: ThreadInfo) -> tuple[Any, ...]:
    return (info.thread_id, info.door, info.environment, info.status, info.requested_by, info.model_dump_json(),
            info.created_at.isoformat(), info.updated_at.isoformat())


def insert_run(tx: Tx, info: ThreadInfo) -> bool:
    """Register a new run inside a caller's transaction; False when the thread already has one."""
    return tx.rowcount(
        "INSERT INTO cd_runs (thread_id, door, environment, status, requested_by, body, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (thread_id) DO NOTHING", _row_values(info)) == 1


def parse_run(body: str) -> ThreadInfo:
    return ThreadInfo.model_validate(json.loads(body))


class ThreadRegistry:
    def __init__(self, db: Database):
        self.db = db
        db.migrate([RUNS_SCHEMA])

    def save(self, info: ThreadInfo) -> None:
        info.updated_at = datetime.now(timezone.utc)
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO cd_runs (thread_id, door, environment, status, requested_by, body, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (thread_id) DO UPDATE SET door = excluded.door, "
                "environment = excluded.environment, status = excluded.status, requested_by = excluded.requested_by, "
                "body = excluded.body, updated_at = excluded.updated_at", _row_values(info))

    def find(self, thread_id: str) -> ThreadInfo | None:
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT body FROM cd_runs WHERE thread_id = %s", (thread_id,))
        return parse_run(row[0]) if row else None

    def get(self, thread_id: str) -> ThreadInfo:
        info = self.find(thread_id)
        if info is None:
            raise NotFoundError(f"no run with thread id {thread_id!r} (see `cloud-doctor runs`)")
        return info

    def with_status(self, status: str, limit: int = 200) -> list[ThreadInfo]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute("SELECT body FROM cd_runs WHERE status = %s ORDER BY updated_at LIMIT %s", (status, limit))
        return [parse_run(r[0]) for r in rows]

    def list(self, limit: int = 50) -> list[ThreadInfo]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute("SELECT body FROM cd_runs ORDER BY updated_at DESC LIMIT %s", (limit,))
        return [parse_run(r[0]) for r in rows]


def open_registry(settings: Settings) -> ThreadRegistry:
    """The registry in the shared database (PostgreSQL when configured, else the data directory)."""
    return ThreadRegistry(open_database(settings))
