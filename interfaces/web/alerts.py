"""Alert webhooks: Alertmanager and CloudWatch alarms (through SNS) start runs over HTTP.

One run per firing group: Alertmanager's group (its groupKey; the alerts'
fingerprints are recorded) or one CloudWatch alarm. A repeated notification
of a group that is still firing starts nothing (new fingerprints are noted in
its thread); a resolved notification is noted in the same thread; a group
that fires again after it resolved gets a new run. One service may have at
most `max_open_runs_per_service` alert runs open; past that the webhook is
answered 429 with Retry-After, and Alertmanager or SNS delivers it again
later. Results go to the Slack channel mapped to the run's environment
(config/slack.yaml `alert_channels`, else the channel whose environment it is).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any, Literal

from fastapi import FastAPI, Header
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.settings import Settings
from graphs.errors import UserInputError
from graphs.state import Alert, Request, UserRef
from interfaces.doors import DoorReport
from interfaces.queue.models import JobSpec, SlackPlace
from interfaces.web.auth import AuthError
from interfaces.web.config import AlertIntake, WebConfig
from interfaces.web.limits import check_strings
from interfaces.web.runs import RunService
from interfaces.web.sns import SnsMessage, SnsVerifier
from tools.alerts import parse_alert

log = logging.getLogger(__name__)
ENVIRONMENT_WORDS = {"prod": "prod", "production": "prod", "prd": "prod", "live": "prod", "staging": "staging", "stage": "staging",
                     "stg": "staging", "dev": "dev", "development": "dev", "develop": "dev"}
RETRY_AFTER_S = 60


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    fingerprint: str = ""


class AmWebhook(BaseModel):
    """The Alertmanager webhook payload (version 4)."""

    model_config = ConfigDict(extra="allow")
    version: str = "4"
    groupKey: str = ""
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    alerts: list[AmAlert] = Field(min_length=1)


class GroupNotice(BaseModel):
    """One notification about one alert group, whatever sent it."""

    key: str
    state: Literal["firing", "resolved"]
    alert: Alert
    environment: str
    service: str
    fingerprints: list[str] = Field(default_factory=list)
    source: str


class AlertDesk:
    """Turns group notices into runs, notes and refusals (shared by both webhooks)."""

    def __init__(self, app: FastAPI, service: RunService, intake: AlertIntake):
        self.app, self.service, self.intake = app, service, intake

    def environment(self, labels: dict[str, str]) -> str:
        for name in self.intake.environment_labels:
            value = labels.get(name)
            if value:
                env = ENVIRONMENT_WORDS.get(value.lower())
                if env is None:
                    raise UserInputError(f"label {name}={value!r} names no environment: use dev, staging or prod")
                return env
        return self.intake.default_environment

    def service_name(self, alert: Alert) -> str:
        for name in self.intake.service_labels:
            if alert.labels.get(name):
                return alert.labels[name]
        return alert.name

    async def take(self, notice: GroupNotice) -> JSONResponse:
        store = self.service._store()
        group = await self.service.call(store.alert_group, notice.key)
        if notice.state == "resolved":
            thread = await self.service.call(store.resolve_alert_group, notice.key)
            if thread is None:
                return JSONResponse({"status": "ignored", "reason": "no firing run for this group"}, status_code=202)
            await self._note(thread, f"✅ resolved: {notice.alert.name} ({notice.source}) — {notice.alert.summary or 'no summary'}")
            return JSONResponse({"status": "resolved", "thread_id": thread}, status_code=202)
        if group is not None and group[1] == "firing":
            thread, _, body = group
            known = set(body.get("fingerprints") or [])
            new = [f for f in notice.fingerprints if f not in known]
            if new:
                await self.service.call(store.update_alert_group, notice.key, {**body, "fingerprints": sorted(known | set(new))})
                await self._note(thread, f"🔔 {len(new)} more alert(s) firing in this group: {notice.alert.summary or notice.alert.name}")
            return JSONResponse({"status": "already running", "thread_id": thread}, status_code=202)
        open_runs = await self.service.call(store.open_alert_runs, notice.service)
        if open_runs >= self.intake.max_open_runs_per_service:
            message = (f"service {notice.service} already has {open_runs} alert run(s) open "
                       f"(alerts.max_open_runs_per_service: {self.intake.max_open_runs_per_service}); deliver again later")
            return JSONResponse({"error": message}, status_code=429, headers={"Retry-After": str(RETRY_AFTER_S)})
        thread_id = "alert-" + hashlib.sha256(f"{notice.key}:{notice.alert.started_at}".encode()).hexdigest()[:12]
        request = Request(alert=notice.alert, environment=notice.environment, environment_explicit=True,  # type: ignore[arg-type]
                          user=UserRef(id=notice.source, name=notice.source), door="api", at=self.service.request_time())
        place = self._slack_place(thread_id, notice)
        job = await self.service.call(store.start_alert_run, notice.key, notice.service, self.service.run_info(request, thread_id),
                                      self.service.start_job(request, thread_id), place,
                                      {"fingerprints": sorted(notice.fingerprints), "source": notice.source})
        if job is None:
            return JSONResponse({"status": "already running"}, status_code=202)
        return JSONResponse({"status": "started", "thread_id": thread_id, "events_url": f"/api/runs/{thread_id}/events"},
                            status_code=202)

    def _slack_place(self, thread_id: str, notice: GroupNotice) -> SlackPlace | None:
        door = getattr(self.app.state, "slack", None)
        channel = door.channel_for_environment(notice.environment) if door is not None else None
        if channel is None:
            return None
        icon = {"critical": "🚨", "warning": "⚠️"}.get(notice.alert.severity, "ℹ️")
        summary = notice.alert.summary[:300] if notice.alert.summary else ""
        return SlackPlace(thread_id=thread_id, channel=channel, environment=notice.environment,
                          root_text=f"{icon} {notice.alert.severity} alert *{notice.alert.name}* from {notice.source}: {summary}")

    async def _note(self, thread_id: str, text: str) -> None:
        await self.service.call(self.service._store().enqueue, JobSpec(thread_id=thread_id, kind="note", text=text))


def _fingerprint(alert: AmAlert) -> str:
    return alert.fingerprint or hashlib.sha256(json.dumps(alert.labels, sort_keys=True).encode()).hexdigest()[:16]


def alertmanager_notice(payload: dict[str, Any], desk: AlertDesk) -> GroupNotice:
    try:
        hook = AmWebhook.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserInputError(f"not an Alertmanager webhook: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    alert = parse_alert(payload)
    firing = [a for a in hook.alerts if a.status == "firing"] or hook.alerts
    key = "am:" + hashlib.sha256((hook.groupKey or ",".join(sorted(_fingerprint(a) for a in hook.alerts))).encode()).hexdigest()[:24]
    return GroupNotice(key=key, state=hook.status, alert=alert, environment=desk.environment(alert.labels),
                       service=desk.service_name(alert), fingerprints=[_fingerprint(a) for a in firing], source="alertmanager")


def cloudwatch_notice(message: SnsMessage, desk: AlertDesk) -> GroupNotice | None:
    try:
        alarm = json.loads(message.Message)
    except json.JSONDecodeError:
        raise UserInputError("the SNS Message is not CloudWatch alarm JSON") from None
    if not isinstance(alarm, dict) or "AlarmName" not in alarm:
        raise UserInputError("the SNS Message is not a CloudWatch alarm (no AlarmName)")
    state = alarm.get("NewStateValue")
    if state not in ("ALARM", "OK"):
        return None  # INSUFFICIENT_DATA says nothing about the service
    alert = parse_alert(alarm)
    identity = alarm.get("AlarmArn") or f"{alarm.get('AWSAccountId')}:{alarm.get('Region')}:{alarm['AlarmName']}"
    key = "cw:" + hashlib.sha256(str(identity).encode()).hexdigest()[:24]
    return GroupNotice(key=key, state="firing" if state == "ALARM" else "resolved", alert=alert,
                       environment=desk.environment(alert.labels), service=desk.service_name(alert),
                       fingerprints=[message.MessageId], source="cloudwatch")


async def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserInputError("the body is not JSON") from None


def mount_alerts(app: FastAPI, service: RunService, config: WebConfig, settings: Settings, report: DoorReport) -> None:
    intake = config.alerts
    desk = AlertDesk(app, service, intake)
    token = settings.alertmanager_token
    verifier = SnsVerifier(intake.sns)
    app.state.sns = verifier
    if token:
        report.on("alertmanager", "POST /api/alerts/alertmanager (bearer token from CLOUD_DOCTOR_ALERTMANAGER_TOKEN)")
    else:
        report.off("alertmanager", "CLOUD_DOCTOR_ALERTMANAGER_TOKEN is not set")
    if intake.sns.topics:
        report.on("sns", f"POST /api/alerts/sns for {len(intake.sns.topics)} topic(s)")
    else:
        report.off("sns", "no topics in config/web.yaml alerts.sns.topics")

    @app.post("/api/alerts/alertmanager", status_code=202)
    async def alertmanager(request: HttpRequest, authorization: str | None = Header(default=None)) -> JSONResponse:
        if not token:
            raise AuthError("the Alertmanager door is off: set CLOUD_DOCTOR_ALERTMANAGER_TOKEN on the server")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise AuthError("missing or wrong bearer token for the Alertmanager webhook")
        payload = await _json_body(request)
        check_strings(payload, config.max_field_chars, "payload")
        return await desk.take(alertmanager_notice(payload if isinstance(payload, dict) else {}, desk))

    @app.post("/api/alerts/sns")
    async def sns(request: HttpRequest) -> JSONResponse:
        if not intake.sns.topics:
            raise AuthError("the SNS door is off: list the allowed topics in config/web.yaml alerts.sns.topics")
        payload = await _json_body(request)
        try:
            message = SnsMessage.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise UserInputError(f"not an SNS message: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
        await verifier.verify(message)
        if message.Type == "SubscriptionConfirmation":
            await verifier.confirm(message)
            log.warning("confirmed the SNS subscription of %s", message.TopicArn)
            return JSONResponse({"status": "subscribed", "topic": message.TopicArn})
        if message.Type == "UnsubscribeConfirmation":
            log.warning("SNS says %s unsubscribed this endpoint", message.TopicArn)
            return JSONResponse({"status": "noted"})
        check_strings(message.Message, config.max_alert_body_bytes, "Message")
        notice = cloudwatch_notice(message, desk)
        if notice is None:
            return JSONResponse({"status": "ignored", "reason": "INSUFFICIENT_DATA"}, status_code=202)
        return await desk.take(notice)
