"""Scheduled runs: a recurring check ("매일 아침 9시에 prod 비용 확인해줘") becomes a schedule, and each
occurrence a run of its own.

The planner reads the words into a `Schedule` (cron fields in the policy's
timezone, and the words of the check); `register_schedule` writes it to the
shared database, and workers start a run for it whenever it is due
(interfaces/worker.py): the same graph, the same guard, the same approvals
as asking once. Each occurrence is claimed by moving `next_run_at` forward in
one conditional UPDATE, so two workers never start the same occurrence.
A recorded world (replay) never writes a schedule.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command
from pydantic import BaseModel, Field

from agents.context import context_from
from config.settings import Settings
from graphs.database import Database, Migration, open_database
from graphs.errors import NotFoundError, UserInputError
from graphs.state import AgentNote, OpsState, Schedule

SCHEDULES_SCHEMA = Migration(
    "0003_schedules",
    sqlite=[
        "CREATE TABLE IF NOT EXISTS cd_schedules (id TEXT PRIMARY KEY, body TEXT NOT NULL, next_run_at TEXT NOT NULL, "
        "enabled INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS cd_schedules_due ON cd_schedules (enabled, next_run_at)",
    ],
    postgres=[
        "CREATE TABLE IF NOT EXISTS cd_schedules (id TEXT PRIMARY KEY, body TEXT NOT NULL, next_run_at TEXT NOT NULL, "
        "enabled INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS cd_schedules_due ON cd_schedules (enabled, next_run_at)",
    ],
)


class ScheduleError(UserInputError):
    """A cron expression or timezone that cannot be scheduled."""


def next_occurrence(cron: str, tz: str, after: datetime) -> datetime:
    """The first time after `after` that `cron` (five fields, in timezone `tz`) matches, in UTC."""
    try:
        zone = ZoneInfo(tz)
    except Exception:
        raise ScheduleError(f"unknown timezone {tz!r}") from None
    local = after.astimezone(zone).replace(second=0, microsecond=0)
    try:
        moment = next(CronSim(cron, local))
    except CronSimError as exc:
        raise ScheduleError(f"cron {cron!r}: {exc}") from None
    except StopIteration:
        raise ScheduleError(f"cron {cron!r} never matches") from None
    return moment.astimezone(timezone.utc)


class ScheduledRun(BaseModel):
    """A registered schedule: what runs, when next, and what it did last."""

    id: str
    schedule: Schedule
    created_by: str = ""
    thread_id: str | None = None  # the run that asked for it (its Slack thread, if any, hears about each run)
    next_run_at: datetime
    last_run_at: datetime | None = None
    last_thread: str | None = None
    runs: int = 0
    enabled: bool = True
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


def schedule_id(schedule: Schedule, thread_id: str | None) -> str:
    digest = hashlib.sha1(json.dumps([schedule.cron, schedule.timezone, schedule.text, schedule.environment, thread_id],
                                     ensure_ascii=False).encode()).hexdigest()[:8]
    return f"SCH-{digest}"


class ScheduleStore:
    def __init__(self, db: Database):
        self.db = db
        db.migrate([SCHEDULES_SCHEMA])

    def save(self, run: ScheduledRun) -> None:
        now = datetime.now(timezone.utc).isoformat()
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO cd_schedules (id, body, next_run_at, enabled, created_at, updated_at) "
                       "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET body = excluded.body, "
                       "next_run_at = excluded.next_run_at, enabled = excluded.enabled, updated_at = excluded.updated_at",
                       (run.id, run.model_dump_json(), run.next_run_at.isoformat(), int(run.enabled), run.created_at.isoformat(), now))

    def find(self, schedule_id: str) -> ScheduledRun | None:
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT body FROM cd_schedules WHERE id = %s", (schedule_id,))
        return ScheduledRun.model_validate_json(row[0]) if row else None

    def list(self) -> list[ScheduledRun]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute("SELECT body FROM cd_schedules ORDER BY next_run_at")
        return [ScheduledRun.model_validate_json(r[0]) for r in rows]

    def remove(self, schedule_id: str) -> None:
        with self.db.transaction() as tx:
            if tx.rowcount("DELETE FROM cd_schedules WHERE id = %s", (schedule_id,)) != 1:
                raise NotFoundError(f"no schedule {schedule_id!r} (see `cloud-doctor schedules`)")

    def claim_due(self, now: datetime) -> list[ScheduledRun]:
        """Schedules due at `now`, each claimed by moving its next run forward (a schedule another worker claimed
        first is left to it). A schedule missed for a while runs once, not once per missed occurrence."""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute("SELECT body, next_run_at FROM cd_schedules WHERE enabled = 1 AND next_run_at <= %s "
                              "ORDER BY next_run_at LIMIT 20", (now.isoformat(),))
        claimed: list[ScheduledRun] = []
        for body, due in rows:
            run = ScheduledRun.model_validate_json(body)
            following = next_occurrence(run.schedule.cron, run.schedule.timezone, now)
            updated = run.model_copy(update={"next_run_at": following, "last_run_at": now, "runs": run.runs + 1})
            with self.db.transaction() as tx:
                moved = tx.rowcount("UPDATE cd_schedules SET next_run_at = %s, body = %s, updated_at = %s "
                                    "WHERE id = %s AND next_run_at = %s",
                                    (following.isoformat(), updated.model_dump_json(), now.isoformat(), run.id, due))
            if moved == 1:
                claimed.append(updated)
        return claimed

    def ran(self, schedule_id: str, thread_id: str) -> None:
        run = self.find(schedule_id)
        if run is not None:
            self.save(run.model_copy(update={"last_thread": thread_id}))


def open_schedules(settings: Settings) -> ScheduleStore:
    return ScheduleStore(open_database(settings))


def describe_cron(schedule: Schedule, language: str) -> str:
    """The schedule in words a person checks at a glance: its fields, its timezone and its next time."""
    after = datetime.now(timezone.utc)
    try:
        upcoming = next_occurrence(schedule.cron, schedule.timezone, after).astimezone(ZoneInfo(schedule.timezone))
        when = f"{upcoming:%Y-%m-%d %H:%M}"
    except ScheduleError as exc:
        when = str(exc)
    if language == "ko":
        return f"`{schedule.cron}` ({schedule.timezone}, 다음 실행 {when})"
    return f"`{schedule.cron}` ({schedule.timezone}, next {when})"


async def register_schedule(state: OpsState, config: RunnableConfig) -> Command[Literal["supervisor"]]:
    """Write the plan's recurring check as a schedule (live worlds only); idempotent: re-running writes the same."""
    ctx = context_from(config)
    change = state["spec_change"]
    assert change is not None and change.schedule is not None
    schedule = change.schedule
    thread_id = ((config or {}).get("configurable") or {}).get("thread_id")
    sid = schedule_id(schedule, thread_id)
    notes: list[AgentNote] = []
    if ctx.world.name == "recorded":
        notes.append(AgentNote(agent="planner", text=f"replay: schedule {sid} was not written (recorded world)"))
    else:
        store = open_schedules(ctx.settings)
        if store.find(sid) is None:
            first = next_occurrence(schedule.cron, schedule.timezone, datetime.now(timezone.utc))
            request = state["request"]
            store.save(ScheduledRun(id=sid, schedule=schedule.model_copy(update={"id": sid}), created_by=request.user.id,
                                    thread_id=thread_id, next_run_at=first))
            ctx.audit.append("schedule_registered", schedule=sid, cron=schedule.cron, timezone=schedule.timezone,
                             text=schedule.text, environment=schedule.environment, by=request.user.id)
        notes.append(AgentNote(agent="planner", text=f"schedule {sid} registered: `{schedule.cron}` ({schedule.timezone}); "
                                                     "each run goes through the guard and the policy like a request asked once"))
    updated = change.model_copy(update={"schedule": schedule.model_copy(update={"id": sid})})
    return Command(goto="supervisor", update={"spec_change": updated, "notes": notes})


def due_after(minutes: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


__all__ = ["ScheduleError", "ScheduleStore", "ScheduledRun", "describe_cron", "next_occurrence", "open_schedules",
           "register_schedule", "schedule_id"]
