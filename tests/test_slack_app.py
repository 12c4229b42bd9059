"""The Slack door end to end: signed requests to the real bolt app served by uvicorn, a fake Slack Web API.

The run is the real graph over a recorded incident (a prod batch job saturating
web3's CPU): a slash command is acknowledged at once, the report and an approval
request land in the thread, two clicks from the right roles resume and finish
the run, an unmapped user's click is refused, and a retried event runs once.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from config.settings import Settings, reset_settings
from graphs.threads import open_registry
from graphs.errors import ConfigError
from interfaces.queue.store import open_store
from interfaces.slack_app import SlackConfig, SlackSetup, SlackUser, load_slack_config, parse_request_words, split_environment
from interfaces.slack_outbox import make_web_client, outbox_factory_from_env
from interfaces.web.app import create_app
from interfaces.web.config import WebConfig
from interfaces.web.runs import DoorWorld
from tests.doors_harness import wait_drained, worker_thread
from tests.fake_slack import FakeSlack, SlackCall, signed_headers
from tests.web_server import serve

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "evals" / "scenarios" / "incidents" / "cpu-saturation-settlement-batch.yaml"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
USERS = {
    "UALICE01": SlackUser(name="alice", roles=["developer"]),
    "ULEE0002": SlackUser(name="lee", roles=["sre"]),
    "UKIM0003": SlackUser(name="kim", roles=["devops-lead"]),
    "UPARK004": SlackUser(name="park", roles=["cto"]),
}
CHANNEL = "CPRODOPS"
TUESDAY = datetime.fromisoformat("2026-03-03T10:00:00+09:00")  # inside prod's deployment window
ASK = "web3 load average 14.8 on 4 vCPU, api p99 latency 2.9s; DSN postgres://app:hunter2@db1:5432/shop prod"


class SlackHarness:
    def __init__(self, base: str, fake: FakeSlack, app, settings: Settings):
        self.base, self.fake, self.app, self.settings = base, fake, app, settings
        self.http = httpx.Client(base_url=base, timeout=30)

    def _post(self, body: str, content_type: str, retry: int | None = None) -> httpx.Response:
        headers = {"Content-Type": content_type, **signed_headers(SECRET, body, int(time.time()), retry)}
        return self.http.post("/slack/events", content=body.encode(), headers=headers)

    def command(self, text: str, user: str = "UALICE01", channel: str = CHANNEL) -> httpx.Response:
        body = urlencode({"token": "legacy", "team_id": "T0TEAM", "api_app_id": "A0DOC", "command": "/doctor", "text": text,
                          "user_id": user, "user_name": USERS.get(user, SlackUser(name="someone")).name, "channel_id": channel,
                          "trigger_id": "13345224609.738474920.8088930838d88f008e0", "response_url": self.fake.base_url + "response"})
        return self._post(body, "application/x-www-form-urlencoded")

    def click(self, approval: SlackCall, action_id: str, user: str) -> httpx.Response:
        button = next(e for b in approval["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id)
        payload = {
            "type": "block_actions", "api_app_id": "A0DOC", "token": "legacy", "team": {"id": "T0TEAM"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"}, "channel": {"id": approval["channel"]},
            "container": {"type": "message", "message_ts": approval["answered_ts"], "channel_id": approval["channel"], "is_ephemeral": False},
            "trigger_id": "13345224609.738474920.8088930838d88f008e1", "response_url": self.fake.base_url + "response",
            "message": {"ts": approval["answered_ts"], "text": approval.get("text", "")},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "cd_decide", "value": button["value"], "action_ts": "1"}],
        }
        return self._post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def submit(self, view: dict, user: str, typed: str) -> httpx.Response:
        values = {"confirm": {"value": {"type": "plain_text_input", "value": typed}},
                  "reason": {"value": {"type": "plain_text_input", "value": "planned teardown"}}}
        payload = {"type": "view_submission", "api_app_id": "A0DOC", "token": "legacy", "team": {"id": "T0TEAM"},
                   "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"}, "trigger_id": "1.2.3",
                   "view": {**view, "id": "V1", "team_id": "T0TEAM", "state": {"values": values}}}
        return self._post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def event(self, event: dict, event_id: str, retry: int | None = None) -> httpx.Response:
        body = json.dumps({"token": "legacy", "team_id": "T0TEAM", "api_app_id": "A0DOC", "type": "event_callback",
                           "event_id": event_id, "event_time": int(time.time()), "event": event})
        return self._post(body, "application/json", retry)

    def wait_idle(self) -> None:
        """Until the door's own replies are sent and the workers have finished every queued job."""
        door = self.app.state.slack
        asyncio.run_coroutine_threadsafe(door.wait_idle(), self.loop).result(120)
        wait_drained(self.settings)

    def thread_of(self, thread_ts: str, channel: str = CHANNEL) -> str:
        """The run that posts in a Slack thread."""
        thread_id = open_store(self.settings).slack_thread_run(channel, thread_ts)
        assert thread_id is not None, f"no run posts in {channel} {thread_ts}"
        return thread_id


