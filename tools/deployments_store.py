"""The deployments store: every rollout and rollback, kept beside the checkpoints.

SQLite in the data directory by default; the same PostgreSQL database as the
checkpoints when `CLOUD_DOCTOR_CHECKPOINT_URL` is `postgresql://…`, so every
door and every worker of a fleet sees the same deployments. One row per
deployment holding its record as JSON, plus the columns the listings sort
and filter by.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

from graphs.errors import NotFoundError
from tools.deployment_records import ACTIVE_STATUSES, DeploymentRecord, DeploymentStatistics

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS cloud_doctor_deployments ("
    " id TEXT PRIMARY KEY, environment TEXT NOT NULL, status TEXT NOT NULL,"
    " started_at TEXT NOT NULL, updated_at TEXT NOT NULL, body TEXT NOT NULL)"
)
UPSERT = (
    "INSERT INTO cloud_doctor_deployments (id, environment, status, started_at, updated_at, body) VALUES ({p}, {p}, {p}, {p}, {p}, {p}) "
    "ON CONFLICT (id) DO UPDATE SET environment = excluded.environment, status = excluded.status, "
    "updated_at = excluded.updated_at, body = excluded.body"
)


class DeploymentStore(Protocol):
    def save(self, record: DeploymentRecord) -> None: ...

    def get(self, deployment_id: str) -> DeploymentRecord: ...

    def list(self, limit: int = 50, environment: str | None = None) -> list[DeploymentRecord]: ...


class _SqlStore:
    """The SQL both backends share; subclasses open connections and name their placeholder."""

    placeholder = "?"

    def _connect(self) -> Any:
        raise NotImplementedError

    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def save(self, record: DeploymentRecord) -> None:
        self._execute(UPSERT.format(p=self.placeholder), (
            record.id, record.environment, record.status, record.started_at.isoformat(), record.updated_at.isoformat(),
            record.model_dump_json()))

    def get(self, deployment_id: str) -> DeploymentRecord:
        rows = self._execute(f"SELECT body FROM cloud_doctor_deployments WHERE id = {self.placeholder}", (deployment_id,))
        if not rows:
            raise NotFoundError(f"no deployment {deployment_id!r} (see `cloud-doctor deployments`)")
        return DeploymentRecord.model_validate(json.loads(rows[0][0]))

    def list(self, limit: int = 50, environment: str | None = None) -> list[DeploymentRecord]:
        p = self.placeholder
        if environment:
            rows = self._execute(f"SELECT body FROM cloud_doctor_deployments WHERE environment = {p} "
                                 f"ORDER BY started_at DESC LIMIT {p}", (environment, limit))
        else:
            rows = self._execute(f"SELECT body FROM cloud_doctor_deployments ORDER BY started_at DESC LIMIT {p}", (limit,))
        return [DeploymentRecord.model_validate(json.loads(r[0])) for r in rows]

    def all(self) -> list[DeploymentRecord]:
        rows = self._execute("SELECT body FROM cloud_doctor_deployments ORDER BY started_at")
        return [DeploymentRecord.model_validate(json.loads(r[0])) for r in rows]


class SqliteDeploymentStore(_SqlStore):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._execute(SCHEMA)

    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            return db.execute(sql, params).fetchall()


class PostgresDeploymentStore(_SqlStore):
    placeholder = "%s"

    def __init__(self, url: str):
        self.url = url
        self._execute(SCHEMA)

    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []


def open_deployment_store(settings: Any) -> SqliteDeploymentStore | PostgresDeploymentStore:
    """The store beside the checkpoints: PostgreSQL when the checkpoints are there, else SQLite in the data dir."""
    url = settings.checkpoint_url
    if url and url.startswith(("postgres://", "postgresql://")):
        return PostgresDeploymentStore(url)
    return SqliteDeploymentStore(settings.ensure_data_dir() / "deployments.sqlite")


def compute_statistics(records: list[DeploymentRecord]) -> DeploymentStatistics:
    """Rollbacks, success rate and time to roll back over `records`."""
    stats = DeploymentStatistics(deployments=len(records))
    durations: list[float] = []
    for record in records:
        if record.status in ACTIVE_STATUSES:
            stats.active += 1
        else:
            stats.finished += 1
        if record.status in ("promoted", "rolled_back", "rollback_failed", "failed"):
            setattr(stats, record.status, getattr(stats, record.status) + 1)
        for rollback in record.rollbacks:
            stats.rollbacks += 1
            if rollback.trigger == "automatic":
                stats.automatic_rollbacks += 1
            else:
                stats.manual_rollbacks += 1
            if rollback.verified:
                stats.verified_rollbacks += 1
                if rollback.seconds is not None:
                    durations.append(rollback.seconds)
    judged = stats.promoted + stats.rolled_back + stats.rollback_failed + stats.failed
    stats.success_rate = round(stats.promoted / judged, 4) if judged else None
    if durations:
        stats.rollback_seconds_mean = round(statistics.fmean(durations), 3)
        stats.rollback_seconds_median = round(statistics.median(durations), 3)
        stats.rollback_seconds_max = round(max(durations), 3)
    return stats
