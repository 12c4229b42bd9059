"""Size caps at the door: a request body over its cap is refused (413) before it is read whole.

Nothing a client sends may stall the server or be echoed back at length: the
body is counted as it arrives, and every string field of an alert is checked
against a cap (400 naming the field).
"""

from __future__ import annotations

import json
from typing import Any

from graphs.errors import UserInputError


class TooLarge(UserInputError):
    """The request is larger than the door accepts (HTTP 413)."""


class BodyLimit:
    """ASGI middleware: 413 for a request body over `max_bytes` (declared or streamed), per path prefix."""

    def __init__(self, app: Any, max_bytes: int, per_prefix: dict[str, int] | None = None):
        self.app, self.max_bytes, self.per_prefix = app, max_bytes, per_prefix or {}

    def _limit(self, path: str) -> int:
        for prefix, limit in self.per_prefix.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        seen = 0
        refused = False

        async def counted() -> dict[str, Any]:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    raise TooLarge(f"request body is over {limit} bytes")
            return message

        try:
            await self.app(scope, counted, send)
        except TooLarge:
            if refused:
                await _refuse(send, limit)
            else:
                raise


async def _refuse(send: Any, limit: int) -> None:
    body = json.dumps({"error": f"request body is larger than {limit:,} bytes; send less"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def check_strings(value: Any, max_chars: int, where: str = "alert", max_items: int = 200) -> None:
    """400 naming the first string longer than `max_chars` (or a list/object with too many entries)."""
    if isinstance(value, str):
        if len(value) > max_chars:
            raise UserInputError(f"{where} is {len(value):,} characters; the most accepted is {max_chars:,}")
    elif isinstance(value, dict):
        if len(value) > max_items:
            raise UserInputError(f"{where} has {len(value)} entries; the most accepted is {max_items}")
        for key, item in value.items():
            check_strings(str(key), max_chars, f"{where} key", max_items)
            check_strings(item, max_chars, f"{where}.{key}", max_items)
    elif isinstance(value, list):
        if len(value) > max_items:
            raise UserInputError(f"{where} has {len(value)} items; the most accepted is {max_items}")
        for index, item in enumerate(value):
            check_strings(item, max_chars, f"{where}[{index}]", max_items)
