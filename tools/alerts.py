"""Alert intake: Alertmanager webhooks, CloudWatch alarm notifications (SNS) and plain JSON.

Every format becomes one `Alert`; a payload that fits none of them gets an
error naming the field that is missing or wrong.
"""

from __future__ import annotations

import json

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from graphs.errors import UserInputError
from graphs.state import Alert

SEVERITIES = {"critical": "critical", "page": "critical", "error": "critical", "high": "critical",
              "warning": "warning", "warn": "warning", "medium": "warning", "info": "info", "low": "info", "none": "info"}


class AlertFormatError(UserInputError):
    """The payload is not an alert we understand."""


def load_alert_file(path: str | Path) -> Alert:
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"alert file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            payload = yaml.safe_load(text)
        except yaml.YAMLError:
            raise UserInputError(f"{path}: not valid JSON (line {json_error.lineno}: {json_error.msg}) nor YAML") from None
    try:
        return parse_alert(payload)
    except AlertFormatError as exc:
        raise AlertFormatError(f"{path}: {exc}") from None


def parse_alert(payload: Any) -> Alert:
    """Normalize any supported payload to an Alert."""
    if not isinstance(payload, dict):
        raise AlertFormatError("an alert must be a JSON object")
    if "alerts" in payload and ("receiver" in payload or "groupLabels" in payload or "version" in payload):
        return _alertmanager(payload)
    if payload.get("Type") == "Notification" and "Message" in payload:
        try:
            message = json.loads(payload["Message"])
        except (TypeError, json.JSONDecodeError):
            raise AlertFormatError("Message: the SNS notification's Message is not CloudWatch alarm JSON") from None
        return _cloudwatch(message)
    if "AlarmName" in payload:
        return _cloudwatch(payload)
    if "name" in payload:
        return _plain(payload)
    raise AlertFormatError("unknown alert format: expected an Alertmanager webhook (alerts), a CloudWatch alarm (AlarmName or an SNS Notification) or {name, severity, summary, labels}")


def _alertmanager(payload: dict[str, Any]) -> Alert:
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise AlertFormatError("alerts: an Alertmanager webhook needs at least one alert")
    firing = [a for a in alerts if isinstance(a, dict) and a.get("status", "firing") == "firing"] or alerts
    first = firing[0]
    labels = {str(k): str(v) for k, v in {**(payload.get("commonLabels") or {}), **(first.get("labels") or {})}.items()}
    if "alertname" not in labels:
        raise AlertFormatError("alerts[0].labels.alertname is missing")
    annotations = {str(k): str(v) for k, v in (first.get("annotations") or {}).items()}
    if "host" not in labels and "instance" in labels:
        labels["host"] = labels["instance"].split(":")[0]
    summary = annotations.get("summary") or annotations.get("description") or ""
    if len(firing) > 1:
        summary += f" (+{len(firing) - 1} more firing)"
    return _build(source="alertmanager", name=labels["alertname"], severity=labels.get("severity", "warning"),
                  summary=summary, labels=labels, annotations=annotations, started_at=first.get("startsAt"))


def _cloudwatch(alarm: dict[str, Any]) -> Alert:
    if "AlarmName" not in alarm:
        raise AlertFormatError("AlarmName is missing from the CloudWatch alarm")
    trigger = alarm.get("Trigger") or {}
    labels = {"namespace": str(trigger.get("Namespace", "")), "metric": str(trigger.get("MetricName", "")),
              "region": str(alarm.get("Region", "")), "account": str(alarm.get("AWSAccountId", ""))}
    for dim in trigger.get("Dimensions") or []:
        if isinstance(dim, dict) and "name" in dim:
            labels[str(dim["name"])] = str(dim.get("value", ""))
    if "InstanceId" in labels:
        labels.setdefault("host", labels["InstanceId"])
    state = alarm.get("NewStateValue", "ALARM")
    severity = "critical" if state == "ALARM" else "info"
    return _build(source="cloudwatch", name=alarm["AlarmName"], severity=severity,
                  summary=alarm.get("NewStateReason") or alarm.get("AlarmDescription") or "",
                  labels={k: v for k, v in labels.items() if v}, annotations={"state": str(state)},
                  started_at=alarm.get("StateChangeTime"))


def _plain(payload: dict[str, Any]) -> Alert:
    return _build(source=payload.get("source", "custom"), name=payload["name"], severity=payload.get("severity", "warning"),
                  summary=payload.get("summary", ""), labels=payload.get("labels") or {},
                  annotations=payload.get("annotations") or {}, started_at=payload.get("started_at"))


def _build(**fields: Any) -> Alert:
    fields["severity"] = SEVERITIES.get(str(fields.get("severity", "warning")).lower(), "warning")
    started = fields.get("started_at")
    if isinstance(started, str) and started.startswith("0001-"):
        fields["started_at"] = None  # Alertmanager's zero time
    if isinstance(started, str) and started.endswith("+0000"):
        fields["started_at"] = started[:-5] + "+00:00"  # CloudWatch's StateChangeTime
    try:
        return Alert.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise AlertFormatError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


