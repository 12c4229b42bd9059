"""CloudWatch Logs through boto3 against a real moto server started by the test."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from tests.moto_server import moto_endpoint  # noqa: F401 (fixture)
from tools.cloudwatch import (CloudWatchCredentialsError, CloudWatchEndpointError, LogGroupNotFoundError,
                              fetch_log_events, make_logs_client)
from tools.logs import summarize_logs

GROUP = "/shop/prod/api"
# CloudWatch (and moto) refuse events older than 14 days: anchor on the current hour.
BASE = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
BASE_MS = int(BASE.timestamp() * 1000)
EVENTS = 12_500  # more than one 10,000-event page


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _message(i: int) -> str:
    if i % 100 == 0:
        return f"ERROR connection to db-primary:5432 refused (attempt {i})"
    return f"INFO request {i:06x} completed in {i % 900}ms"


@pytest.fixture(scope="module")
def log_group(moto_endpoint):  # noqa: F811
    client = boto3.client("logs", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_log_group(logGroupName=GROUP)
    for stream in ("api-1", "api-2"):
        client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    # one event per 100 ms, alternating streams; put_log_events takes at most 10,000 per call
    for stream, parity in (("api-1", 0), ("api-2", 1)):
        events = [{"timestamp": BASE_MS + i * 100, "message": _message(i)} for i in range(parity, EVENTS, 2)]
        client.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)
    client.create_log_stream(logGroupName=GROUP, logStreamName="multi")
    client.put_log_events(logGroupName=GROUP, logStreamName="multi", logEvents=[
        {"timestamp": BASE_MS + EVENTS * 100, "message": "Traceback (most recent call last):\n  File \"app.py\", line 3\nValueError: bad\n"}])
    return moto_endpoint


def _count_pages(client) -> list[int]:
    pages: list[int] = []
    client.meta.events.register("before-call.logs.FilterLogEvents", lambda **kw: pages.append(1))
    return pages


async def test_fetch_follows_next_token_across_pages(log_group):
    client = make_logs_client(endpoint_url=log_group, region="us-east-1")
    pages = _count_pages(client)
    lines = await fetch_log_events(GROUP, client=client, limit=20_000)
    assert len(pages) >= 2  # 12,501 events do not fit one 10,000-event page
    assert len(lines) == EVENTS + 3  # the multi-line event becomes three lines
    messages = [line.split(" ", 1)[1] for line in lines]
    traceback = ["Traceback (most recent call last):", '  File "app.py", line 3', "ValueError: bad"]
    assert sorted(messages) == sorted([_message(i) for i in range(EVENTS)] + traceback)
    assert f"{_iso(BASE_MS)} {_message(0)}" in lines
    assert f"{_iso(BASE_MS + EVENTS * 100)} ValueError: bad" in lines


async def test_time_window_and_small_pages(log_group):
    client = make_logs_client(endpoint_url=log_group, region="us-east-1")
    pages = _count_pages(client)
    start = BASE + timedelta(seconds=100)           # event 1000
    end = BASE + timedelta(seconds=130)             # event 1300 (end is inclusive)
    lines = await fetch_log_events(GROUP, start, end, client=client, page_size=100)
    assert len(lines) == 301 and len(pages) >= 4
    stamps = sorted(line.split(" ", 1)[0] for line in lines)
    assert stamps[0] == _iso(BASE_MS + 100_000) and stamps[-1] == _iso(BASE_MS + 130_000)
    assert {line.split(" ", 1)[1] for line in lines} == {_message(i) for i in range(1000, 1301)}


async def test_limit_and_filter_pattern(log_group):
    lines = await fetch_log_events(GROUP, endpoint_url=log_group, region="us-east-1", limit=250, page_size=100)
    assert len(lines) == 250
    errors = await fetch_log_events(GROUP, endpoint_url=log_group, region="us-east-1", filter_pattern="ERROR")
    assert len(errors) == EVENTS // 100 and all("ERROR connection" in line for line in errors)


async def test_fetched_lines_summarize_with_event_times(log_group):
    start, end = BASE, BASE + timedelta(minutes=10)  # events 0..6000
    lines = await fetch_log_events(GROUP, start, end, endpoint_url=log_group, region="us-east-1")
    digest = summarize_logs(lines, source=f"cloudwatch:{GROUP}")
    first = digest.templates[0]
    assert (first.level, first.template, first.count) == ("error", "ERROR connection to db-primary:<*> refused (attempt <*>", 61)
    assert first.first_seen == _iso(BASE_MS) and first.last_seen == _iso(BASE_MS + 600_000)
    assert digest.to_text().startswith(f"logs cloudwatch:{GROUP}: 6001 lines")


async def test_missing_group_is_a_named_error(log_group):
    with pytest.raises(LogGroupNotFoundError, match="not found: check the name and the region"):
        await fetch_log_events("/no/such/group", endpoint_url=log_group, region="us-east-1")


async def test_unreachable_endpoint_fails_fast_with_a_clear_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(CloudWatchEndpointError, match="cannot reach CloudWatch Logs"):
        await fetch_log_events(GROUP, endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1")
    assert time.monotonic() - started < 20


async def test_missing_credentials_are_a_clear_error(log_group, monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(CloudWatchCredentialsError, match="no AWS credentials"):
        await fetch_log_events(GROUP, endpoint_url=log_group, region="us-east-1")
