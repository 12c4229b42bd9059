"""What workers start on their own: scheduled checks that are due, and stage gates whose wait has passed.

Every worker calls `tick` every CLOUD_DOCTOR_SCHEDULE_POLL_S seconds. A due
schedule is claimed in the database (graphs/schedules.py) and becomes a new
run, queued like a door's (posting in the Slack channel of the thread that
asked for it, when there is one); a run waiting at a stage gate whose time
has come gets a "continue" in its thread, so the gate is checked again.
Dedupe keys make a second worker's tick a no-op.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from config.settings import Settings
from graphs.schedules import ScheduledRun, open_schedules
from graphs.state import Request, UserRef
from graphs.threads import ThreadInfo, new_thread_id
from interfaces.queue.models import JobSpec, SlackPlace
from interfaces.queue.store import DoorStore

log = logging.getLogger(__name__)


def _start_scheduled(store: DoorStore, run: ScheduledRun) -> str | None:
    schedule = run.schedule
    request = Request(text=schedule.text, environment=schedule.environment or "dev",  # type: ignore[arg-type]
                      environment_explicit=schedule.environment is not None,
                      user=UserRef(id=f"schedule:{run.id}", name=f"schedule {run.id}"), door="api")
    thread_id = new_thread_id("sched")
    info = ThreadInfo(thread_id=thread_id, door="api", environment=request.environment, status="queued", headline="queued",
                      requested_by=run.created_by or f"schedule:{run.id}", request=request)
    origin = store.slack_place(run.thread_id) if run.thread_id else None
    slack = SlackPlace(thread_id=thread_id, channel=origin.channel, environment=request.environment,
                       root_text=f"⏰ scheduled check {run.id} (`{schedule.cron}` {schedule.timezone}): {schedule.text}") if origin else None
    stamp = (run.last_run_at or datetime.now(timezone.utc)).isoformat()
    job = store.try_start_run(info, JobSpec(thread_id=thread_id, kind="start", request=request), keys=[f"schedule:{run.id}:{stamp}"],
                              slack=slack)
    return thread_id if job is not None else None


def _recheck_gates(store: DoorStore, now: datetime) -> list[str]:
    queued: list[str] = []
    for info in store.registry.with_status("waiting"):
        if info.resume_at is None or info.resume_at > now:
            continue
        request = Request(text="continue", environment=info.environment, user=UserRef(id="scheduler", name="scheduler"), door="api")  # type: ignore[arg-type]
        spec = JobSpec(thread_id=info.thread_id, kind="reply", request=request, world=info.world, scenario_path=info.scenario_path)
        if store.enqueue(spec, keys=[f"gate:{info.thread_id}:{info.resume_at.isoformat()}"]) is not None:
            queued.append(info.thread_id)
    return queued


def tick(store: DoorStore, settings: Settings, now: datetime | None = None) -> list[str]:
    """Queue what is due now; returns the threads started or continued."""
    now = now or datetime.now(timezone.utc)
    started: list[str] = []
    for run in open_schedules(settings).claim_due(now):
        thread_id = _start_scheduled(store, run)
        if thread_id is not None:
            open_schedules(settings).ran(run.id, thread_id)
            started.append(thread_id)
            log.info("schedule %s started %s", run.id, thread_id)
    started += _recheck_gates(store, now)
    return started


__all__ = ["tick"]