@pytest.fixture
def slack(request, tmp_path, monkeypatch):
    """The web app with the Slack door, a fake Slack, and the recorded CPU saturation (or, parametrized "live",
    the live world over a copy of the reference Terraform project with the stand-in terraform)."""
    monkeypatch.setenv("CLOUD_DOCTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    reset_settings()
    terraform = tmp_path / "terraform"
    shutil.copytree(REPO / "terraform", terraform)
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False, terraform_dir=terraform,
                        terraform_bin=str(REPO / "tests" / "fake_terraform" / "terraform"))
    monkeypatch.setenv("FAKE_TF_LOG", str(tmp_path / "terraform-calls.log"))
    with FakeSlack() as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-0000000000-test")
        monkeypatch.setenv("SLACK_API_URL", fake.base_url)
        setup = SlackSetup(SlackConfig(users=USERS, channels={CHANNEL: "prod"}), SECRET, make_web_client("xoxb-0000000000-test"))
        live = getattr(request, "param", None) == "live"
        config = WebConfig(world=DoorWorld(world="live") if live else DoorWorld(world="recorded", scenario=SCENARIO))
        clock = (lambda: TUESDAY) if live else None
        app = create_app(config, settings, slack=setup, clock=clock)
        with worker_thread(settings, outbox_factory=outbox_factory_from_env(settings)), serve(app) as base:
            harness = SlackHarness(base, fake, app, settings)
            harness.loop = _server_loop(app)
            yield harness
            harness.wait_idle()
    reset_settings()


def _server_loop(app):
    """The server's event loop (the harness schedules waits on it)."""
    return app.state.runs.feed._task.get_loop()


def _in_thread(ts: str):
    return lambda c: c.get("thread_ts") == ts


def _approval(call: SlackCall) -> bool:
    return any(b["type"] == "actions" for b in call.get("blocks") or [])


def _block_text(call: SlackCall) -> str:
    return json.dumps(call.get("blocks") or [], ensure_ascii=False)


def test_slash_command_acks_at_once_then_posts_report_and_approval_in_the_thread(slack):
    started = time.perf_counter()
    ack = slack.command(ASK)
    assert ack.status_code == 200 and time.perf_counter() - started < 3.0
    assert "On it" in ack.text
    assert not slack.fake.find("chat.postMessage", _approval), "the door answered only after the run (Slack gives up after 3 s)"

    root = slack.fake.wait_for("chat.postMessage", lambda c: "thread_ts" not in c)[0]
    assert root["channel"] == CHANNEL and root["text"].startswith("`prod` 🩺 <@UALICE01> asked:")
    in_thread = _in_thread(root["answered_ts"])
    approval = slack.fake.wait_for("chat.postMessage", lambda c: in_thread(c) and _approval(c))[0]
    text = _block_text(approval)
    for must in ("kill -s TERM 30211", "risk high", "*Rollback*", "*Cost*", "*Still needed*", "devops-lead or cto", "web3"):
        assert must in text, must
    report = slack.fake.wait_for("chat.postMessage", lambda c: in_thread(c) and "cpu_saturation" in _block_text(c))[0]
    assert "awaiting approval" in report["text"]
    slack.wait_idle()

    progress = slack.fake.find("chat.postMessage", lambda c: in_thread(c) and "working" in c.get("text", ""))
    assert len(progress) == 1, "progress goes in one message that is then updated"
    updates = slack.fake.find("chat.update", lambda c: c["ts"] == progress[0]["answered_ts"])
    assert updates and "web3: `" in updates[-1]["text"] and "approval pending" in updates[-1]["text"] and updates[-1]["text"].startswith("`prod` ⏸️ waiting for approval")
    assert len(updates) <= 3, f"progress edits are throttled; got {len(updates)}"
    dump = "\n".join(c.text_dump() for c in slack.fake.calls)
    assert "hunter2" not in dump, "a secret from the request reached Slack"
    thread_posts = [c for c in slack.fake.calls if c.get("thread_ts") == root["answered_ts"] or c.method == "chat.update"]
    assert all(c.get("text", "").startswith("`prod`") or c.get("text", "").startswith("awaiting approval (prod)")
               or "Approval needed (prod)" in c.get("text", "") for c in thread_posts), "a post that does not name the environment"
    info = open_registry(slack.settings).get(slack.thread_of(root["answered_ts"]))
    assert info.status == "awaiting_approval" and info.door == "slack" and info.environment == "prod"


