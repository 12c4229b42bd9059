"""AWS reads through boto3: the catalogue's `boto3` form of an `aws.*` read, for a Cloud Doctor that holds the credentials.

The same typed call renders an `aws` CLI argv (run on the control host) or,
with `aws_reads: api`, a boto3 request made here. The answer is the service's
JSON minus its ResponseMetadata — the document the CLI prints — so one parser
reads both. Only read tools with a declared `boto3` form can go this way;
parameters come from the validated call, never from text.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from tools.catalogue import PLACEHOLDER, ToolSpec

_FILTER = re.compile(r"Name=([^,]+),Values=(.+)")


def boto3_request(tool: ToolSpec, params: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(service, method, keyword arguments) for a validated call; unset parameters are left out."""
    if not tool.boto3:
        raise ValueError(f"{tool.name} has no boto3 form")
    kwargs: dict[str, Any] = {}
    for key, template in (tool.boto3.get("args") or {}).items():
        if isinstance(template, str) and (whole := PLACEHOLDER.fullmatch(template)):
            value = params.get(whole.group(1))
            if value is None or value == [] or value is False:
                continue
            if key == "Filters":
                value = [_filter(v) for v in value]
            kwargs[key] = value
        else:
            kwargs[key] = template
    return str(tool.boto3["service"]), str(tool.boto3["method"]), kwargs


def _filter(text: str) -> dict[str, Any]:
    """`Name=vpc-id,Values=vpc-1,vpc-2` (the CLI shorthand, already type-checked) -> boto3's filter."""
    m = _FILTER.fullmatch(text)
    if m is None:
        raise ValueError(f"not a filter: {text!r}")
    return {"Name": m.group(1), "Values": m.group(2).split(",")}


async def call_boto3(tool: ToolSpec, params: dict[str, Any], *, endpoint_url: str | None = None, region: str | None = None,
                     timeout_s: float = 30.0) -> tuple[int, str, str]:
    """Run the read; (exit status, stdout JSON, stderr) as the CLI would print them (255 for a failed call)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    service, method, kwargs = boto3_request(tool, params)
    region = str(params.get("region") or region or "us-east-1")
    config = Config(connect_timeout=min(10, timeout_s), read_timeout=timeout_s, retries={"max_attempts": 2})

    def run() -> tuple[int, str, str]:
        try:
            client = boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
            answer = getattr(client, method)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return 254, "", f"An error occurred ({error.get('Code', 'Unknown')}) when calling the {exc.operation_name} operation: {error.get('Message', '')}\n"
        except BotoCoreError as exc:
            return 255, "", f"{type(exc).__name__}: {exc}\n"
        answer.pop("ResponseMetadata", None)
        return 0, json.dumps(answer, indent=4, default=str) + "\n", ""

    return await asyncio.wait_for(asyncio.to_thread(run), timeout=timeout_s + 5)
