"""A local stand-in for Slack's Socket Mode server: a websocket that says hello, sends envelopes, and collects acks.

It speaks the protocol slack_sdk's SocketModeClient speaks: on connect a
`hello` message; then envelopes `{envelope_id, type, payload,
accepts_response_payload}`; the app answers each with `{envelope_id,
payload?}` within 3 seconds. `FakeSlack.socket_url` points
`apps.connections.open` here.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any

from aiohttp import WSMsgType, web


class FakeSocketMode:
    def __init__(self) -> None:
        self.acks: dict[str, dict[str, Any]] = {}
        self.connected = threading.Event()
        self._cond = threading.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-socket-mode", daemon=True)
        self.url = ""

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0DOC"},
                                      "debug_info": {"host": "fake", "approximate_connection_time": 3600}}))
        self.connected.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                with self._cond:
                    self.acks[data["envelope_id"]] = data
                    self._cond.notify_all()
        return ws

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_get("/link", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"ws://127.0.0.1:{port}/link"

    def __enter__(self) -> "FakeSocketMode":
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def send(self, kind: str, payload: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Deliver one envelope and wait for the app's ack; returns the ack (with its response payload, if any)."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": kind != "events_api"}
        if not self.connected.wait(timeout):
            raise AssertionError("the app never connected over Socket Mode")
        asyncio.run_coroutine_threadsafe(self._sockets[-1].send_str(json.dumps(envelope)), self._loop).result(timeout)
        with self._cond:
            if not self._cond.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"no ack for {kind} envelope within {timeout} s")
            return self.acks[envelope_id]
