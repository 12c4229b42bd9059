"""Door tables do not grow for ever: finished work older than the retention is pruned, live work never is.

The real store on SQLite (the same SQL runs on PostgreSQL in the scale-out test's cluster), rows aged by
rewriting their timestamps, then `DoorStore.prune` and the `cloud-doctor prune` command.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from config.settings import Settings
from graphs.threads import ThreadInfo
from interfaces.queue.models import JobOutcome, JobSpec
from interfaces.queue.store import open_store
from tests.postgres_harness import postgres_url  # noqa: F401 (fixture)

OLD = (datetime.now(timezone.utc) - timedelta(days=90)).isoformat()


def _run(store, thread: str, status: str, *, key: str) -> None:
    store.start_run(ThreadInfo(thread_id=thread, door="web", status="running"), JobSpec(thread_id=thread, kind="start"), keys=[key])
    store.append_event(thread, "progress", {"text": f"{thread} working"})
    job = store.claim("w1", 30, 3)
    assert job is not None and job.thread_id == thread
    if status != "running":
        store.finish(job, JobOutcome(status="done"))
    info = store.registry.get(thread)
    info.status = status
    store.registry.save(info)


def _age(store, thread: str) -> None:
    with store.db.transaction() as tx:
        tx.execute("UPDATE cd_runs SET updated_at = %s, created_at = %s WHERE thread_id = %s", (OLD, OLD, thread))
        tx.execute("UPDATE cd_events SET created_at = %s WHERE thread_id = %s", (OLD, thread))
        tx.execute("UPDATE cd_jobs SET updated_at = %s, created_at = %s WHERE thread_id = %s", (OLD, OLD, thread))
        tx.execute("UPDATE cd_keys SET created_at = %s WHERE key = %s", (OLD, f"key-{thread}"))


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return open_store(Settings(data_dir=tmp_path / "data", memory_enabled=False))
    import psycopg

    server = request.getfixturevalue("postgres_url")
    name = f"retention_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return open_store(Settings(data_dir=tmp_path / "data", memory_enabled=False, database_url=server.rsplit("/", 1)[0] + f"/{name}"))


def test_finished_work_older_than_the_retention_goes_and_live_work_stays(store):
    for thread, status in (("web-old-done", "completed"), ("web-old-waiting", "awaiting_approval"),
                           ("web-old-question", "needs_input"), ("web-new-done", "completed"), ("web-old-running", "running")):
        _run(store, thread, status, key=f"key-{thread}")
    for thread in ("web-old-done", "web-old-waiting", "web-old-question", "web-old-running"):
        _age(store, thread)
    store.append_audit({"event": "approval", "thread_id": "web-old-done", "at": OLD})

    pruned = store.prune(datetime.now(timezone.utc) - timedelta(days=30))

    assert pruned["events"] == 1  # only the stream of the old run that ended
    assert pruned["jobs"] == 3  # the old finished jobs (a waiting run gets a new job when it is answered); the running one stays
    assert store.queued_jobs() == 1
    assert pruned["keys"] == 4  # dedupe keys of every old run (retries come within minutes)
    assert store.events_after("web-old-done") == []
    for kept in ("web-old-waiting", "web-old-question", "web-old-running", "web-new-done"):  # someone may still approve or answer; or it is recent
        assert [e.data["text"] for e in store.events_after(kept)] == [f"{kept} working"]
    assert store.registry.get("web-old-done").status == "completed"  # the registry keeps every run
    assert any(r.get("thread_id") == "web-old-done" for r in store.audit_records())  # the audit trail is never pruned
    assert store.prune(datetime.now(timezone.utc) - timedelta(days=30)) == {"jobs": 0, "events": 0, "keys": 0, "alert_groups": 0}


def test_the_prune_command_uses_the_setting_or_its_option(tmp_path):
    data = tmp_path / "data"
    store = open_store(Settings(data_dir=data, memory_enabled=False))
    _run(store, "web-old-done", "completed", key="key-web-old-done")
    _age(store, "web-old-done")
    env = {"CLOUD_DOCTOR_DATA_DIR": str(data), "CLOUD_DOCTOR_MEMORY_ENABLED": "false", "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-c", "from interfaces.cli import main; main()", "prune"]
    kept = subprocess.run([*cli, "--older-than-days", "120", "--json"], capture_output=True, text=True, env=env)
    assert kept.returncode == 0 and json.loads(kept.stdout)["pruned"]["events"] == 0  # 90 days old: inside 120
    gone = subprocess.run([*cli, "--json"], capture_output=True, text=True, env=env)  # the default: 30 days
    assert gone.returncode == 0 and json.loads(gone.stdout) == {"older_than_days": 30, "pruned": {"jobs": 1, "events": 1, "keys": 1, "alert_groups": 0}}
    bad = subprocess.run([*cli, "--older-than-days", "0"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "older-than-days" in bad.stderr and "Traceback" not in bad.stderr
