"""Recurring checks: asked for in words, registered as a schedule, started by workers when due, once per occurrence.

Real SQLite store, a real worker thread and the live world (the reference spec), no clock tricks beyond moving a
schedule's next run into the past.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from config.settings import REPO_ROOT, Settings
from graphs.checkpoints import open_checkpointer
from graphs.runner import start_run
from graphs.schedules import ScheduleError, ScheduleStore, ScheduledRun, next_occurrence, open_schedules
from graphs.state import Request, Schedule, UserRef
from graphs.threads import open_registry
from graphs.database import Database
from interfaces.context import build_context, close_context
from tests.doors_harness import wait_drained, worker_thread


def test_next_occurrence_is_computed_in_the_schedule_timezone():
    after = datetime(2026, 4, 14, 1, 30, tzinfo=timezone.utc)  # 10:30 in Seoul
    assert next_occurrence("0 9 * * *", "Asia/Seoul", after) == datetime(2026, 4, 15, 0, 0, tzinfo=timezone.utc)
    assert next_occurrence("0 3 * * SUN", "Asia/Seoul", after) == datetime(2026, 4, 18, 18, 0, tzinfo=timezone.utc)
    assert next_occurrence("30 9 * * *", "UTC", after) == datetime(2026, 4, 14, 9, 30, tzinfo=timezone.utc)
    with pytest.raises(ScheduleError, match="cron"):
        next_occurrence("99 * * * *", "UTC", after)
    with pytest.raises(ScheduleError, match="timezone"):
        next_occurrence("0 9 * * *", "Mars/Olympus", after)


def test_a_due_schedule_is_claimed_once_however_many_workers_look(tmp_path):
    path = tmp_path / "doors.sqlite"
    one, two = ScheduleStore(Database(path=path)), ScheduleStore(Database(path=path))
    now = datetime(2026, 4, 14, 1, 30, tzinfo=timezone.utc)
    schedule = Schedule(kind="check", cron="0 9 * * *", timezone="Asia/Seoul", text="prod 비용 확인해줘", environment="prod")
    one.save(ScheduledRun(id="SCH-test0001", schedule=schedule, next_run_at=now - timedelta(days=3)))  # missed three days
    claimed = one.claim_due(now)
    assert [r.id for r in claimed] == ["SCH-test0001"] and claimed[0].runs == 1
    assert two.claim_due(now) == [] and one.claim_due(now + timedelta(hours=1)) == []  # once, not once per missed day
    stored = two.find("SCH-test0001")
    assert stored is not None and stored.next_run_at == datetime(2026, 4, 15, 0, 0, tzinfo=timezone.utc)


def test_asking_for_a_recurring_check_registers_it_and_a_worker_runs_it_when_due(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_DOCTOR_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False, schedule_poll_s=0.05)
    request = Request(text="매일 아침 9시에 운영 비용 확인해줘", user=UserRef(id="U01DEV1", name="minji"), door="cli")

    async def ask():
        async with open_checkpointer(settings) as saver:
            ctx = build_context(settings)
            try:
                return await start_run(request, ctx, saver, thread_id="cli-sched1")
            finally:
                await close_context(ctx)

    outcome = asyncio.run(ask())
    assert outcome.status == "completed" and outcome.spec_change.schedule is not None
    schedule_id = outcome.spec_change.schedule.id
    store = open_schedules(settings)
    [registered] = store.list()
    assert registered.id == schedule_id and registered.thread_id == "cli-sched1" and registered.schedule.text == "운영 비용 확인해줘"
    assert registered.next_run_at > datetime.now(timezone.utc)
    asyncio.run(ask())  # asking again in the same thread registers nothing new
    assert len(store.list()) == 1

    store.save(registered.model_copy(update={"next_run_at": datetime.now(timezone.utc) - timedelta(minutes=1)}))
    with worker_thread(settings) as worker:
        deadline = datetime.now(timezone.utc) + timedelta(seconds=30)
        while store.find(schedule_id).last_thread is None and datetime.now(timezone.utc) < deadline:  # type: ignore[union-attr]
            wait_drained(settings)
        wait_drained(settings)
        assert worker.jobs_done >= 1
    ran = store.find(schedule_id)
    assert ran is not None and ran.runs == 1 and ran.last_thread is not None
    run = open_registry(settings).get(ran.last_thread)
    assert run.status == "completed" and run.request is not None and run.request.text == "운영 비용 확인해줘"
    assert run.requested_by == "U01DEV1" and "prod" in run.headline and "$" in run.headline
    assert ran.next_run_at > datetime.now(timezone.utc)


def test_the_schedules_command_lists_and_removes(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    schedule = Schedule(kind="check", cron="0 10 * * MON", timezone="Asia/Seoul", text="check staging redis", environment="staging")
    open_schedules(settings).save(ScheduledRun(id="SCH-cli00001", schedule=schedule, next_run_at=datetime(2030, 1, 7, 1, tzinfo=timezone.utc)))
    env = {**os.environ, "CLOUD_DOCTOR_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "interfaces.cli", "schedules", *args], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    listed = json.loads(cli("--json").stdout)
    assert [s["id"] for s in listed] == ["SCH-cli00001"] and listed[0]["schedule"]["cron"] == "0 10 * * MON"
    assert "SCH-cli00001" in cli().stdout
    assert cli("remove", "SCH-cli00001").returncode == 0 and json.loads(cli("--json").stdout) == []
    gone = cli("remove", "SCH-cli00001")
    assert gone.returncode == 2 and "no schedule 'SCH-cli00001'" in gone.stderr
