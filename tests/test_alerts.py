"""Alert intake: Alertmanager, CloudWatch (SNS and bare alarm) and plain JSON become one Alert."""

import json

import pytest

from graphs.errors import UserInputError
from tools.alerts import AlertFormatError, load_alert_file, parse_alert

ALERTMANAGER = {
    "version": "4", "groupKey": "{}:{alertname=\"HostHighMemoryUsage\"}", "status": "firing", "receiver": "cloud-doctor",
    "groupLabels": {"alertname": "HostHighMemoryUsage"},
    "commonLabels": {"alertname": "HostHighMemoryUsage", "severity": "critical", "service": "api"},
    "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
    "alerts": [
        {"status": "firing", "labels": {"alertname": "HostHighMemoryUsage", "instance": "web2:9100", "severity": "critical"},
         "annotations": {"summary": "web2 memory above 90% for 10m"}, "startsAt": "2026-03-03T05:05:00Z",
         "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": "c1"},
        {"status": "resolved", "labels": {"alertname": "HostHighMemoryUsage", "instance": "web1:9100"},
         "annotations": {"summary": "web1 ok"}, "startsAt": "2026-03-03T04:00:00Z"},
    ],
}

ALARM = {
    "AlarmName": "shop-prod-rds-connections", "AlarmDescription": "RDS connections near max",
    "AWSAccountId": "123456789012", "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 datapoint [148.0] was greater than the threshold (140.0).",
    "StateChangeTime": "2026-03-03T05:10:00.000+0000", "Region": "Asia Pacific (Seoul)",
    "OldStateValue": "OK",
    "Trigger": {"MetricName": "DatabaseConnections", "Namespace": "AWS/RDS", "Statistic": "MAXIMUM",
                "Dimensions": [{"value": "shop-prod-mysql", "name": "DBInstanceIdentifier"}]},
}


def test_alertmanager_webhook():
    alert = parse_alert(ALERTMANAGER)
    assert alert.source == "alertmanager" and alert.name == "HostHighMemoryUsage"
    assert alert.severity == "critical" and alert.labels["host"] == "web2" and alert.labels["service"] == "api"
    assert alert.summary == "web2 memory above 90% for 10m"
    assert alert.started_at.isoformat() == "2026-03-03T05:05:00+00:00"


def test_cloudwatch_alarm_via_sns_and_bare():
    sns = {"Type": "Notification", "MessageId": "m1", "TopicArn": "arn:aws:sns:ap-northeast-2:123456789012:alarms",
           "Subject": "ALARM", "Message": json.dumps(ALARM), "Timestamp": "2026-03-03T05:10:01.000Z"}
    for payload in (sns, ALARM):
        alert = parse_alert(payload)
        assert alert.source == "cloudwatch" and alert.name == "shop-prod-rds-connections"
        assert alert.labels["DBInstanceIdentifier"] == "shop-prod-mysql" and alert.labels["metric"] == "DatabaseConnections"
        assert alert.severity == "critical" and "148.0" in alert.summary
        assert alert.started_at.year == 2026


def test_plain_json():
    alert = parse_alert({"name": "DiskFull", "severity": "warning", "summary": "/ at 100%", "labels": {"host": "web1"}})
    assert alert.source == "custom" and alert.labels == {"host": "web1"}


@pytest.mark.parametrize("payload,field", [
    ({"foo": 1}, "unknown alert format"),
    ({"version": "4", "receiver": "x", "alerts": []}, "alerts"),
    ({"version": "4", "receiver": "x", "alerts": [{"labels": {}}]}, "alertname"),
    ({"Type": "Notification", "Message": "not json"}, "Message"),
    ({"name": "X", "started_at": "yesterday"}, "started_at"),
    ([1, 2], "JSON object"),
])
def test_bad_payload_names_the_field(payload, field):
    with pytest.raises(AlertFormatError, match=field):
        parse_alert(payload)


def test_alert_file_errors(tmp_path):
    with pytest.raises(UserInputError, match="not found"):
        load_alert_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json: [")
    with pytest.raises(UserInputError, match="bad.json"):
        load_alert_file(bad)
