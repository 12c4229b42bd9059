"""The web door's API over a real uvicorn server: token auth, runs, SSE events, decisions, errors as JSON.

Runs are the real graph over a recorded incident (a prod batch job saturating
web3's CPU, whose fix needs two approvals, one from devops-lead or cto).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from config.settings import Settings, reset_settings
from interfaces.web.app import create_app
from interfaces.web.auth import token_digest
from interfaces.web.config import WebConfig, load_web_config
from interfaces.web.runs import DoorWorld
from tests.doors_harness import door_settings, token_file, wait_drained, worker_thread
from tests.web_server import serve

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "evals" / "scenarios" / "incidents" / "cpu-saturation-settlement-batch.yaml"
ALICE, LEE, KIM = "alice-token-5d1f0c7e9a", "lee-token-8b2e4d6f10", "kim-token-3c9a7e1b52"
ASK = {"text": "web3 load average 14.8 on 4 vCPU, api p99 latency 2.9s", "env": "prod"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def web(tmp_path, monkeypatch):
    settings = door_settings(tmp_path, monkeypatch)
    tokens = token_file(tmp_path, f"{{user: alice, name: Alice, roles: [developer], token: {ALICE}}}",
                        f"{{user: lee, roles: [sre, senior], sha256: {token_digest(LEE)}}}", f"{{user: kim, roles: [devops-lead], token: {KIM}}}")
    config = WebConfig(tokens_file=tokens, allowed_origins=["http://shop.example"],
                       world=DoorWorld(world="recorded", scenario=SCENARIO), keepalive_s=1)
    app = create_app(config, settings, slack=False)
    with worker_thread(settings), serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client, settings
        wait_drained(settings)
    reset_settings()


def read_events(client: httpx.Client, thread: str, token: str, until: str, after: int = 0) -> list[tuple[int, str, dict]]:
    """Read the SSE stream until an event of type `until` arrives."""
    events: list[tuple[int, str, dict]] = []
    headers = {**bearer(token), **({"Last-Event-ID": str(after)} if after else {})}
    with client.stream("GET", f"/api/runs/{thread}/events", headers=headers) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                key, _, value = line.partition(":")
                current[key] = value.strip()
            elif line == "" and "data" in current:
                events.append((int(current["id"]), current["event"], json.loads(current["data"])))
                current = {}
                if events[-1][1] == until:
                    return events
    raise AssertionError(f"the stream ended without a {until!r} event: {[e[1] for e in events]}")


def start(client: httpx.Client, token: str = ALICE, body: dict | None = None) -> str:
    response = client.post("/api/runs", json=body or ASK, headers=bearer(token))
    assert response.status_code == 202, response.text
    return response.json()["thread_id"]


def test_no_token_no_access_and_errors_are_one_line_json(web):
    client, _ = web
    for method, path in (("POST", "/api/runs"), ("GET", "/api/runs/web-x"), ("GET", "/api/runs/web-x/events"), ("GET", "/api/me")):
        response = client.request(method, path, json={})
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {"error": "missing bearer token: send `Authorization: Bearer <token>`"}
    assert client.get("/api/me", headers=bearer("not-a-token-at-all")).json() == {"error": "invalid token"}
    assert client.get("/api/me", headers=bearer(LEE)).json() == {"id": "lee", "name": "lee", "roles": ["sre", "senior"]}
    unknown = client.get("/api/runs/web-nope", headers=bearer(ALICE))
    assert unknown.status_code == 404 and "no run with thread id" in unknown.json()["error"]
    bad_env = client.post("/api/runs", json={"text": "hi", "env": "qa"}, headers=bearer(ALICE))
    assert bad_env.status_code == 422 and bad_env.json()["error"].startswith("env:")
    empty = client.post("/api/runs", json={"env": "dev"}, headers=bearer(ALICE))
    assert empty.status_code == 400 and "say what is wrong" in empty.json()["error"]
    bad_alert = client.post("/api/runs", json={"alert": {"nonsense": 1}}, headers=bearer(ALICE))
    assert bad_alert.status_code == 400 and "Traceback" not in bad_alert.text


def test_a_run_streams_progress_report_and_approval_then_two_approvals_finish_it(web):
    client, settings = web
    thread = start(client)
    events = read_events(client, thread, ALICE, until="approval")
    kinds = [e[1] for e in events]
    assert kinds[0] == "progress" and "report" in kinds and kinds[-1] == "approval"
    assert any("uptime" in e[2].get("text", "") for e in events if e[1] == "progress")
    report = next(e[2] for e in events if e[1] == "report")
    assert report["status"] == "awaiting_approval" and "cpu_saturation" in report["markdown"]
    approval = events[-1][2]
    assert "kill -s TERM 30211" in approval["action"] and approval["risk"] == "high"
    assert approval["rollback"] and approval["cost"] and "devops-lead or cto" in approval["still_needed"]
    assert set(approval["roles"]) >= {"sre", "devops-lead", "cto"}

    run = client.get(f"/api/runs/{thread}", headers=bearer(LEE)).json()
    assert run["status"] == "awaiting_approval" and run["pending"]["request_id"] == approval["request_id"]
    assert run["report"]["status"] == "awaiting_approval"

    # The asker holds only `developer`; acting as a role the token does not hold is forbidden.
    mine = client.post(f"/api/runs/{thread}/decisions", json={"approved": True}, headers=bearer(ALICE))
    assert mine.status_code == 403 and "none of your roles (developer)" in mine.json()["error"]
    borrowed = client.post(f"/api/runs/{thread}/decisions", json={"approved": True, "role": "cto"}, headers=bearer(ALICE))
    assert borrowed.status_code == 403 and "does not hold role 'cto'" in borrowed.json()["error"]

    first = client.post(f"/api/runs/{thread}/decisions", json={"approved": True, "role": "sre"}, headers=bearer(LEE))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "awaiting_approval" and first.json()["pending"]["still_needed"].endswith(
        "1 approval from devops-lead or cto")
    again = client.post(f"/api/runs/{thread}/decisions", json={"approved": True, "role": "senior"}, headers=bearer(LEE))
    assert again.status_code == 409 and "already approved" in again.json()["error"]

    last_id = events[-1][0]
    second = client.post(f"/api/runs/{thread}/decisions", json={"approved": True}, headers=bearer(KIM))
    assert second.status_code == 200 and second.json()["status"] == "completed"
    tail = read_events(client, thread, KIM, until="done", after=last_id)
    tail_kinds = [e[1] for e in tail]
    assert tail_kinds.count("decision") == 2 and tail_kinds[-2:] == ["report", "done"]
    assert [(d["user"], d["role"]) for _, k, d in tail if k == "decision"] == [("lee", "sre"), ("kim", "devops-lead")]
    assert "approved by kim (devops-lead)" in tail[-2][2]["markdown"]
    assert all(e[0] > last_id for e in tail), "Last-Event-ID was not honoured"
    # A finished run's stream replays and closes at once.
    assert read_events(client, thread, ALICE, until="done")[-1][2]["status"] == "completed"


def test_a_rejected_run_ends_with_nothing_done(web):
    client, settings = web
    thread = start(client)
    read_events(client, thread, ALICE, until="approval")
    response = client.post(f"/api/runs/{thread}/decisions", json={"approved": False, "reason": "sale week"}, headers=bearer(KIM))
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert "nothing was changed" in response.json()["headline"]
    done = read_events(client, thread, ALICE, until="done")
    assert done[-1][2]["status"] == "rejected"
    audit = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
    assert not [e for e in audit if e["event"] == "command" and "kill" in e["command"] and e["status"] in ("executed", "skipped")]
    late = client.post(f"/api/runs/{thread}/decisions", json={"approved": True}, headers=bearer(LEE))
    assert late.status_code == 409 and "not waiting for an approval (status: rejected)" in late.json()["error"]


def test_cors_allows_only_configured_origins(web):
    client, _ = web
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    ok = client.options("/api/runs", headers={"Origin": "http://shop.example", **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://shop.example"
    evil = client.options("/api/runs", headers={"Origin": "http://evil.example", **preflight})
    assert "access-control-allow-origin" not in evil.headers


def test_the_widget_and_demo_page_are_served(web):
    client, _ = web
    assert client.get("/", follow_redirects=False).headers["location"] == "/static/demo.html"
    page = client.get("/static/demo.html")
    assert page.status_code == 200 and 'src="widget.js"' in page.text
    script = client.get("/static/widget.js").text
    assert "innerHTML" not in script, "the widget must build the DOM with textContent only"


def test_shipped_web_config_loads(tmp_path):
    settings = Settings(data_dir=tmp_path)
    config = load_web_config(settings)
    assert config.world.world == "live" and config.tokens_path(settings) == tmp_path / "web-tokens.yaml"


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", memory_enabled=False)


def _app(tmp_path: Path, **kwargs):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"tokens:\n  - {{user: alice, roles: [developer], token: {ALICE}}}\n"
                      f"  - {{user: kim, roles: [devops-lead, sre], token: {KIM}}}\n")
    config = WebConfig(tokens_file=tokens, world=DoorWorld(world="recorded", scenario=SCENARIO))
    return create_app(config, _settings(tmp_path), slack=False, **kwargs)


def test_a_waiting_run_survives_a_restart_and_its_stream_resumes_by_last_event_id(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    with worker_thread(_settings(tmp_path)), serve(_app(tmp_path)) as base, httpx.Client(base_url=base, timeout=60) as client:
        thread = start(client)
        before = read_events(client, thread, ALICE, until="approval")
    last_id = before[-1][0]
    with worker_thread(_settings(tmp_path)), serve(_app(tmp_path)) as base, httpx.Client(base_url=base, timeout=60) as client:
        again = read_events(client, thread, KIM, until="approval")
        assert again == before, "the event log is persisted: a new server replays the same events with the same ids"
        response = client.post(f"/api/runs/{thread}/decisions", json={"approved": True, "role": "sre"}, headers=bearer(KIM))
        assert response.status_code == 200 and response.json()["status"] == "awaiting_approval"
        assert response.json()["pending"]["still_needed"] == (
            "1 approval from senior or devops or sre or devops-lead or cto; 1 approval from devops-lead or cto")
        resumed = read_events(client, thread, ALICE, until="approval", after=last_id)
        assert resumed[0][0] == last_id + 1 and [k for _, k, _ in resumed].count("decision") == 1
        wait_drained(_settings(tmp_path))


def test_a_failing_run_ends_with_one_line_and_no_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")

    def broken_world(world: str, scenario_path: str | None, environment: str):
        raise RuntimeError("ssh agent vanished\n  File \"x.py\", line 1")

    with worker_thread(_settings(tmp_path), context_factory=broken_world), serve(_app(tmp_path)) as base, \
            httpx.Client(base_url=base, timeout=60) as client:
        thread = start(client)
        events = read_events(client, thread, ALICE, until="done")
        error = next(d for _, k, d in events if k == "error")
        assert error["message"] == "internal error: RuntimeError: ssh agent vanished (see the worker log)"
        assert events[-1][2]["status"] == "failed"
        assert client.get(f"/api/runs/{thread}", headers=bearer(ALICE)).json()["status"] == "failed"
