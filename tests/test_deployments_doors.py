"""The deployments desk from Slack and the widget's API: the same store as the CLI, the same approvals.

A real rollout (the sample service behind our own nginx, promoted from v1 to
v2) is recorded in the store; Slack's `/doctor rollback` and the web API's
POST /api/deployments/{id}/rollback ask for its rollback, the DevOps lead and
the CTO approve it (prod), and nginx serves v1 again, verified.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from config.settings import Settings, reset_settings
from interfaces.web.app import create_app
from interfaces.web.auth import token_digest
from interfaces.web.config import WebConfig
from interfaces.web.runs import DoorWorld
from tests.doors_harness import door_settings, token_file, wait_drained, worker_thread
from tests.rollout_stage import stage  # noqa: F401 (fixture)
from tests.test_deployments import promoted_deployment, record
from tests.test_slack_app import CHANNEL, TUESDAY, slack  # noqa: F401 (fixture)
from tests.test_web import read_events
from tests.web_server import serve
from tools.deployments_store import open_deployment_store
from tools.traffic.local_nginx import fetch

ALICE, KIM, PARK = "alice-token-0a1b2c3d4e", "kim-token-5f6a7b8c9d", "park-token-1e2f3a4b5c"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def web(tmp_path, monkeypatch):
    settings = door_settings(tmp_path, monkeypatch)
    tokens = token_file(tmp_path, f"{{user: alice, roles: [developer], token: {ALICE}}}",
                        f"{{user: kim, roles: [devops-lead], sha256: {token_digest(KIM)}}}", f"{{user: park, roles: [cto], token: {PARK}}}")
    app = create_app(WebConfig(tokens_file=tokens, world=DoorWorld(world="live"), keepalive_s=1), settings, slack=False,
                     clock=lambda: TUESDAY)
    with worker_thread(settings), serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client, settings
        wait_drained(settings)
    reset_settings()


def versions(url: str) -> set[str]:
    return {fetch(url)[1]["x-version"] for _ in range(10)}


def test_the_widget_api_lists_deployments_and_a_prod_rollback_runs_after_the_devops_lead_and_the_cto(web, stage):
    client, settings = web
    deployment = asyncio.run(promoted_deployment(stage, settings, "prod"))
    listing = client.get("/api/deployments", headers=bearer(ALICE)).json()
    assert listing["recent"][0]["id"] == deployment.id and listing["statistics"]["promoted"] == 1
    assert client.get(f"/api/deployments/{deployment.id}", headers=bearer(ALICE)).json()["version"] == "v2"
    assert client.get("/api/deployments", params={"env": "qa"}, headers=bearer(ALICE)).status_code == 422

    unknown = client.post("/api/deployments/D-nope/rollback", json={"reason": "x"}, headers=bearer(ALICE))
    assert unknown.status_code == 404 and unknown.json() == {"error": "no deployment 'D-nope' (see `cloud-doctor deployments`)"}
    assert client.post(f"/api/deployments/{deployment.id}/rollback", json={"reason": ""}, headers=bearer(ALICE)).status_code == 422

    asked = client.post(f"/api/deployments/{deployment.id}/rollback", json={"reason": "checkout errors since v2"}, headers=bearer(ALICE))
    assert asked.status_code == 202, asked.text
    thread = asked.json()["thread_id"]
    events = read_events(client, thread, ALICE, until="approval")
    pending = events[-1][2]
    assert set(pending["roles"]) == {"devops-lead", "cto"} and "CTO" in " ".join(pending["why"]), pending
    assert versions(stage.url) == {"v2"}, "nothing changes before the approvals"

    refused = client.post(f"/api/runs/{thread}/decisions", json={"approved": True}, headers=bearer(ALICE))
    assert refused.status_code in (403, 409) and "Traceback" not in refused.text
    first = client.post(f"/api/runs/{thread}/decisions", json={"approved": True}, headers=bearer(KIM))
    assert first.status_code == 200 and first.json()["status"] == "awaiting_approval", first.text
    done = client.post(f"/api/runs/{thread}/decisions", json={"approved": True}, headers=bearer(PARK))
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text

    assert versions(stage.url) == {"v1"}
    stored = open_deployment_store(settings).get(deployment.id)
    assert stored.status == "rolled_back" and stored.verified
    assert (stored.rollbacks[-1].requested_by, stored.rollbacks[-1].approved_by) == ("alice", ["kim", "park"])
    again = client.post(f"/api/deployments/{deployment.id}/rollback", json={"reason": "again"}, headers=bearer(ALICE))
    assert again.status_code == 400 and "already rolled back" in again.json()["error"]


@pytest.mark.parametrize("slack", ["live"], indirect=True)
def test_slack_lists_deployments_and_asks_for_a_rollback_the_devops_lead_and_the_cto_approve(slack, stage):
    deployment = asyncio.run(promoted_deployment(stage, slack.settings, "prod"))
    open_deployment_store(slack.settings).save(record(7, "rolled_back"))

    slack.command("deployments prod")
    listed = slack.fake.wait_for("chat.postEphemeral", lambda c: deployment.id in c["text"])[0]
    assert "D-007" in listed["text"] and "sample v1 → v2" in listed["text"]
    slack.command("deployments qa")
    slack.fake.wait_for("chat.postEphemeral", lambda c: "usage: /doctor deployments [dev|staging|prod]" in c["text"])
    slack.command("rollback D-007 again")
    slack.fake.wait_for("chat.postEphemeral", lambda c: c["text"].startswith("no rollback asked:") and "already rolled back" in c["text"])
    slack.command(f"rollback {deployment.id}")
    slack.fake.wait_for("chat.postEphemeral", lambda c: "usage: /doctor rollback <deployment id> <why>" in c["text"])

    slack.command(f"rollback {deployment.id} latency regression since v2")
    root = slack.fake.wait_for("chat.postMessage", lambda c: "thread_ts" not in c and "asked to roll back" in c["text"])[0]
    assert deployment.id in root["text"] and "latency regression since v2" in root["text"]
    approval = slack.fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root["answered_ts"] and c.get("blocks")
                                   and any(b["type"] == "actions" for b in c["blocks"]))[0]
    assert versions(stage.url) == {"v2"}
    slack.click(approval, "cd_approve", "UKIM0003")
    slack.wait_idle()
    assert versions(stage.url) == {"v2"}, "the DevOps lead alone is not enough in prod"
    slack.click(approval, "cd_approve", "UPARK004")
    slack.wait_idle()
    assert versions(stage.url) == {"v1"}
    stored = open_deployment_store(slack.settings).get(deployment.id)
    assert stored.status == "rolled_back" and stored.verified and stored.rollbacks[-1].approved_by == ["kim", "park"]
    posts = [c.text_dump() for c in slack.fake.calls if c.method in ("chat.postMessage", "chat.update")]
    assert any("rolled back" in p for p in posts), posts
    assert CHANNEL == root["channel"]
