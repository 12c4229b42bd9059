"""The tables doors and workers share beside the run registry (graphs/threads.py), for SQLite and PostgreSQL.

    cd_events        every run's events, ids monotonic per run (the SSE id), a global seq for tailing
    cd_jobs          the work queue: start a thread with a request, or resume it with an input
    cd_keys          dedupe keys (Slack event ids, command trigger ids, alert groups)
    cd_shares        runs shared with a web user
    cd_slack_threads where a run posts in Slack and what was delivered there
    cd_alert_groups  the open run of each firing alert group
    cd_audit         a copy of every audit record, so a fleet has one audit trail
"""

from __future__ import annotations

from graphs.database import Database, Migration
from graphs.threads import RUNS_SCHEMA


def _both(sqlite_serial: str, postgres_serial: str, statements: list[str]) -> tuple[list[str], list[str]]:
    return ([s.replace("{serial}", sqlite_serial).replace("{real}", "REAL") for s in statements],
            [s.replace("{serial}", postgres_serial).replace("{real}", "DOUBLE PRECISION") for s in statements])


_DOORS = [
    "CREATE TABLE IF NOT EXISTS cd_events (seq {serial}, thread_id TEXT NOT NULL, id BIGINT NOT NULL, "
    "type TEXT NOT NULL, data TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (thread_id, id))",
    "CREATE TABLE IF NOT EXISTS cd_jobs (id {serial}, thread_id TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL, "
    "status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, worker TEXT, lease_until {real}, result TEXT, "
    "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cd_jobs_open ON cd_jobs (status, id)",
    "CREATE INDEX IF NOT EXISTS cd_jobs_thread ON cd_jobs (thread_id, id)",
    "CREATE TABLE IF NOT EXISTS cd_keys (key TEXT PRIMARY KEY, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS cd_shares (thread_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (thread_id, user_id))",
    "CREATE INDEX IF NOT EXISTS cd_shares_user ON cd_shares (user_id)",
    "CREATE TABLE IF NOT EXISTS cd_slack_threads (thread_id TEXT PRIMARY KEY, channel TEXT NOT NULL, thread_ts TEXT, "
    "body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cd_slack_threads_place ON cd_slack_threads (channel, thread_ts)",
    "CREATE TABLE IF NOT EXISTS cd_alert_groups (key TEXT PRIMARY KEY, thread_id TEXT NOT NULL, service TEXT NOT NULL, "
    "state TEXT NOT NULL, body TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cd_alert_groups_service ON cd_alert_groups (service, state)",
    "CREATE TABLE IF NOT EXISTS cd_audit (seq {serial}, at TEXT NOT NULL, event TEXT NOT NULL, record TEXT NOT NULL)",
]
_SQLITE, _POSTGRES = _both("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY", _DOORS)
DOORS_SCHEMA = Migration("0002_doors", sqlite=_SQLITE, postgres=_POSTGRES)


def migrate(db: Database) -> None:
    """Create or update every door table (idempotent; safe with many replicas starting at once)."""
    db.migrate([RUNS_SCHEMA, DOORS_SCHEMA])
