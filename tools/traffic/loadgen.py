"""A bounded load generator for loopback stages: traffic for a rollout's analysis to judge.

Bounded three ways: a number of requests, a number of seconds and a rate;
it stops at the first bound reached, or when asked. It refuses any address
that is not loopback, so a demo can never become traffic to someone else.
It counts answers by status and by the version that answered (`X-Version`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field

from graphs.errors import UserInputError


class LoadReport(BaseModel):
    sent: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)
    by_version: dict[str, int] = Field(default_factory=dict)
    failures: int = 0  # no answer at all
    seconds: float = 0.0


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise UserInputError(f"the load generator only sends to loopback addresses, not {host or url!r}")


class LoadGenerator:
    def __init__(self, url: str, *, rate_per_s: float = 200.0, max_requests: int = 20_000, max_seconds: float = 120.0,
                 concurrency: int = 8):
        require_loopback(url)
        if rate_per_s <= 0 or max_requests <= 0 or max_seconds <= 0 or concurrency <= 0:
            raise UserInputError("rate, request count, duration and concurrency must be positive")
        self.url, self.rate, self.max_requests, self.max_seconds = url, rate_per_s, max_requests, max_seconds
        self.concurrency = concurrency
        self.report = LoadReport()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def _worker(self, client: httpx.AsyncClient, started: float, deadline: float) -> None:
        interval = self.concurrency / self.rate  # each worker's share of the rate
        next_at = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline and self.report.sent < self.max_requests:
            self.report.sent += 1
            try:
                answer = await client.get(self.url)
                status = str(answer.status_code)
                self.report.by_status[status] = self.report.by_status.get(status, 0) + 1
                version = answer.headers.get("x-version")
                if version:
                    self.report.by_version[version] = self.report.by_version.get(version, 0) + 1
            except httpx.HTTPError:
                self.report.failures += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                try:  # pacing: wake early if asked to stop
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
            else:
                next_at = time.monotonic()
        self.report.seconds = round(time.monotonic() - started, 3)

    async def _run(self) -> LoadReport:
        started = time.monotonic()
        deadline = started + self.max_seconds
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=0)  # new connection each time:
        async with httpx.AsyncClient(timeout=5.0, limits=limits, trust_env=False) as client:  # a reload is seen at once
            await asyncio.gather(*(self._worker(client, started, deadline) for _ in range(self.concurrency)))
        return self.report

    def start(self) -> "LoadGenerator":
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> LoadReport:
        self._stop.set()
        if self._task is not None:
            await self._task
        return self.report
