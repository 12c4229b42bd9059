"""Alert webhooks over a real server: Alertmanager (bearer token) and CloudWatch alarms through SNS (signed).

SNS messages are signed here with a throw-away certificate served on
loopback, exactly as SNS signs them (SignatureVersion 2, SHA256withRSA); the
allowed certificate and confirmation addresses are loopback patterns for the
test. Runs are the real graph over the recorded prod memory leak; results
go to the Slack channel mapped to prod (a fake Slack Web API).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from config.settings import Settings, reset_settings
from interfaces.queue.store import open_store
from interfaces.slack_app import SlackConfig, SlackSetup
from interfaces.slack_outbox import make_web_client, outbox_factory_from_env
from interfaces.web.app import create_app
from interfaces.web.config import AlertIntake, SnsIntake, WebConfig
from interfaces.web.runs import DoorWorld
from interfaces.web.sns import SnsMessage
from tests.doors_harness import wait_drained, worker_thread
from tests.fake_slack import FakeSlack
from tests.web_server import serve

SCENARIO = Path(__file__).resolve().parent.parent / "evals" / "scenarios" / "memory-leak-api.yaml"  # web2's memory leak
AM_TOKEN = "alertmanager-bearer-5c1d9e7a3b"
TOPIC = "arn:aws:sns:ap-northeast-2:123456789012:cloud-doctor-alarms"
PROD_CHANNEL = "CPRODALRT"
ALERTMANAGER = {  # the webhook payload Alertmanager 0.27 sends (version 4)
    "receiver": "cloud-doctor", "status": "firing", "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="HighMemoryUsage", service="api"}', "truncatedAlerts": 0,
    "groupLabels": {"alertname": "HighMemoryUsage", "service": "api"},
    "commonLabels": {"alertname": "HighMemoryUsage", "service": "api", "severity": "critical", "env": "production"},
    "commonAnnotations": {"summary": "web2 api memory keeps growing, OOM killer fired"},
    "externalURL": "http://alertmanager.example:9093",
    "alerts": [{"status": "firing", "labels": {"alertname": "HighMemoryUsage", "service": "api", "severity": "critical",
                                                "env": "production", "instance": "web2:9100"},
                "annotations": {"summary": "web2 api memory keeps growing, OOM killer fired"},
                "startsAt": "2026-03-03T05:20:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example/graph", "fingerprint": "a1b2c3d4e5f60718"}],
}


class CertServer:
    """Serves the signing certificate and records subscription confirmations (SNS's side, on loopback)."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.ap-northeast-2.amazonaws.com")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=1)).sign(self.key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        self.confirmed: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path.endswith(".pem"):
                    body = pem
                else:
                    server.confirmed.append(self.path)
                    body = b"<ConfirmSubscriptionResponse/>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def sign(self, fields: dict) -> dict:
        message = {"SignatureVersion": "2", "SigningCertURL": f"{self.base}/SimpleNotificationService-0a1b2c3d.pem",
                   "Timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"), "TopicArn": TOPIC,
                   "MessageId": "5e1f0c7a-2b9d-4c3e-9f1a-6d2b8e4c0a17", "Signature": "x", **fields}
        data = SnsMessage.model_validate(message).string_to_sign()
        message["Signature"] = base64.b64encode(self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()
        return message


@pytest.fixture
def doors(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    reset_settings()
    certs = CertServer()
    settings = Settings(data_dir=tmp_path / "data", memory_enabled=False, alertmanager_token=AM_TOKEN,
                        slack_progress_interval_s=0)
    sns = SnsIntake(topics=[TOPIC], certificate_url=r"^http://127\.0\.0\.1:\d+/SimpleNotificationService-[0-9a-f]+\.pem$",
                    subscribe_url=r"^http://127\.0\.0\.1:\d+/\?Action=ConfirmSubscription&")
    config = WebConfig(world=DoorWorld(world="recorded", scenario=SCENARIO), max_field_chars=2000,
                       alerts=AlertIntake(max_open_runs_per_service=1, sns=sns))
    with FakeSlack() as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-alerts")
        monkeypatch.setenv("SLACK_API_URL", fake.base_url)
        setup = SlackSetup(SlackConfig(alert_channels={"prod": PROD_CHANNEL}), "alerts-secret", make_web_client("xoxb-alerts"))
        app = create_app(config, settings, slack=setup)
        with worker_thread(settings, outbox_factory=outbox_factory_from_env(settings)), serve(app) as base, \
                httpx.Client(base_url=base, timeout=60) as client:
            yield client, fake, certs, settings
            wait_drained(settings)
    reset_settings()


def _am(client, payload, token=AM_TOKEN):
    return client.post("/api/alerts/alertmanager", json=payload, headers={"Authorization": f"Bearer {token}"})


def test_alertmanager_groups_make_one_run_each_resolved_is_noted_and_a_busy_service_is_asked_to_retry(doors):
    client, fake, _, settings = doors
    assert client.post("/api/alerts/alertmanager", json=ALERTMANAGER).status_code == 401
    assert _am(client, ALERTMANAGER, "wrong-token").status_code == 401
    huge = copy.deepcopy(ALERTMANAGER)
    huge["alerts"][0]["annotations"]["summary"] = "x" * 5_000_000
    assert _am(client, huge).status_code == 413
    bad = _am(client, {"alerts": "nope"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("not an Alertmanager webhook")

    started = _am(client, ALERTMANAGER)
    assert started.status_code == 202 and started.json()["status"] == "started"
    thread = started.json()["thread_id"]
    root = fake.wait_for("chat.postMessage", lambda c: c["channel"] == PROD_CHANNEL and "thread_ts" not in c)[0]
    assert root["text"].startswith("🚨 critical alert *HighMemoryUsage* from alertmanager")
    approval = fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root["answered_ts"] and c.get("blocks")
                             and any(b["type"] == "actions" for b in c["blocks"]))[0]
    assert "systemctl restart api" in json.dumps(approval["blocks"])
    info = open_store(settings).registry.get(thread)
    assert info.environment == "prod" and info.door == "api" and info.status == "awaiting_approval"

    again = _am(client, ALERTMANAGER)
    assert again.json() == {"status": "already running", "thread_id": thread}
    more = copy.deepcopy(ALERTMANAGER)
    more["alerts"].append({**more["alerts"][0], "fingerprint": "ffee00112233aabb", "labels": {**more["alerts"][0]["labels"], "instance": "web3:9100"}})
    assert _am(client, more).json()["status"] == "already running"
    fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root["answered_ts"] and "1 more alert(s) firing" in c["text"])

    other_group = copy.deepcopy(ALERTMANAGER)
    other_group["groupKey"] = '{}/{severity="critical"}:{alertname="HighLatency", service="api"}'
    busy = _am(client, other_group)
    assert busy.status_code == 429 and busy.headers["retry-after"] == "60" and "already has 1 alert run" in busy.json()["error"]

    resolved = copy.deepcopy(ALERTMANAGER)
    resolved["status"] = "resolved"
    resolved["alerts"][0]["status"] = "resolved"
    assert _am(client, resolved).json() == {"status": "resolved", "thread_id": thread}
    note = fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root["answered_ts"] and "resolved" in c["text"]
                         and c["text"].startswith("`prod` ✅"))[0]
    assert "HighMemoryUsage" in note["text"]
    assert [r.thread_id for r in open_store(settings).registry.list()] == [thread], "a repeated notification started a run"


def test_sns_subscription_is_confirmed_and_only_signed_alarms_from_allowed_topics_start_runs(doors):
    client, fake, certs, settings = doors
    confirm = certs.sign({"Type": "SubscriptionConfirmation", "Message": "You have chosen to subscribe to the topic.",
                          "Token": "2336412f37fb687f5d51e6e2425c464de", "SubscribeURL":
                          f"{certs.base}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e2425c464de"})
    answer = client.post("/api/alerts/sns", content=json.dumps(confirm), headers={"Content-Type": "text/plain"})
    assert answer.status_code == 200 and answer.json()["status"] == "subscribed"
    assert certs.confirmed and certs.confirmed[0].startswith("/?Action=ConfirmSubscription&")

    alarm = {"AlarmName": "api-high-memory", "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:api-high-memory",
             "NewStateValue": "ALARM", "NewStateReason": "web2 api memory keeps growing, OOM killer fired",
             "StateChangeTime": "2026-03-03T05:20:00.000+0000", "Region": "Asia Pacific (Seoul)", "AWSAccountId": "123456789012",
             "Trigger": {"MetricName": "mem_used_percent", "Namespace": "CWAgent",
                         "Dimensions": [{"name": "InstanceId", "value": "web2"}, {"name": "env", "value": "prod"}]}}
    notification = certs.sign({"Type": "Notification", "Subject": "ALARM: api-high-memory", "Message": json.dumps(alarm)})
    forged = {**notification, "Message": json.dumps({**alarm, "NewStateReason": "rm -rf /"})}
    assert client.post("/api/alerts/sns", content=json.dumps(forged)).status_code == 403
    elsewhere = certs.sign({"Type": "Notification", "Message": json.dumps(alarm), "TopicArn": TOPIC + "-other"})
    refused = client.post("/api/alerts/sns", content=json.dumps(elsewhere))
    assert refused.status_code == 403 and "alerts.sns.topics" in refused.json()["error"]
    foreign_cert = certs.sign({"Type": "Notification", "Message": json.dumps(alarm),
                               "SigningCertURL": "http://198.51.100.7/SimpleNotificationService-00.pem"})
    assert client.post("/api/alerts/sns", content=json.dumps(foreign_cert)).status_code == 403

    started = client.post("/api/alerts/sns", content=json.dumps(notification))
    assert started.status_code == 202 and started.json()["status"] == "started", started.text
    thread = started.json()["thread_id"]
    root = fake.wait_for("chat.postMessage", lambda c: c["channel"] == PROD_CHANNEL and "thread_ts" not in c)[0]
    assert "api-high-memory" in root["text"]
    ok = certs.sign({"Type": "Notification", "Message": json.dumps({**alarm, "NewStateValue": "OK", "NewStateReason": "back to normal"})})
    assert client.post("/api/alerts/sns", content=json.dumps(ok)).json() == {"status": "resolved", "thread_id": thread}
    fake.wait_for("chat.postMessage", lambda c: c.get("thread_ts") == root["answered_ts"] and "✅ resolved" in c["text"])