def test_two_clicks_from_the_right_roles_resume_and_finish_and_strangers_are_refused(slack):
    slack.command(ASK)
    root = slack.fake.wait_for("chat.postMessage", lambda c: "thread_ts" not in c)[0]
    thread_ts = root["answered_ts"]
    approval = slack.fake.wait_for("chat.postMessage", lambda c: _in_thread(thread_ts)(c) and _approval(c))[0]
    slack.wait_idle()

    # Someone without a mapping in slack.yaml: refused privately, nothing recorded.
    assert slack.click(approval, "cd_approve", "UNOBODY9").status_code == 200
    refusal = slack.fake.wait_for("chat.postEphemeral", lambda c: c["user"] == "UNOBODY9")[0]
    assert "no roles in config/slack.yaml" in refusal["text"] and refusal["thread_ts"] == thread_ts
    # The asker (a developer) cannot approve prod.
    slack.click(approval, "cd_approve", "UALICE01")
    assert "cannot approve this" in slack.fake.wait_for("chat.postEphemeral", lambda c: c["user"] == "UALICE01")[0]["text"]

    slack.click(approval, "cd_approve", "ULEE0002")
    first = slack.fake.wait_for("chat.postMessage", lambda c: _in_thread(thread_ts)(c) and "approved by lee (sre)" in c["text"])[0]
    assert first["text"].endswith("still needed: 1 approval from senior or devops or sre or devops-lead or cto; "
                                  "1 approval from devops-lead or cto")
    updated = slack.fake.wait_for("chat.update", lambda c: c["ts"] == approval["answered_ts"])[-1]
    assert _approval(updated) and "1 approval from devops-lead or cto" in _block_text(updated)
    slack.wait_idle()

    slack.click(approval, "cd_approve", "UKIM0003")
    slack.fake.wait_for("chat.postMessage", lambda c: _in_thread(thread_ts)(c) and "approved by kim (devops-lead)" in c["text"])
    final = slack.fake.wait_for("chat.postMessage", lambda c: _in_thread(thread_ts)(c) and c["text"].startswith("completed"))[0]
    assert "approved by lee (sre)" in _block_text(final) and "approved by kim (devops-lead)" in _block_text(final)
    assert "kill -s TERM 30211" in _block_text(final)
    slack.wait_idle()
    closed = slack.fake.find("chat.update", lambda c: c["ts"] == approval["answered_ts"])[-1]
    assert not _approval(closed) and "closed: completed" in _block_text(closed), "buttons stay after the run finished"
    info = open_registry(slack.settings).get(slack.thread_of(thread_ts))
    assert info.status == "completed"
    audit = [json.loads(line) for line in (slack.settings.audit_log).read_text().splitlines()]
    decisions = [(e["name"], e["role"]) for e in audit if e["event"] == "approval_decision"]
    assert decisions == [("lee", "sre"), ("kim", "devops-lead")]
    # A late click on the closed request changes nothing.
    slack.click(approval, "cd_reject", "ULEE0002")
    late = slack.fake.wait_for("chat.postEphemeral", lambda c: c["user"] == "ULEE0002")[0]
    assert "no longer open" in late["text"]


def test_reject_button_ends_the_run_with_nothing_done(slack):
    slack.command(ASK)
    root = slack.fake.wait_for("chat.postMessage", lambda c: "thread_ts" not in c)[0]
    approval = slack.fake.wait_for("chat.postMessage", lambda c: _in_thread(root["answered_ts"])(c) and _approval(c))[0]
    slack.wait_idle()
    slack.click(approval, "cd_reject", "UKIM0003")
    final = slack.fake.wait_for("chat.postMessage", lambda c: _in_thread(root["answered_ts"])(c) and c["text"].startswith("rejected"))[0]
    assert "nothing was changed" in final["text"]
    slack.wait_idle()
    audit = [json.loads(line) for line in slack.settings.audit_log.read_text().splitlines()]
    assert not [e for e in audit if e["event"] == "command" and "kill" in e["command"] and e["status"] == "executed"]


