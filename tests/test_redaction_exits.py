"""No planted secret leaves through any exit.

A recorded incident gets the whole secrets corpus in its logs (one line per
element, so multi-line keys arrive split), in a command's output, in the alert
and in the asker's words. It is then replayed through the real doors: the CLI
(results.jsonl, report.md, report.html, audit.jsonl, stdout), with a model
configured against the local Bedrock and Vertex fakes (their request bodies),
the web door (the SSE stream and the run view), the Slack door (every call the
fake Slack received), and incident memory (what Chroma stores). Each exit must
show a mask (the secrets arrived) and none of the secrets.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from agents.llm import ModelRouter, ModelsConfig, RoleConfig
from config.settings import Settings, reset_settings
from graphs.routing import RouteChoice
from interfaces.slack_app import SlackConfig, SlackSetup
from interfaces.web.app import create_app
from interfaces.web.config import WebConfig
from interfaces.web.runs import DoorWorld
from memory.records import IncidentRecord
from tests.cli_helpers import REPO, cli
from tests.fake_slack import FakeSlack
from tests.llm_servers import FakeModelServer
from tests.secrets_corpus import CASES, leaked
from interfaces.slack_outbox import make_web_client, outbox_factory_from_env
from tests.doors_harness import worker_thread
from tests.test_slack_app import CHANNEL, SECRET, USERS, SlackHarness, _server_loop
from tests.test_web import ALICE, bearer, read_events
from tests.web_server import serve
from tools.audit import AuditLog
from tools.redaction import MASK

BASE = REPO / "evals" / "scenarios" / "memory-leak-api.yaml"
ONE_LINE = [c["text"] for c in CASES if "\n" not in c["text"]]
WORDS = "web2 api memory keeps growing, OOM killer fired. " + " ".join(c["text"] for c in CASES if c["lang"] == "ko" and "\n" not in c["text"])


def planted_scenario(tmp_path: Path) -> Path:
    """The memory-leak incident with every corpus case planted in logs, a command output, the alert and the words."""
    scenario = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    scenario["id"] = "planted-secrets"
    alert = scenario["input"]["alert"]
    alert["summary"] = alert["summary"] + " | " + " | ".join(ONE_LINE[:20])
    alert.setdefault("annotations", {})["description"] = "\n".join(c["text"] for c in CASES)
    scenario["input"]["text"] = WORDS
    host = scenario["world"]["hosts"]["web2"]
    host["systemctl status api"] += "\n".join(c["text"] for c in CASES) + "\n"
    logs = scenario["world"]["logs"]["cloudwatch:/shop/prod/api"]
    for case in CASES:
        logs += [f"2026-03-03T13:4{i % 10}:00+09:00 ERROR {line}" for i, line in enumerate(case["text"].split("\n"))]
    path = tmp_path / "planted.yaml"
    path.write_text(yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def assert_masked_and_clean(where: str, text: str) -> None:
    assert MASK in text, f"{where}: no mask, so the planted secrets never arrived here"
    assert not leaked(text), f"{where}: {leaked(text)[:3]}"


def test_replay_leaks_nothing_to_files_console_or_audit(tmp_path):
    scenario = planted_scenario(tmp_path)
    out, data = tmp_path / "out", tmp_path / "data"
    result = cli("replay", str(scenario), "--out", str(out), data_dir=data, env={"CLOUD_DOCTOR_MEMORY_ENABLED": "false"})
    assert result.returncode == 0, result.stderr
    for name in ("results.jsonl", "report.md", "report.html"):
        assert_masked_and_clean(name, (out / name).read_text(encoding="utf-8"))
    assert_masked_and_clean("console", result.stdout + result.stderr + (out / "report.md").read_text(encoding="utf-8"))
    audit = data / "audit.jsonl"
    assert not leaked(audit.read_text(encoding="utf-8")) if audit.exists() else True


def test_the_vertex_request_body_is_redacted_at_the_router(tmp_path):
    config = ModelsConfig(roles={"triage": RoleConfig(provider="vertex", model="gemini-2.5-flash")},
                          providers={"vertex": {"project": "shop-prod", "location": "us-central1"}})
    with FakeModelServer() as server:
        config.providers["vertex"]["endpoint"] = server.url
        server.answers.append({"args": {"agent": "diagnostician", "reason": "an alert"}})
        router = ModelRouter(config, Settings(data_dir=tmp_path))
        import asyncio

        try:
            asyncio.run(router.structured("triage", "route", {"text": "\n\n".join(c["text"] for c in CASES)}, RouteChoice))
        except Exception:
            pass  # the answer does not matter here: what was sent does
        bodies = server.bodies()
    assert server.requests
    assert_masked_and_clean("vertex request body", bodies)


def test_the_cli_log_digest_and_console_leak_nothing(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("\n".join(f"2026-03-03T13:40:00Z ERROR {line}" for c in CASES for line in c["text"].split("\n")) + "\n",
                   encoding="utf-8")
    result = cli("logs", "summarize", str(log), "--budget", "20000", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert_masked_and_clean("logs summarize", result.stdout)


@pytest.fixture
def model():
    with FakeModelServer() as server:
        yield server


@pytest.fixture
def doors(tmp_path, monkeypatch, model):
    """The web app with the Slack door and a fake Slack, over the planted incident, the triage model on the Bedrock fake."""
    monkeypatch.setenv("CLOUD_DOCTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    for name, value in {"CLOUD_DOCTOR_TRIAGE_PROVIDER": "bedrock", "CLOUD_DOCTOR_TRIAGE_MODEL": "anthropic.claude-sonnet-4-20250514-v1:0",
                        "CLOUD_DOCTOR_BEDROCK_ENDPOINT": model.url,
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"tokens:\n  - {{user: alice, name: Alice, roles: [developer], token: {ALICE}}}\n")
    with FakeSlack() as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-0000000000-test")
        monkeypatch.setenv("SLACK_API_URL", fake.base_url)
        setup = SlackSetup(SlackConfig(users=USERS, channels={CHANNEL: "prod"}), SECRET, make_web_client("xoxb-0000000000-test"))
        config = WebConfig(tokens_file=tokens, world=DoorWorld(world="recorded", scenario=planted_scenario(tmp_path)), keepalive_s=1)
        app = create_app(config, settings, slack=setup)
        # The doors only queue runs; a worker (here in-process) runs them and posts to Slack.
        with worker_thread(settings, outbox_factory=outbox_factory_from_env(settings)), serve(app) as base, \
                httpx.Client(base_url=base, timeout=120) as http:
            harness = SlackHarness(base, fake, app, settings)
            harness.loop = _server_loop(app)
            yield http, harness
            harness.wait_idle()
    reset_settings()


def test_the_sse_stream_the_run_view_and_the_model_request_leak_nothing(doors, model):
    http, _ = doors
    response = http.post("/api/runs", json={"text": WORDS, "env": "prod"}, headers=bearer(ALICE))
    assert response.status_code == 202, response.text
    thread = response.json()["thread_id"]
    events = read_events(http, thread, ALICE, until="report")
    assert_masked_and_clean("SSE stream", json.dumps(events, ensure_ascii=False))
    view = http.get(f"/api/runs/{thread}", headers=bearer(ALICE))
    assert view.status_code == 200 and not leaked(view.text)
    assert model.requests, "the triage model was never asked: the model exit was not exercised"
    assert_masked_and_clean("Bedrock request bodies", model.bodies())


def test_slack_posts_leak_nothing(doors):
    _, slack = doors
    ack = slack.command(WORDS + " prod")
    assert ack.status_code == 200 and not leaked(ack.text)
    slack.wait_idle()  # the run has ended or waits for approval: every post it makes is made
    assert_masked_and_clean("Slack calls", "\n".join(c.text_dump() for c in slack.fake.calls))


def test_the_audit_log_leaks_nothing(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    for case in CASES:
        log.append("command", command=case["text"], output=case["text"].split("\n"), env={"DB_PASSWORD": case["secrets"][0]})
    assert_masked_and_clean("audit.jsonl", log.path.read_text(encoding="utf-8"))


def test_incident_memory_stores_nothing_secret(tmp_path):
    from memory.incidents import open_incident_store

    store = open_incident_store(Settings(data_dir=tmp_path / "data", chroma_url=None))
    for i, case in enumerate(CASES[:40]):
        store.add(IncidentRecord(title=f"incident {i}: {case['text'][:80]}", summary=case["text"], root_cause="memory_leak",
                                 evidence=case["text"].split("\n"), fix=case["text"], outcome="resolved"))
    stored = store.collection.get(include=["documents", "metadatas"])
    dump = json.dumps({"documents": stored["documents"], "metadatas": stored["metadatas"]}, ensure_ascii=False)
    planted = [s for c in CASES[:40] for s in c["secrets"]]
    assert MASK in dump and not [s for s in planted if s in dump]
