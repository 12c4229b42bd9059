"""What a request to POST /slack/events must be before the Slack door looks at it: signed, and shaped like Slack's.

A request with a bad or stale signature is 401; a signed body that is not a
slash command, an Events API callback or an interaction payload is 400 with
one line, never a 500 with a traceback.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, ValidationError
from slack_sdk.signature import SignatureVerifier


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class SlashCommand(_Shape):
    command: str
    user_id: str
    channel_id: str
    text: str = ""


class _Who(_Shape):
    id: str


class Interaction(_Shape):
    type: str
    user: _Who


class EventEnvelope(_Shape):
    type: str


class _Event(_Shape):
    type: str


class EventCallback(_Shape):
    type: str
    event_id: str
    event: _Event


def check_slack_body(secret: str, headers: dict[str, str], body: str) -> tuple[int, str] | None:
    """None when the request may go on; else (HTTP status, one line)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if not SignatureVerifier(secret).is_valid(body=body, timestamp=lowered.get("x-slack-request-timestamp", ""),
                                              signature=lowered.get("x-slack-signature", "")):
        return 401, "invalid or stale Slack signature"
    try:
        _check_shape(lowered.get("content-type", ""), body)
    except (ValueError, ValidationError) as exc:
        detail = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = ".".join(str(p) for p in detail["loc"]) + ": " + detail["msg"] if detail else str(exc)
        return 400, f"not a Slack request: {where}"
    return None


def _check_shape(content_type: str, body: str) -> None:
    if "json" in content_type:
        payload: Any = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("the body is not a JSON object")
        envelope = EventEnvelope.model_validate(payload)
        if envelope.type == "event_callback":
            EventCallback.model_validate(payload)
        elif envelope.type != "url_verification":
            raise ValueError(f"unknown envelope type {envelope.type!r}")
        return
    form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    if "payload" in form:
        payload = json.loads(form["payload"])
        if not isinstance(payload, dict):
            raise ValueError("payload is not a JSON object")
        Interaction.model_validate(payload)
    elif "command" in form:
        SlashCommand.model_validate(form)
    else:
        raise ValueError("neither a slash command, an event nor an interaction payload")
