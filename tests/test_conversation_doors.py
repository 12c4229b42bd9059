"""Threads continue in every door: a question asked in the widget's API, in Slack or in the CLI is answered in the same
thread and the run goes on; a follow-up in a finished thread uses its context.

Real doors (uvicorn, the bolt app, the CLI in a subprocess), real workers and the real graph over a recorded request
scenario; a fake Slack Web API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from config.settings import Settings, reset_settings
from interfaces.queue.store import open_store
from interfaces.slack_app import SlackConfig, SlackSetup, SlackUser
from interfaces.slack_outbox import make_web_client, outbox_factory_from_env
from interfaces.web.app import create_app
from interfaces.web.config import WebConfig
from interfaces.web.runs import DoorWorld
from tests.doors_harness import door_settings, token_file, wait_drained, worker_thread
from tests.fake_slack import FakeSlack
from tests.test_slack_app import SECRET, SlackHarness, _server_loop
from tests.test_web import bearer, read_events
from tests.web_server import serve

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "evals" / "scenarios" / "requests" / "req-ko-thread-answer-goes-on.yaml"
MINJI, KIM, GUEST = "minji-token-7a1c2e9f40", "kim-token-1d5b3a8c72", "guest-token-9e4f0b2d11"
CHANNEL = "COPSKO01"
USERS = {"UMINJI01": SlackUser(name="minji", roles=["developer"]), "UKIM0001": SlackUser(name="kim", roles=["devops"])}


@pytest.fixture
def web(tmp_path, monkeypatch):
    settings = door_settings(tmp_path, monkeypatch)
    tokens = token_file(tmp_path, f"{{user: minji, name: Minji, roles: [developer], token: {MINJI}}}",
                        f"{{user: kim, name: Kim, roles: [devops], token: {KIM}}}", f"{{user: guest, name: Guest, roles: [], token: {GUEST}}}")
    config = WebConfig(tokens_file=tokens, world=DoorWorld(world="recorded", scenario=SCENARIO), keepalive_s=1)
    app = create_app(config, settings, slack=False)
    with worker_thread(settings), serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client, settings
        wait_drained(settings)
    reset_settings()


def _say(client: httpx.Client, thread: str, text: str, token: str = MINJI) -> None:
    response = client.post(f"/api/runs/{thread}/messages", json={"text": text}, headers=bearer(token))
    assert response.status_code == 202, response.text
    assert response.json()["thread_id"] == thread


def test_the_widget_api_answers_a_question_in_the_same_thread_and_the_run_goes_on(web):
    client, settings = web
    started = client.post("/api/runs", json={"text": "EKS 노드 수를 8개로 바꿔줘"}, headers=bearer(MINJI))
    thread = started.json()["thread_id"]
    events = read_events(client, thread, MINJI, "done")
    report = next(data for _, kind, data in events if kind == "report")
    assert report["status"] == "needs_input" and "어느 환경" in report["question"]
    view = client.get(f"/api/runs/{thread}", headers=bearer(MINJI)).json()
    assert view["status"] == "needs_input" and view["question"] == report["question"]

    _say(client, thread, "운영")
    after = read_events(client, thread, MINJI, "approval", after=events[-1][0])
    kinds = [kind for _, kind, _ in after]
    assert kinds[0] == "reply" and "report" in kinds
    reply = after[0][2]
    assert reply["text"] == "운영" and reply["user"] == "Minji" and reply["door"] == "web"
    approval = after[-1][2]
    assert approval["environment"] == "prod" and "node_count" in approval["action"]
    wait_drained(settings)
    view = client.get(f"/api/runs/{thread}", headers=bearer(MINJI)).json()
    assert view["status"] == "awaiting_approval" and view["question"] is None and view["turns"] == 1

    # a follow-up beside the waiting approval reads, and the approval still waits in the same thread
    _say(client, thread, "왜?")
    explained = read_events(client, thread, MINJI, "done", after=after[-1][0])
    answer = next(data for _, kind, data in explained if kind == "report")
    assert answer["status"] == "completed" and "node_count" in answer["headline"]
    wait_drained(settings)
    view = client.get(f"/api/runs/{thread}", headers=bearer(MINJI)).json()
    assert view["status"] == "awaiting_approval" and view["pending"] is not None and view["turns"] == 2


def test_a_follow_up_that_would_change_something_waits_for_the_pending_approval(web):
    client, settings = web
    thread = client.post("/api/runs", json={"text": "EKS 노드 수를 8개로 바꿔줘", "env": "prod"}, headers=bearer(MINJI)).json()["thread_id"]
    first = read_events(client, thread, MINJI, "approval")
    _say(client, thread, "스테이징에도 동일하게 해줘")
    held = read_events(client, thread, MINJI, "done", after=first[-1][0])
    report = next(data for _, kind, data in held if kind == "report")
    assert "승인" in report["headline"] and "새 변경을 시작하지 않았습니다" in report["headline"]
    wait_drained(settings)
    run = open_store(settings).registry.get(thread)
    assert run.status == "awaiting_approval" and run.graph_thread in (None, thread)


def test_messages_are_refused_for_threads_the_token_may_not_see_and_for_empty_words(web):
    client, settings = web
    thread = client.post("/api/runs", json={"text": "EKS 노드 수를 8개로 바꿔줘", "env": "dev"}, headers=bearer(MINJI)).json()["thread_id"]
    wait_drained(settings)
    assert client.post(f"/api/runs/{thread}/messages", json={"text": "  "}, headers=bearer(MINJI)).status_code == 400
    assert client.post(f"/api/runs/{thread}/messages", json={"text": "hi"}, headers=bearer(GUEST)).status_code == 404
    assert client.post("/api/runs/web-nope/messages", json={"text": "hi"}, headers=bearer(MINJI)).status_code == 404


# ------------------------------------------------------------------- Slack


@pytest.fixture
def slack(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_DOCTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    reset_settings()
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False, slack_progress_interval_s=0)
    with FakeSlack() as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-conversation")
        monkeypatch.setenv("SLACK_API_URL", fake.base_url)
        setup = SlackSetup(SlackConfig(users=USERS), SECRET, make_web_client("xoxb-conversation"))
        app = create_app(WebConfig(world=DoorWorld(world="recorded", scenario=SCENARIO)), settings, slack=setup)
        with worker_thread(settings, outbox_factory=outbox_factory_from_env(settings)), serve(app) as base:
            harness = SlackHarness(base, fake, app, settings)
            harness.loop = _server_loop(app)
            yield harness
            harness.wait_idle()
    reset_settings()


def _message(channel: str, user: str, text: str, ts: str, thread_ts: str | None = None, **extra) -> dict:
    event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "event_ts": ts, "channel_type": "channel"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {**event, **extra}


def test_a_reply_in_the_slack_thread_answers_the_question_and_the_run_goes_on(slack):
    mention = {"type": "app_mention", "channel": CHANNEL, "user": "UMINJI01", "text": "<@UDOCTOR> EKS 노드 수를 8개로 바꿔줘",
               "ts": "1700000000.000100", "event_ts": "1700000000.000100"}
    slack.event(mention, "Ev-ask-1")
    slack.wait_idle()
    root = "1700000000.000100"
    asked = slack.fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root and "needs input" in c["text"])[0]
    assert "Reply in this thread" in json.dumps(asked["blocks"], ensure_ascii=False)
    thread_id = slack.thread_of(root, CHANNEL)

    # the channel's own talk and the bot's own posts are not replies to the run
    slack.event(_message(CHANNEL, "UKIM0001", "lunch?", "1700000001.000100"), "Ev-talk")
    slack.event(_message(CHANNEL, "UBOT", "posted by a bot", "1700000001.000200", root, bot_id="B01"), "Ev-bot")
    # the answer arrives twice (as a message and, mentioning the app, as a mention): it counts once
    answer = _message(CHANNEL, "UMINJI01", "운영", "1700000002.000100", root)
    slack.event(answer, "Ev-answer-msg")
    slack.event({**answer, "type": "app_mention", "text": "<@UDOCTOR> 운영"}, "Ev-answer-mention")
    slack.wait_idle()
    approval = slack.fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root and "Approval" in json.dumps(c.get("blocks", [])))[0]
    assert approval["channel"] == CHANNEL
    store = open_store(slack.settings)
    run = store.registry.get(thread_id)
    assert run.status == "awaiting_approval" and run.turns == 1
    jobs = [kind for kind, in _jobs(store, thread_id)]
    assert jobs == ["start", "reply"], "the doubled delivery or the unrelated messages queued something"

    # a follow-up in the same thread is a new turn beside the approval, answered in the thread
    slack.event(_message(CHANNEL, "UKIM0001", "왜?", "1700000003.000100", root), "Ev-why")
    slack.wait_idle()
    why = slack.fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root and "node_count" in c["text"] and "completed" in c["text"])
    assert why
    assert store.registry.get(thread_id).turns == 2


def _jobs(store, thread_id: str) -> list[tuple[str]]:
    with store.db.transaction(write=False) as tx:
        return [tuple(r) for r in tx.execute("SELECT kind FROM cd_jobs WHERE thread_id = %s ORDER BY id", (thread_id,))]


# --------------------------------------------------------------------- CLI


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI in the live world over a copy of the reference Terraform project, planned by the stand-in terraform."""
    terraform = data_dir.parent / "terraform"
    if not terraform.exists():
        shutil.copytree(REPO / "terraform", terraform)
    env = {**os.environ, "CLOUD_DOCTOR_DATA_DIR": str(data_dir), "CLOUD_DOCTOR_MEMORY_ENABLED": "false", "COLUMNS": "200",
           "CLOUD_DOCTOR_TERRAFORM_DIR": str(terraform), "CLOUD_DOCTOR_TERRAFORM_BIN": str(REPO / "tests" / "fake_terraform" / "terraform")}
    return subprocess.run([sys.executable, "-m", "interfaces.cli", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_cli_answers_with_ask_thread_and_runs_shows_the_question(tmp_path):
    data = tmp_path / "data"
    first = _cli(data, "ask", "EKS 노드 늘리고 RDS 성능 향상시켜줘", "--json")
    assert first.returncode == 0, first.stderr
    asked = json.loads(first.stdout)
    thread = asked["thread"]
    assert asked["status"] == "needs_input" and asked["thread_id"] == thread and asked["waiting"] == "answer"
    assert len(asked["questions"]) == 2 and "(1)" in asked["question"] and "(2)" in asked["question"]

    runs = json.loads(_cli(data, "runs", "--json").stdout)
    mine = next(r for r in runs if r["thread_id"] == thread)
    assert mine["status"] == "needs_input" and mine["waiting_for"].startswith("an answer: ") and mine["question"] == asked["question"]
    table = _cli(data, "runs").stdout
    assert thread in table and "an answer:" in table

    second = json.loads(_cli(data, "ask", "(1) 하나 더 (2) 한 단계 위로", "--thread", thread, "--json").stdout)
    assert second["thread"] == thread and second["status"] == "needs_input" and len(second["questions"]) == 2  # which environment
    third = json.loads(_cli(data, "ask", "dev", "--thread", thread, "--json").stdout)
    assert third["status"] == "blocked" and third["question"] is None and "dev's limit" in third["headline"]  # one cost for both parts
    assert third["spec_change"]["changes"] == {"environments.dev.eks.node_count": 4, "environments.dev.rds.instance_class": "db.t3.small"}
    assert [p["words"] for p in third["spec_change"]["parts"]] == ["eks 노드 늘리고", "rds 성능 향상시켜줘"]

    follow = json.loads(_cli(data, "ask", "what would that cost in prod?", "--thread", thread, "--json").stdout)
    assert follow["turn"] == 2 and follow["status"] == "completed" and "prod:" in follow["headline"]
    text = _cli(data, "ask", "왜?", "--thread", thread)
    assert text.returncode == 0 and "turn 3" in text.stdout
    missing = _cli(data, "ask", "hello", "--thread", "cli-nope")
    assert missing.returncode == 2 and "no run with thread id" in missing.stderr and "Traceback" not in missing.stderr


def test_a_busy_thread_refuses_a_second_continuation_at_once(tmp_path):
    """Two people answering at the same moment from the CLI: one goes on, the other is told the run is still working."""
    from graphs.threads import ThreadInfo, open_registry

    settings = Settings(data_dir=tmp_path / "data")
    open_registry(settings).save(ThreadInfo(thread_id="cli-busy01", door="cli", status="running"))
    done = _cli(tmp_path / "data", "ask", "운영", "--thread", "cli-busy01")
    assert done.returncode == 2 and "still running" in done.stderr
