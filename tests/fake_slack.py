"""A local stand-in for Slack's Web API: records every call and answers ok (tests only).

The Slack door talks to it through `AsyncWebClient(base_url=...)`; tests wait
for the calls they expect with `wait_for`, which blocks on a condition the
server signals on every call (no sleeps).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any, Callable
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from tests.loopback_http import JsonHandler, LoopbackServer

BOT_USER = "UBOT0DOC"
_SLACK_JSON = "application/json; charset=utf-8"


class SlackCall(dict):
    """One Web API call: {"method": "chat.postMessage", "answered_ts": ts the fake gave it, **arguments}."""

    @property
    def method(self) -> str:
        return self["method"]

    def text_dump(self) -> str:
        return json.dumps(self, ensure_ascii=False)


class FakeSlack(LoopbackServer):
    def __init__(self) -> None:
        self.calls: list[SlackCall] = []
        self.outside_channels: set[str] = set()  # channels the bot was not invited to
        self.rate_limited: dict[str, list[int]] = {}  # method -> Retry-After seconds of the next 429 answers
        self.socket_url: str | None = None  # what apps.connections.open answers (a Socket Mode fake)
        self._cond = threading.Condition()
        self.limited_answers: list[str] = []  # methods answered 429, in order
        self._ts = itertools.count(1)
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802 (slack_sdk reads some methods, conversations.replies, with GET)
                self.do_POST(query=self.path.split("?", 1)[1] if "?" in self.path else "")

            def do_POST(self, query: str | None = None) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = query if query is not None else self.rfile.read(length).decode("utf-8")
                if query is None and "json" in (self.headers.get("Content-Type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                for key in ("blocks", "view"):
                    if isinstance(args.get(key), str):
                        args[key] = json.loads(args[key])
                method = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
                if isinstance(args.get("metadata"), str):
                    args["metadata"] = json.loads(args["metadata"])
                retry_after = fake._limited(method)
                if retry_after is not None:
                    self.send_json(429, {"ok": False, "error": "ratelimited"}, content_type=_SLACK_JSON,
                                   headers={"Retry-After": str(retry_after)})
                    return
                self.send_json(200, fake._answer(method, args), content_type=_SLACK_JSON)

        super().__init__(Handler)
        self.base_url = f"{self.url}/api/"

    def _limited(self, method: str) -> int | None:
        with self._cond:
            queue = self.rate_limited.get(method)
            if queue:
                self.limited_answers.append(method)
                return queue.pop(0)
        return None

    def rate_limit(self, method: str, *retry_after: int) -> None:
        """Answer the next calls of `method` with 429 and these Retry-After values."""
        with self._cond:
            self.rate_limited.setdefault(method, []).extend(retry_after)

    def _replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [{"ts": c["answered_ts"], "text": c.get("text", ""), "metadata": c.get("metadata"), "thread_ts": c.get("thread_ts")}
                for c in self.calls if c.method == "chat.postMessage" and c.get("channel") == channel
                and (c.get("thread_ts") == ts or c.get("answered_ts") == ts)]

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": True}
        if method == "chat.postMessage" and args.get("channel") in self.outside_channels:
            body = {"ok": False, "error": "not_in_channel"}
        elif method == "conversations.replies":
            with self._cond:
                body.update(messages=self._replies(args.get("channel", ""), args.get("ts", "")), has_more=False)
        elif method == "apps.connections.open":
            body.update(url=self.socket_url)
        elif method == "auth.test":
            body.update(user_id=BOT_USER, bot_id="BDOC", team_id="T0TEAM", user="doctor", team="test")
        elif method in ("chat.postMessage", "chat.update"):
            ts = args.get("ts") or f"1700000{next(self._ts):03d}.000100"
            body.update(channel=args.get("channel"), ts=ts, message={"text": args.get("text", "")})
        elif method == "chat.postEphemeral":
            body.update(message_ts=f"1700009{next(self._ts):03d}.000200")
        elif method == "views.open":
            body.update(view={"id": "V1"})
        with self._cond:
            self.calls.append(SlackCall(method=method, answered_ts=body.get("ts"), received_at=time.monotonic(), **args))
            self._cond.notify_all()
        return body

    def find(self, method: str, where: Callable[[SlackCall], bool] = lambda c: True) -> list[SlackCall]:
        with self._cond:
            return [c for c in self.calls if c.method == method and where(c)]

    def wait_for(self, method: str, where: Callable[[SlackCall], bool] = lambda c: True, timeout: float = 30,
                 count: int = 1) -> list[SlackCall]:
        """Block until `count` calls of `method` match `where`; fail with what did arrive."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len([c for c in self.calls if c.method == method and where(c)]) >= count, timeout)
            if not ok:
                seen = "\n".join(f"{c.method}: {c.text_dump()[:300]}" for c in self.calls)
                raise AssertionError(f"no {count} matching {method} call(s) within {timeout}s; calls so far:\n{seen}")
            return [c for c in self.calls if c.method == method and where(c)]


def signed_headers(secret: str, body: str, timestamp: int, retry: int | None = None) -> dict[str, str]:
    """Headers Slack sends with a request, signed like Slack signs them."""
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    headers = {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return headers
