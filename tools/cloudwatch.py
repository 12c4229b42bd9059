"""Read CloudWatch Logs for an alert's time window.

boto3 is synchronous, so the paginated `filter_log_events` loop runs in a
worker thread; the graph's event loop keeps serving other runs meanwhile.
Each event becomes one line per message line, prefixed with the event's ISO
timestamp, so tools/logs.py can tell first and last seen. Failures become one
named error whose message says what to fix (credentials, endpoint, group name).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from graphs.errors import CloudDoctorError

DEFAULT_REGION = "us-east-1"
PAGE_SIZE = 10_000  # the API's maximum events per page
CREDENTIAL_ERROR_CODES = {"UnrecognizedClientException", "InvalidClientTokenId", "AccessDeniedException",
                          "ExpiredTokenException", "AccessDenied"}


class CloudWatchError(CloudDoctorError):
    """CloudWatch Logs could not be read."""


class CloudWatchCredentialsError(CloudWatchError):
    """No usable AWS credentials."""


class CloudWatchEndpointError(CloudWatchError):
    """The CloudWatch Logs endpoint could not be reached."""


class LogGroupNotFoundError(CloudWatchError):
    """The named log group does not exist in that account and region."""

    exit_code = 2


def to_millis(moment: datetime | None) -> int | None:
    """Epoch milliseconds, as the Logs API wants; naive datetimes are taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def make_client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A boto3 client with short timeouts, so a dead endpoint fails in seconds. A fresh
    session each time: credentials changed since the last call (rotated keys) are picked up."""
    import boto3
    from botocore.config import Config

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.session.Session(region_name=region).client(service, endpoint_url=endpoint_url, config=config)


def make_logs_client(endpoint_url: str | None = None, region: str | None = None) -> Any:
    return make_client("logs", endpoint_url, region)


@contextmanager
def aws_errors(what: str, permission: str, endpoint_url: str | None = None, *,
               not_found: Callable[[], CloudWatchError] | None = None) -> Iterator[None]:
    """boto3 failures of a CloudWatch read as one named error that says what to fix."""
    from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError,
                                     NoCredentialsError, PartialCredentialsError)

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise CloudWatchCredentialsError(
            f"no AWS credentials to read {what} ({exc}): set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run on a role") from exc
    except EndpointConnectionError as exc:
        raise CloudWatchEndpointError(
            f"cannot reach {what} at {exc.kwargs.get('endpoint_url', endpoint_url)}: "
            "check the region, the endpoint URL and the network") from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if code == "ResourceNotFoundException" and not_found is not None:
            raise not_found() from exc
        if code in CREDENTIAL_ERROR_CODES:
            raise CloudWatchCredentialsError(
                f"{what} refused the credentials ({code}: {message}): the role needs "
                f"{permission}, and the keys must be valid") from exc
        raise CloudWatchError(f"{what} failed ({code}: {message})") from exc
    except BotoCoreError as exc:
        raise CloudWatchEndpointError(f"{what} call failed: {exc}") from exc


def fetch_log_events_sync(log_group: str, start: datetime | None = None, end: datetime | None = None, *,
                          filter_pattern: str | None = None, client: Any = None,
                          endpoint_url: str | None = None, region: str | None = None,
                          limit: int = 10_000, page_size: int = PAGE_SIZE) -> list[str]:
    """Lines of `log_group` between `start` and `end` (inclusive, oldest first), at most
    `limit`; follows `nextToken` page by page."""
    client = client or make_logs_client(endpoint_url, region)
    kwargs: dict[str, Any] = {"logGroupName": log_group}
    if (start_ms := to_millis(start)) is not None:
        kwargs["startTime"] = start_ms
    if (end_ms := to_millis(end)) is not None:
        kwargs["endTime"] = end_ms
    if filter_pattern:
        kwargs["filterPattern"] = filter_pattern
    lines: list[str] = []
    seen_tokens: set[str] = set()
    with aws_errors("CloudWatch Logs", "logs:FilterLogEvents on the group", endpoint_url,
                    not_found=lambda: LogGroupNotFoundError(f"log group {log_group!r} not found: check the name and the region")):
        while len(lines) < limit:
            kwargs["limit"] = max(1, min(page_size, PAGE_SIZE, limit - len(lines)))
            page = client.filter_log_events(**kwargs)
            for event in page.get("events", []):
                stamp = _iso(event.get("timestamp", 0))
                for text in str(event.get("message", "")).rstrip("\n").splitlines() or [""]:
                    lines.append(f"{stamp} {text}")
            token = page.get("nextToken")
            if not token or token in seen_tokens:  # the API may repeat the last token
                break
            seen_tokens.add(token)
            kwargs["nextToken"] = token
    return lines[:limit]


async def fetch_log_events(log_group: str, start: datetime | None = None, end: datetime | None = None, *,
                           filter_pattern: str | None = None, client: Any = None,
                           endpoint_url: str | None = None, region: str | None = None,
                           limit: int = 10_000, page_size: int = PAGE_SIZE) -> list[str]:
    """Async wrapper: the paginated boto3 loop runs in a thread (see `fetch_log_events_sync`)."""
    return await asyncio.to_thread(
        fetch_log_events_sync, log_group, start, end, filter_pattern=filter_pattern, client=client,
        endpoint_url=endpoint_url, region=region, limit=limit, page_size=page_size)
