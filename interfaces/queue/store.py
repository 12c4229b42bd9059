"""The shared store of doors and workers: runs, the work queue, events, dedupe keys, shares, Slack places, audit.

Why a queue written here (`SELECT … FOR UPDATE SKIP LOCKED`) and not
procrastinate: the embedded default is SQLite, which procrastinate does not
serve, so it would have been one queue for PostgreSQL and another for SQLite;
here one set of SQL serves both. A door registers the run, claims its dedupe
keys and queues its job in one transaction, so a request is either fully
accepted or not at all (procrastinate defers on its own connection). A
thread's jobs run one at a time and in order (a decision never overtakes the
start it answers), and a job whose worker died is taken over when its lease
lapses, fenced by its attempt number. Stalled-job recovery in procrastinate
is a periodic task the application writes itself; here it is the claim query.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable

from config.settings import Settings
from graphs.database import Database, Tx, open_database
from graphs.threads import OPEN_STATUSES, ThreadInfo, ThreadRegistry, insert_run, parse_run
from interfaces.queue.models import Job, JobOutcome, JobSpec, RunEvent, SlackPlace
from interfaces.queue.schema import migrate

JOBS_CHANNEL, EVENTS_CHANNEL = "cd_jobs", "cd_events"


_LIVE_STATUSES = (*OPEN_STATUSES, "needs_input")  # a run someone may still answer or approve keeps its events


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class DoorStore:
    def __init__(self, db: Database):
        self.db = db
        migrate(db)
        self.registry = ThreadRegistry(db)

    # ------------------------------------------------------------- intake

    def _claim_keys(self, tx: Tx, keys: Iterable[str]) -> bool:
        now = _now()
        for key in keys:
            if tx.rowcount("INSERT INTO cd_keys (key, created_at) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING", (key, now)) != 1:
                return False
        return True

    def _insert_job(self, tx: Tx, spec: JobSpec) -> int:
        now = _now()
        row = tx.one("INSERT INTO cd_jobs (thread_id, kind, payload, status, created_at, updated_at) "
                     "VALUES (%s, %s, %s, 'queued', %s, %s) RETURNING id",
                     (spec.thread_id, spec.kind, spec.model_dump_json(), now, now))
        assert row is not None
        tx.notify(JOBS_CHANNEL, spec.thread_id)
        return int(row[0])

    def start_run(self, info: ThreadInfo, spec: JobSpec, *, keys: Iterable[str] = (),
                  slack: SlackPlace | None = None) -> int | None:
        """Register a run and queue its first job, atomically; None when a key or the thread was seen before."""
        with self.db.transaction() as tx:
            if not self._claim_keys(tx, keys) or not insert_run(tx, info):
                raise _Duplicate()  # rolls back the keys claimed so far
            if slack is not None:
                self._save_slack(tx, slack)
            return self._insert_job(tx, spec)

    def try_start_run(self, info: ThreadInfo, spec: JobSpec, *, keys: Iterable[str] = (),
                      slack: SlackPlace | None = None) -> int | None:
        try:
            return self.start_run(info, spec, keys=keys, slack=slack)
        except _Duplicate:
            return None

    def enqueue(self, spec: JobSpec, *, keys: Iterable[str] = ()) -> int | None:
        """Queue a job for an existing thread; None when one of the keys was seen before."""
        try:
            with self.db.transaction() as tx:
                if not self._claim_keys(tx, keys):
                    raise _Duplicate()
                return self._insert_job(tx, spec)
        except _Duplicate:
            return None

    def claim_key(self, key: str) -> bool:
        """True the first time a key is claimed, by any replica (Slack retries, button double-clicks)."""
        with self.db.transaction() as tx:
            return self._claim_keys(tx, [key])

    # --------------------------------------------------------------- jobs

    def claim(self, worker: str, lease_s: float, max_attempts: int) -> Job | None:
        """The oldest runnable job: queued, or running under a lapsed lease; never two of one thread at once."""
        now = self.db.now_sql()
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        with self.db.transaction() as tx:
            row = tx.one(
                f"SELECT j.id FROM cd_jobs j WHERE (j.status = 'queued' OR (j.status = 'running' AND j.lease_until < {now})) "
                "AND NOT EXISTS (SELECT 1 FROM cd_jobs e WHERE e.thread_id = j.thread_id AND e.id < j.id "
                "AND e.status IN ('queued', 'running')) "
                f"ORDER BY j.id LIMIT 1{lock}")
            if row is None:
                return None
            claimed = tx.one(
                f"UPDATE cd_jobs SET status = 'running', worker = %s, attempts = attempts + 1, lease_until = {now} + %s, "
                "updated_at = %s WHERE id = %s RETURNING id, payload, attempts", (worker, lease_s, _now(), row[0]))
            assert claimed is not None
            job = Job.model_validate({**json.loads(claimed[1]), "id": claimed[0], "attempts": claimed[2], "worker": worker})
            if job.attempts > max_attempts:
                job.exhausted = True  # the worker reports it failed instead of running it again
            return job

    def renew(self, job: Job, lease_s: float) -> bool:
        """Extend the lease; False when another worker has taken the job over (stop working on it)."""
        with self.db.transaction() as tx:
            return tx.rowcount(f"UPDATE cd_jobs SET lease_until = {self.db.now_sql()} + %s WHERE id = %s AND worker = %s "
                               "AND attempts = %s AND status = 'running'", (lease_s, job.id, job.worker, job.attempts)) == 1

    def finish(self, job: Job, outcome: JobOutcome) -> bool:
        with self.db.transaction() as tx:
            done = tx.rowcount("UPDATE cd_jobs SET status = %s, result = %s, updated_at = %s WHERE id = %s AND worker = %s "
                               "AND attempts = %s", ("failed" if outcome.status == "failed" else "done",
                                                     outcome.model_dump_json(), _now(), job.id, job.worker, job.attempts)) == 1
            tx.notify(JOBS_CHANNEL, f"done:{job.id}")
            return done

    def job_outcome(self, job_id: int) -> JobOutcome | None:
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT status, result FROM cd_jobs WHERE id = %s", (job_id,))
        if row is None or row[0] in ("queued", "running") or not row[1]:
            return None
        return JobOutcome.model_validate_json(row[1])

    def queued_jobs(self) -> int:
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT COUNT(*) FROM cd_jobs WHERE status IN ('queued', 'running')")
        return int(row[0]) if row else 0

    # ------------------------------------------------------------ retention

    def prune(self, before: datetime) -> dict[str, int]:
        """Forget what no door needs any more, older than `before`: finished jobs, dedupe keys (Slack and alert
        retries come within minutes), resolved alert groups, and the event streams of runs that ended. Open runs,
        runs waiting for an answer, the run registry itself and the audit trail are kept whatever their age."""
        cutoff = before.astimezone(timezone.utc).isoformat()
        keep = ", ".join(["%s"] * len(_LIVE_STATUSES))
        with self.db.transaction() as tx:
            return {
                "jobs": tx.rowcount("DELETE FROM cd_jobs WHERE status IN ('done', 'failed') AND updated_at < %s", (cutoff,)),
                "events": tx.rowcount(f"DELETE FROM cd_events WHERE created_at < %s AND thread_id IN (SELECT thread_id FROM cd_runs "
                                      f"WHERE updated_at < %s AND status NOT IN ({keep}))", (cutoff, cutoff, *_LIVE_STATUSES)),
                "keys": tx.rowcount("DELETE FROM cd_keys WHERE created_at < %s", (cutoff,)),
                "alert_groups": tx.rowcount("DELETE FROM cd_alert_groups WHERE state = 'resolved' AND updated_at < %s", (cutoff,)),
            }

    # ------------------------------------------------------------- events

    def append_event(self, thread_id: str, type_: str, data: dict[str, Any]) -> RunEvent:
        """The run's next event; ids are consecutive per run and survive restarts (SSE's Last-Event-ID)."""
        with self.db.transaction() as tx:
            row = tx.one("UPDATE cd_runs SET last_event_id = last_event_id + 1 WHERE thread_id = %s RETURNING last_event_id",
                         (thread_id,))
            if row is None:
                raise KeyError(f"no run {thread_id}")
            event = RunEvent(id=int(row[0]), thread_id=thread_id, type=type_, data=data)  # type: ignore[arg-type]
            tx.execute("INSERT INTO cd_events (thread_id, id, type, data, created_at) VALUES (%s, %s, %s, %s, %s)",
                       (thread_id, event.id, type_, json.dumps(data, ensure_ascii=False, default=str), _now()))
            tx.notify(EVENTS_CHANNEL, thread_id)
            return event

    def events_after(self, thread_id: str, after: int = 0, limit: int = 1000) -> list[RunEvent]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute("SELECT id, type, data FROM cd_events WHERE thread_id = %s AND id > %s ORDER BY id LIMIT %s",
                              (thread_id, after, limit))
        return [RunEvent(id=r[0], thread_id=thread_id, type=r[1], data=json.loads(r[2])) for r in rows]

    def last_event_ids(self, thread_ids: list[str]) -> dict[str, int]:
        if not thread_ids:
            return {}
        marks = ", ".join(["%s"] * len(thread_ids))
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(f"SELECT thread_id, last_event_id FROM cd_runs WHERE thread_id IN ({marks})", thread_ids)
        return {r[0]: int(r[1]) for r in rows}

    def latest_seq(self) -> int:
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT MAX(seq) FROM cd_events")
        return int(row[0] or 0) if row else 0

    # ---------------------------------------------------------- visibility

    def share(self, thread_id: str, user_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO cd_shares (thread_id, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING", (thread_id, user_id))

    def is_shared(self, thread_id: str, user_id: str) -> bool:
        with self.db.transaction(write=False) as tx:
            return tx.one("SELECT 1 FROM cd_shares WHERE thread_id = %s AND user_id = %s", (thread_id, user_id)) is not None

    def visible_runs(self, user_id: str, environments: Iterable[str], limit: int = 50) -> list[ThreadInfo]:
        """Runs this user started, runs in environments they may approve, runs shared with them; newest first."""
        envs = sorted(set(environments))
        env_clause = f" OR environment IN ({', '.join(['%s'] * len(envs))})" if envs else ""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT body FROM cd_runs WHERE requested_by = %s{env_clause} "
                "OR thread_id IN (SELECT thread_id FROM cd_shares WHERE user_id = %s) ORDER BY updated_at DESC LIMIT %s",
                [user_id, *envs, user_id, limit])
        return [parse_run(r[0]) for r in rows]

    # -------------------------------------------------------------- slack

    def _save_slack(self, tx: Tx, place: SlackPlace) -> None:
        tx.execute("INSERT INTO cd_slack_threads (thread_id, channel, thread_ts, body) VALUES (%s, %s, %s, %s) "
                   "ON CONFLICT (thread_id) DO UPDATE SET channel = excluded.channel, thread_ts = excluded.thread_ts, "
                   "body = excluded.body", (place.thread_id, place.channel, place.thread_ts, place.model_dump_json()))

    def save_slack_place(self, place: SlackPlace) -> None:
        with self.db.transaction() as tx:
            self._save_slack(tx, place)

    def slack_place(self, thread_id: str) -> SlackPlace | None:
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT body FROM cd_slack_threads WHERE thread_id = %s", (thread_id,))
        return SlackPlace.model_validate_json(row[0]) if row else None

    def slack_thread_run(self, channel: str, thread_ts: str) -> str | None:
        """The newest run that posts in this Slack thread (a reply there belongs to it)."""
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT s.thread_id FROM cd_slack_threads s JOIN cd_runs r ON r.thread_id = s.thread_id "
                         "WHERE s.channel = %s AND s.thread_ts = %s ORDER BY r.created_at DESC LIMIT 1", (channel, thread_ts))
        return row[0] if row else None

    # ------------------------------------------------------------- alerts

    def alert_group(self, key: str) -> tuple[str, str, dict[str, Any]] | None:
        """(thread id, state, what was recorded) of an alert group's run, if one was started."""
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT thread_id, state, body FROM cd_alert_groups WHERE key = %s", (key,))
        return (row[0], row[1], json.loads(row[2])) if row else None

    def update_alert_group(self, key: str, body: dict[str, Any]) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE cd_alert_groups SET body = %s, updated_at = %s WHERE key = %s", (json.dumps(body), _now(), key))

    def open_alert_runs(self, service: str) -> int:
        """Runs still open (queued, running or waiting) for a service's alert groups."""
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT COUNT(*) FROM cd_alert_groups g JOIN cd_runs r ON r.thread_id = g.thread_id "
                         "WHERE g.service = %s AND g.state = 'firing' AND r.status IN ('queued', 'running', 'awaiting_approval')",
                         (service,))
        return int(row[0]) if row else 0

    def start_alert_run(self, key: str, service: str, info: ThreadInfo, spec: JobSpec, slack: SlackPlace | None,
                        body: dict[str, Any]) -> int | None:
        """Start the run of a newly firing group (replacing a resolved one); None when it already has an open run."""
        try:
            with self.db.transaction() as tx:
                existing = tx.one("SELECT state FROM cd_alert_groups WHERE key = %s", (key,))
                if existing is not None and existing[0] == "firing":
                    raise _Duplicate()
                if not insert_run(tx, info):
                    raise _Duplicate()
                tx.execute("INSERT INTO cd_alert_groups (key, thread_id, service, state, body, updated_at) "
                           "VALUES (%s, %s, %s, 'firing', %s, %s) ON CONFLICT (key) DO UPDATE SET thread_id = excluded.thread_id, "
                           "service = excluded.service, state = 'firing', body = excluded.body, updated_at = excluded.updated_at",
                           (key, info.thread_id, service, json.dumps(body), _now()))
                if slack is not None:
                    self._save_slack(tx, slack)
                return self._insert_job(tx, spec)
        except _Duplicate:
            return None

    def resolve_alert_group(self, key: str) -> str | None:
        """Mark a group resolved; the thread id of its run, or None when it was not firing."""
        with self.db.transaction() as tx:
            row = tx.one("UPDATE cd_alert_groups SET state = 'resolved', updated_at = %s WHERE key = %s AND state = 'firing' "
                         "RETURNING thread_id", (_now(), key))
        return row[0] if row else None

    # -------------------------------------------------------------- audit

    def append_audit(self, record: dict[str, Any]) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO cd_audit (at, event, record) VALUES (%s, %s, %s)",
                       (str(record.get("ts") or _now()), str(record.get("event", "")), json.dumps(record, default=str)))

    def audit_records(self, limit: int = 1000) -> list[dict[str, Any]]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute("SELECT record FROM cd_audit ORDER BY seq LIMIT %s", (limit,))
        return [json.loads(r[0]) for r in rows]


class _Duplicate(Exception):
    """A dedupe key or thread id was already taken (the transaction rolls back)."""


def open_store(settings: Settings) -> DoorStore:
    """The shared store (PostgreSQL when configured, else data_dir/doors.sqlite), schema applied."""
    return DoorStore(open_database(settings))