@pytest.mark.parametrize("slack", ["live"], indirect=True)
def test_destroying_prod_asks_to_type_its_name_in_a_modal_or_the_command(slack):
    slack.command("prod 전체 삭제해 prod")
    root = slack.fake.wait_for("chat.postMessage", lambda c: "thread_ts" not in c)[0]
    approval = slack.fake.wait_for("chat.postMessage", lambda c: _in_thread(root["answered_ts"])(c) and _approval(c))[0]
    assert "type `prod` to confirm" in _block_text(approval)
    slack.wait_idle()
    thread_id = slack.thread_of(root["answered_ts"])

    slack.click(approval, "cd_approve", "UKIM0003")
    modal = slack.fake.wait_for("views.open")[0]
    assert modal["trigger_id"] and modal["view"]["callback_id"] == "cd_confirm"
    wrong = slack.submit(modal["view"], "UKIM0003", "staging")
    assert wrong.status_code == 200 and wrong.json() == {"response_action": "errors", "errors": {"confirm": "type prod exactly to confirm"}}
    assert open_registry(slack.settings).get(thread_id).status == "awaiting_approval"
    right = slack.submit(modal["view"], "UKIM0003", "prod")
    assert right.status_code == 200 and not right.content
    slack.fake.wait_for("chat.postMessage", lambda c: "approved by kim (devops-lead)" in c["text"])
    slack.wait_idle()

    # The typed fallback: `/doctor approve <run> confirm <env>`.
    slack.command(f"approve {thread_id} confirm prod", user="UPARK004")
    final = slack.fake.wait_for("chat.postMessage", lambda c: _in_thread(root["answered_ts"])(c) and c["text"].startswith("completed"))[0]
    assert "approved by park (cto)" in _block_text(final)
    slack.wait_idle()
    assert open_registry(slack.settings).get(thread_id).status == "completed"


def test_a_retried_mention_is_processed_once(slack):
    event = {"type": "app_mention", "user": "ULEE0002", "channel": CHANNEL, "ts": "1700100000.000200",
             "text": "<@UBOT0DOC> web3 load average 14.8 on 4 vCPU, api p99 latency 2.9s prod", "event_ts": "1700100000.000200"}
    assert slack.event(event, "Ev0RETRY01").status_code == 200
    assert slack.event(event, "Ev0RETRY01", retry=1).status_code == 200
    assert slack.event(event, "Ev0RETRY01", retry=2).status_code == 200
    slack.fake.wait_for("chat.postMessage", lambda c: _in_thread("1700100000.000200")(c) and _approval(c))
    slack.wait_idle()
    thread_calls = slack.fake.find("chat.postMessage", _in_thread("1700100000.000200"))
    assert len([c for c in thread_calls if _approval(c)]) == 1
    assert len([c for c in thread_calls if c["text"].startswith("awaiting approval")]) == 1
    assert not [c for c in thread_calls if "already has a run" in c["text"]], "the retry reached the door"
    runs = open_registry(slack.settings).list()
    assert [r.thread_id for r in runs] == [slack.thread_of("1700100000.000200")]


def test_requests_with_a_bad_signature_are_refused(slack):
    body = urlencode({"command": "/doctor", "text": "web2 down", "user_id": "UALICE01", "channel_id": CHANNEL})
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               **signed_headers("not-the-secret", body, int(time.time()))}
    assert slack.http.post("/slack/events", content=body, headers=headers).status_code == 401
    assert not slack.fake.find("chat.postMessage")


def test_a_channel_the_app_is_not_in_gets_a_private_hint(slack):
    slack.fake.outside_channels.add("CNOTIN01")
    assert slack.command("web2 is down", channel="CNOTIN01").status_code == 200
    hint = slack.fake.wait_for("response")[0]
    assert "not_in_channel" in hint["text"] and "/invite" in hint["text"]
    slack.wait_idle()
    [run] = open_registry(slack.settings).list()
    assert run.status == "failed" and "could not post" in run.headline, "a run went on that nobody can follow"


def test_shipped_slack_config_loads_and_unknown_roles_are_refused(tmp_path):
    config = load_slack_config(Settings(data_dir=tmp_path))
    assert config.command == "/doctor" and config.default_environment == "dev"
    bad = tmp_path / "slack.yaml"
    bad.write_text("users:\n  U1: {name: x, roles: [root]}\n")
    with pytest.raises(ConfigError, match="unknown role"):
        load_slack_config(Settings(data_dir=tmp_path), bad)


def test_environment_words():
    assert split_environment("web2 memory keeps growing prod", "dev") == ("web2 memory keeps growing", "prod")
    assert split_environment("why is staging slow", "dev") == ("why is staging slow", "dev")
    assert parse_request_words("emergency restart api on web2 prod", "dev") == ("restart api on web2", "prod", True, None)
    words, env, emergency, problem = parse_request_words("web2 is slow production", "staging")
    assert env == "staging" and problem and "`production` is not an environment here" in problem and "dev, staging, prod" in problem
