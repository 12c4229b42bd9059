"""Two replicas and two workers on one PostgreSQL, as real processes, against a fake Slack Web API.

`cloud-doctor serve --workers 0` twice and `cloud-doctor worker` twice start
together on a fresh database (migrations and the checkpoint tables under
advisory locks). One Slack event delivered to both replicas makes one run; a
click on the other replica approves it; the worker applying the approved
Terraform change (the stand-in terraform holds each operation for a few
seconds) is killed with SIGKILL, and the other worker takes the job over
from the checkpoint when the lease lapses; every Slack message is posted once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg
import pytest

from tests.fake_slack import FakeSlack, signed_headers
from tests.postgres_harness import postgres_url  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parent.parent
SECRET = "scale-out-signing-secret-0001"
CHANNEL = "CSTAGING1"
pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fleet:
    def __init__(self, tmp: Path, url: str, fake: FakeSlack):
        self.tmp, self.url, self.fake = tmp, url, fake
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: list[int] = []
        terraform = tmp / "terraform"
        shutil.copytree(REPO / "terraform", terraform)
        (tmp / "slack.yaml").write_text(
            "users:\n  UDEVOPS01: {name: kim, roles: [devops]}\n  UASKER001: {name: alice, roles: [developer]}\n"
            f"channels:\n  {CHANNEL}: staging\n")
        (tmp / "web.yaml").write_text("tokens_file: tokens.yaml\nworld: {world: live}\n")
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "CLOUD_DOCTOR_DATABASE_URL": url,
                    "CLOUD_DOCTOR_SLACK_CONFIG": str(tmp / "slack.yaml"), "CLOUD_DOCTOR_WEB_CONFIG": str(tmp / "web.yaml"),
                    "SLACK_BOT_TOKEN": "xoxb-scale-out", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.base_url,
                    "CLOUD_DOCTOR_TERRAFORM_BIN": str(REPO / "tests" / "fake_terraform" / "terraform"),
                    "CLOUD_DOCTOR_TERRAFORM_DIR": str(terraform), "FAKE_TF_DELAY": "3", "FAKE_TF_LOG": str(tmp / "tf.log"),
                    "CLOUD_DOCTOR_MEMORY_ENABLED": "false", "CLOUD_DOCTOR_JOB_LEASE_S": "2",
                    "CLOUD_DOCTOR_SLACK_PROGRESS_INTERVAL_S": "1"}

    def _start(self, name: str, args: list[str]) -> None:
        data = self.tmp / name
        data.mkdir()
        log = (self.tmp / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "interfaces.cli", *args], cwd=REPO, stdout=log,
                                            stderr=subprocess.STDOUT, env={**self.env, "CLOUD_DOCTOR_DATA_DIR": str(data)})

    def start(self) -> None:
        for index in range(2):
            port = _port()
            self.ports.append(port)
            self._start(f"replica{index}", ["serve", "--port", str(port), "--workers", "0"])
            self._start(f"worker{index}", ["worker", "--name", f"worker{index}"])
        deadline = time.monotonic() + 90
        for port in self.ports:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
                assert not dead and time.monotonic() < deadline, f"processes died or never answered: {dead}\n{self.logs()}"
                time.sleep(0.1)  # waiting for another process to bind its port: nothing to wait on but the port

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.tmp.glob("*.log")))

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def post(self, replica: int, body: str, content_type: str) -> httpx.Response:
        headers = {"Content-Type": content_type, **signed_headers(SECRET, body, int(time.time()))}
        return httpx.post(f"http://127.0.0.1:{self.ports[replica]}/slack/events", content=body.encode(), headers=headers, timeout=30)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def wait_slack(self, method: str, where, timeout: float = 90) -> list:
        try:
            return self.fake.wait_for(method, where, timeout=timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def wait_until(self, what: str, check, timeout: float = 90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)  # the other processes write to PostgreSQL; this reads until the condition holds
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")


@pytest.fixture
def fleet(tmp_path, postgres_url):  # noqa: F811 (fixture)
    name = f"scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with FakeSlack() as fake:
        fleet = Fleet(tmp_path, url, fake)
        try:
            fleet.start()
            yield fleet
        finally:
            fleet.stop()


def _click(fleet: Fleet, approval: dict, user: str) -> str:
    button = next(e for b in approval["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "cd_approve")
    payload = {"type": "block_actions", "user": {"id": user}, "channel": {"id": CHANNEL}, "trigger_id": f"t-{uuid.uuid4().hex}",
               "container": {"type": "message", "message_ts": approval["answered_ts"], "channel_id": CHANNEL},
               "message": {"ts": approval["answered_ts"], "thread_ts": approval["thread_ts"]},
               "actions": [{"type": "button", "action_id": "cd_approve", "block_id": "cd_decide", "value": button["value"]}]}
    return urlencode({"payload": json.dumps(payload)})


def test_two_replicas_two_workers_one_run_per_event_clicks_anywhere_and_a_killed_worker_is_taken_over(fleet):
    event = {"type": "app_mention", "user": "UASKER001", "channel": CHANNEL, "ts": "1700200000.000100",
             "text": "<@UBOT0DOC> EKS 노드 수를 3개로 변경 staging", "event_ts": "1700200000.000100"}
    body = json.dumps({"type": "event_callback", "event_id": "Ev0SCALE01", "team_id": "T0", "event": event})
    answers = [fleet.post(0, body, "application/json"), fleet.post(1, body, "application/json")]
    assert [a.status_code for a in answers] == [200, 200]
    approval = fleet.wait_slack("chat.postMessage", lambda c: any(b["type"] == "actions" for b in c.get("blocks") or []))[0]
    assert [r[0] for r in fleet.query("SELECT count(*) FROM cd_runs")] == [1], "one event made two runs"
    [(thread_id,)] = fleet.query("SELECT thread_id FROM cd_runs")

    # Approve on the other replica; kill the worker that applies the change while terraform holds the lock.
    assert fleet.post(1, _click(fleet, approval, "UDEVOPS01"), "application/x-www-form-urlencoded").status_code == 200
    holder = fleet.wait_until("the decision's job to be claimed", lambda: fleet.query(
        "SELECT worker FROM cd_jobs WHERE kind = 'decide' AND status = 'running'"))[0][0]
    fleet.wait_until("terraform to start", lambda: fleet.query(
        "SELECT 1 FROM cd_events WHERE thread_id = %s AND type = 'progress' AND data LIKE %s", (thread_id, "%terraform%apply%")))
    fleet.procs[holder].send_signal(signal.SIGKILL)
    fleet.procs[holder].wait(10)

    done = fleet.wait_until("the run to finish on the other worker", lambda: fleet.query(
        "SELECT data FROM cd_events WHERE thread_id = %s AND type = 'done'", (thread_id,)), timeout=120)
    assert json.loads(done[0][0])["status"] == "completed", fleet.logs()
    [(attempts, worker)] = fleet.query("SELECT attempts, worker FROM cd_jobs WHERE kind = 'decide'")
    assert attempts == 2 and worker != holder
    assert fleet.query("SELECT 1 FROM cd_events WHERE thread_id = %s AND data LIKE %s", (thread_id, "%resumed by worker%"))
    fleet.wait_slack("chat.postMessage", lambda c: c.get("text", "").startswith("completed"))

    # A late click on the first replica is answered there, privately.
    assert fleet.post(0, _click(fleet, approval, "UDEVOPS01"), "application/x-www-form-urlencoded").status_code == 200
    late = fleet.wait_slack("chat.postEphemeral", lambda c: "no longer open" in c.get("text", ""))[0]
    assert late["user"] == "UDEVOPS01"

    posts = fleet.fake.find("chat.postMessage", lambda c: c.get("metadata"))
    posted = [(c["metadata"]["event_payload"]["thread_id"], c["metadata"]["event_payload"]["event_id"]) for c in posts]
    assert len(posted) == len(set(posted)), f"a Slack message was posted twice: {posted}"
    delivered = fleet.query("SELECT body FROM cd_slack_threads WHERE thread_id = %s", (thread_id,))
    last_event = fleet.query("SELECT max(id) FROM cd_events WHERE thread_id = %s", (thread_id,))[0][0]
    assert json.loads(delivered[0][0])["delivered"] == last_event, "an event never reached Slack"
    reports = [c for c in fleet.fake.find("chat.postMessage") if c.get("text", "").startswith(("awaiting approval", "completed"))]
    assert [r["text"].split(" ", 1)[0] for r in reports] == ["awaiting", "completed"]
