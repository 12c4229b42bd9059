"""The Slack door's manners: Socket Mode, 429s waited out, bad payloads refused, long text and unknown
environments answered, the emergency override asked from Slack, and a post cut short by a crash not doubled.

Real bolt app and worker, fake Slack Web API (and a fake Socket Mode server).
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import pytest

from config.settings import Settings
from interfaces.queue.models import Job, JobOutcome, SlackPlace
from interfaces.queue.store import open_store
from interfaces.slack_app import SlackConfig, SlackSetup
from interfaces.slack_outbox import SlackOutbox, make_web_client
from interfaces.web.app import create_app
from interfaces.web.config import WebConfig
from interfaces.web.runs import DoorWorld
from graphs.threads import ThreadInfo
from tests.doors_harness import wait_drained, worker_thread
from tests.fake_slack import FakeSlack
from tests.fake_slack_socket import FakeSocketMode
from tests.test_slack_app import ASK, CHANNEL, SCENARIO, SECRET, USERS, SlackHarness, _server_loop
from interfaces.slack_outbox import outbox_factory_from_env
from tests.web_server import serve


@pytest.fixture
def door(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False, slack_progress_interval_s=0)
    with FakeSlack() as fake, FakeSocketMode() as socket_mode:
        fake.socket_url = socket_mode.url
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-door")
        monkeypatch.setenv("SLACK_API_URL", fake.base_url)
        setup = SlackSetup(SlackConfig(users=USERS, channels={CHANNEL: "prod"}, max_text_chars=500), SECRET,
                           make_web_client("xoxb-door"), app_token="xapp-1-A0DOC-test")
        app = create_app(WebConfig(world=DoorWorld(world="recorded", scenario=SCENARIO)), settings, slack=setup)
        with worker_thread(settings, outbox_factory=outbox_factory_from_env(settings)), serve(app) as base:
            harness = SlackHarness(base, fake, app, settings)
            harness.loop = _server_loop(app)
            harness.socket = socket_mode
            yield harness
            harness.wait_idle()


def _command_payload(text: str, user: str = "UALICE01") -> dict:
    return {"command": "/doctor", "text": text, "user_id": user, "user_name": "alice", "channel_id": CHANNEL, "team_id": "T0TEAM",
            "api_app_id": "A0DOC", "trigger_id": f"trig-{time.time_ns()}", "response_url": "http://127.0.0.1:9/response"}


def test_socket_mode_acks_a_command_and_the_run_answers_in_the_thread(door):
    ack = door.socket.send("slash_commands", _command_payload(ASK))
    assert "On it (prod)" in ack["payload"]["text"]
    root = door.fake.wait_for("chat.postMessage", lambda c: "thread_ts" not in c)[0]
    door.fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root["answered_ts"] and "awaiting approval" in c["text"])
    help_ack = door.socket.send("slash_commands", _command_payload("help"))
    assert "/doctor emergency" in help_ack["payload"]["text"]


def test_rate_limited_posts_are_retried_after_retry_after_and_not_lost(door):
    door.fake.rate_limit("chat.postMessage", 1, 1)
    door.command(ASK)
    root = door.fake.wait_for("chat.postMessage", lambda c: "thread_ts" not in c)[0]
    door.fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root["answered_ts"] and "awaiting approval" in c["text"])
    assert door.fake.limited_answers == ["chat.postMessage", "chat.postMessage"]
    assert not door.fake.find("response"), "a rate limit was mistaken for a missing invitation"


def test_bad_payloads_long_text_and_unknown_environments_get_clear_answers(door):
    garbage = door._post(urlencode({"payload": "not json"}), "application/x-www-form-urlencoded")
    assert garbage.status_code == 400 and garbage.json()["error"].startswith("not a Slack request")
    no_user = door._post(json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {}}), "application/json")
    assert no_user.status_code == 400 and "event.type" in no_user.json()["error"]
    long = door.command("x" * 100_000)
    assert long.status_code == 200 and "100,000 characters; I take up to 500" in long.text and len(long.text) < 300
    assert door.command("x" * 1_000_000).status_code == 413, "a body over the Slack cap is refused before it is read"
    for word in ("production", "qa"):
        answer = door.command(f"web2 api is slow {word}")
        assert f"`{word}` is not an environment here" in answer.text and "dev, staging, prod" in answer.text
    door.wait_idle()
    assert not open_store(door.settings).registry.list(), "a refused request started a run"


def test_emergency_can_be_asked_from_slack_and_needs_its_own_approval(door):
    answer = door.command(f"emergency {ASK}")
    assert "On it (prod, emergency)" in answer.text
    root = door.fake.wait_for("chat.postMessage", lambda c: "thread_ts" not in c)[0]
    assert "(emergency)" in root["text"]
    door.wait_idle()
    [run] = open_store(door.settings).registry.list()
    assert run.request is not None and run.request.emergency is True


def test_a_post_cut_short_by_a_crash_is_found_in_the_thread_and_not_posted_again(door):
    store = open_store(door.settings)
    store.registry.save(ThreadInfo(thread_id="slack-crash01", door="slack", environment="prod", status="running"))
    event = store.append_event("slack-crash01", "note", {"text": "posted before the crash"})
    client = make_web_client("xoxb-door")
    first = asyncio.run(client.chat_postMessage(channel=CHANNEL, text="root"))
    place = SlackPlace(thread_id="slack-crash01", channel=CHANNEL, thread_ts=first["ts"], environment="prod")

    async def crash_then_recover() -> None:
        outbox = SlackOutbox(store, make_web_client("xoxb-door"), place, 0)
        await outbox._post({"text": "`prod` posted before the crash"}, event.id)  # Slack has it; the worker dies here
        place.delivering = event.id
        store.save_slack_place(place)
        recovered = SlackOutbox(store, make_web_client("xoxb-door"), store.slack_place("slack-crash01"), 0)
        job = Job(id=1, thread_id="slack-crash01", kind="note")
        assert await recovered.open(job)
        await recovered.flush(job, JobOutcome(status="done"))

    asyncio.run(crash_then_recover())
    posts = door.fake.find("chat.postMessage", lambda c: "posted before the crash" in c.get("text", ""))
    assert len(posts) == 1 and store.slack_place("slack-crash01").delivered == event.id
