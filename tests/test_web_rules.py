"""The web door's rules over a real server: who sees which run, size caps, a broken tokens file, shares.

Runs are the real graph over a recorded incident in prod (a batch job saturating web3's CPU).
"""

from __future__ import annotations

import os
import time

import httpx
import pytest

from config.settings import Settings, reset_settings
from graphs.errors import ConfigError
from interfaces.web.app import create_app
from interfaces.web.config import WebConfig
from interfaces.web.runs import DoorWorld
from tests.doors_harness import wait_drained, worker_thread
from tests.test_web import ALICE, ASK, KIM, SCENARIO, bearer, read_events, start
from tests.web_server import serve

DEV = "dev-token-1f0c7e9a5d2b"  # a developer who did not ask: may not see a prod incident
TOKENS = (f"tokens:\n  - {{user: alice, roles: [developer], token: {ALICE}}}\n"
          f"  - {{user: bob, roles: [developer], token: {DEV}}}\n"
          f"  - {{user: kim, roles: [devops-lead], token: {KIM}}}\n")


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    reset_settings()
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(TOKENS)
    config = WebConfig(tokens_file=tokens, world=DoorWorld(world="recorded", scenario=SCENARIO), keepalive_s=1,
                       max_body_bytes=20_000, max_alert_bytes=4_000, max_field_chars=500)
    app = create_app(config, settings, slack=False)
    with worker_thread(settings), serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client, tokens, settings
        wait_drained(settings)
    reset_settings()


def test_a_token_sees_its_own_runs_runs_it_may_approve_and_runs_shared_with_it(server):
    client, _, _ = server
    thread = start(client, ALICE)
    read_events(client, thread, ALICE, until="approval")
    assert client.get(f"/api/runs/{thread}", headers=bearer(ALICE)).status_code == 200  # asked it
    assert client.get(f"/api/runs/{thread}", headers=bearer(KIM)).status_code == 200  # devops-lead approves prod
    hidden = client.get(f"/api/runs/{thread}", headers=bearer(DEV))
    assert hidden.status_code == 404 and "may see" in hidden.json()["error"]
    assert client.get(f"/api/runs/{thread}/events", headers=bearer(DEV)).status_code == 404
    assert client.post(f"/api/runs/{thread}/decisions", json={"approved": False}, headers=bearer(DEV)).status_code == 404
    assert thread not in [r["thread_id"] for r in client.get("/api/runs", headers=bearer(DEV)).json()]
    assert thread in [r["thread_id"] for r in client.get("/api/runs", headers=bearer(KIM)).json()]

    assert client.post(f"/api/runs/{thread}/shares", json={"user": "mallory"}, headers=bearer(ALICE)).status_code == 400
    assert client.post(f"/api/runs/{thread}/shares", json={"user": "bob"}, headers=bearer(DEV)).status_code == 404
    shared = client.post(f"/api/runs/{thread}/shares", json={"user": "bob"}, headers=bearer(ALICE))
    assert shared.status_code == 200
    assert client.get(f"/api/runs/{thread}", headers=bearer(DEV)).json()["status"] == "awaiting_approval"
    assert thread in [r["thread_id"] for r in client.get("/api/runs", headers=bearer(DEV)).json()]


def test_every_field_has_a_cap_and_big_bodies_are_refused_before_they_are_read(server):
    client, _, _ = server
    huge = client.post("/api/runs", content=b'{"text": "' + b"x" * 5_000_000 + b'"}',
                       headers={**bearer(ALICE), "Content-Type": "application/json"})
    assert huge.status_code == 413 and "larger than 20,000 bytes" in huge.json()["error"]
    long_text = client.post("/api/runs", json={"text": "y" * 4_001, "env": "dev"}, headers=bearer(ALICE))
    assert long_text.status_code == 400 and "keep it under 4,000" in long_text.json()["error"]
    big_alert = {"name": "HighLatency", "summary": "z" * 4_500}
    assert client.post("/api/runs", json={"alert": big_alert}, headers=bearer(ALICE)).status_code == 413
    long_field = {"name": "HighLatency", "summary": "z" * 600}
    refused = client.post("/api/runs", json={"alert": long_field}, headers=bearer(ALICE))
    assert refused.status_code == 400 and refused.json()["error"].startswith("alert.summary is 600 characters")
    reason = client.post("/api/runs/web-x/decisions", json={"approved": False, "reason": "r" * 2_001}, headers=bearer(KIM))
    assert reason.status_code == 422 and reason.json()["error"].startswith("reason:")
    assert "zzzz" not in refused.text


def test_a_destroy_confirmation_is_asked_in_the_widgets_words(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False, terraform_dir=tmp_path / "tf")
    import shutil
    from pathlib import Path
    repo = Path(__file__).resolve().parent.parent
    shutil.copytree(repo / "terraform", tmp_path / "tf")
    monkeypatch.setenv("FAKE_TF_LOG", str(tmp_path / "tf.log"))
    settings = settings.model_copy(update={"terraform_bin": str(repo / "tests" / "fake_terraform" / "terraform")})
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(TOKENS)
    from datetime import datetime
    app = create_app(WebConfig(tokens_file=tokens), settings, slack=False,
                     clock=lambda: datetime.fromisoformat("2026-03-03T10:00:00+09:00"))
    with worker_thread(settings), serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        thread = start(client, ALICE, {"text": "prod 전체 삭제해", "env": "prod"})
        approval = read_events(client, thread, ALICE, until="approval")[-1][2]
        assert approval["confirmation"] == "prod"
        refused = client.post(f"/api/runs/{thread}/decisions", json={"approved": True}, headers=bearer(KIM))
        assert refused.status_code == 409
        assert refused.json()["error"] == "type prod in the confirmation box to approve: this destroys prod"
        assert "--confirm" not in refused.text
        wait_drained(settings)


def test_a_broken_tokens_file_refuses_to_start_and_a_broken_edit_keeps_the_last_good_tokens(tmp_path, server, caplog):
    client, tokens, settings = server
    assert client.get("/api/me", headers=bearer(DEV)).status_code == 200
    tokens.write_text("tokens: [ {user: bob, roles: [developer], token: short} ]\n")
    os.utime(tokens, (time.time() + 5, time.time() + 5))
    for _ in range(3):
        still = client.get("/api/me", headers=bearer(DEV))
        assert still.status_code == 200 and still.json()["id"] == "bob"
    assert [r.message for r in caplog.records if "keeping the last good tokens" in r.message][:1]
    broken = tmp_path / "broken.yaml"
    broken.write_text("tokens:\n  - {user: eve, roles: [root], token: eve-token-0123456789}\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: user 'eve' has unknown role\(s\) root"):
        create_app(WebConfig(tokens_file=broken), settings, slack=False)
