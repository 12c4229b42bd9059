"""Doors under load: the real `cloud-doctor serve` (doors + 2 worker processes) against a local fake Slack Web API.

Prints: time until the server answers, the first slash command's ack after
start, ack p50/p95/p99 for 200 signed `/doctor` commands sent 20 at a time
(so about 20 runs are in flight), and per command the time to its first
progress post and to its report in the thread; then 300 concurrent widget
sessions (POST /api/runs + the SSE stream to its `done`). Targets: ack p99
< 200 ms, first ack < 500 ms. Runs the embedded default (SQLite, no LLM)
over a small recorded request so it fits a 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import httpx

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "evals" / "scenarios" / "requests" / "req-en-query-dev-cost.yaml"
SECRET = "bench-signing-secret-0123456789"
TOKEN = "bench-widget-token-0123456789"
CHANNEL = "CBENCH001"
ASK = "how much does dev cost per month?"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


@contextmanager
def doors_server(fake_base: str, workers: int = 2, extra_env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """`cloud-doctor serve` in its own process group; yields {base, ready_s, first_ack_s, data_dir}."""
    from tests.fake_slack import signed_headers

    root = Path(tempfile.mkdtemp(prefix="cd-bench-"))
    (root / "slack.yaml").write_text(f"channels:\n  {CHANNEL}: dev\n")
    (root / "tokens.yaml").write_text(f"tokens:\n  - {{user: bench, roles: [developer], token: {TOKEN}}}\n")
    (root / "web.yaml").write_text(f"tokens_file: {root / 'tokens.yaml'}\nworld: {{world: recorded, scenario: {SCENARIO}}}\n")
    port = _port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CLOUD_DOCTOR_DATA_DIR": str(root / "data"), "CLOUD_DOCTOR_MEMORY_ENABLED": "false",
           "CLOUD_DOCTOR_SLACK_CONFIG": str(root / "slack.yaml"), "CLOUD_DOCTOR_WEB_CONFIG": str(root / "web.yaml"),
           "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_base,
           "CLOUD_DOCTOR_WORKERS": str(workers), **(extra_env or {})}
    env.pop("CLOUD_DOCTOR_DATABASE_URL", None)
    env.pop("CLOUD_DOCTOR_CHECKPOINT_URL", None)
    log = (root / "serve.log").open("wb")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "interfaces.cli", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > 60:
                raise RuntimeError(f"serve did not start: {(root / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.02)  # another process binds the port; nothing to wait on but the port itself
        ready = time.perf_counter() - started
        body = _command_body("first after start")
        sent = time.perf_counter()
        first = httpx.post(base + "/slack/events", content=body, timeout=30,
                           headers={"Content-Type": "application/x-www-form-urlencoded", **signed_headers(SECRET, body, int(time.time()))})
        first_ack = time.perf_counter() - sent
        if first.status_code != 200:
            raise RuntimeError(f"first command answered {first.status_code}: {first.text}")
        yield {"base": base, "ready_s": ready, "first_ack_s": first_ack, "root": root}
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def _command_body(tag: str) -> str:
    return urlencode({"command": "/doctor", "text": f"{ASK} ({tag}) dev", "user_id": "UBENCH01", "user_name": "bench",
                      "channel_id": CHANNEL, "team_id": "T0", "trigger_id": f"trigger-{tag}-{time.time_ns()}",
                      "response_url": "http://127.0.0.1:9/response"})


async def _http_post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str, body: bytes,
                     headers: dict[str, str]) -> tuple[int, str]:
    """One HTTP/1.1 POST on a kept-alive connection; (status, body). Slack's side costs this machine next to nothing,
    so what is measured is the server, not a heavy client sharing its two cores."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    payload = await reader.readexactly(length) if length else b""
    return int(status_line.split()[1]), payload.decode("utf-8", errors="replace")


async def slack_commands(base: str, count: int, concurrency: int) -> dict[str, Any]:
    """Send `count` signed commands over `concurrency` kept-alive connections; ack latencies and failures."""
    from tests.fake_slack import signed_headers

    host, port = base.removeprefix("http://").split(":")
    acks: list[float] = []
    sent_at: dict[str, float] = {}
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def lane() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while not queue.empty():
                index = queue.get_nowait()
                body = _command_body(f"cmd-{index}")
                headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(SECRET, body, int(time.time()))}
                started = time.perf_counter()
                sent_at[f"cmd-{index}"] = time.monotonic()
                status, text = await _http_post(reader, writer, host, "/slack/events", body.encode(), headers)
                acks.append(time.perf_counter() - started)
                if status != 200 or "On it" not in text:
                    errors.append(f"{status} {text[:100]}")
        finally:
            writer.close()

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return {"acks": acks, "sent_at": sent_at, "errors": errors}


def thread_timings(fake: Any, sent_at: dict[str, float], timeout: float = 300) -> dict[str, list[float]]:
    """From the fake Slack's record: each command's first progress post and report, relative to when it was sent."""
    deadline = time.monotonic() + timeout
    while True:
        roots = {c["answered_ts"]: c for c in fake.find("chat.postMessage", lambda c: "thread_ts" not in c)}
        tags = {ts: next((t for t in sent_at if f"({t})" in c.get("text", "")), None) for ts, c in roots.items()}
        reports = {c["thread_ts"]: c for c in fake.find("chat.postMessage", lambda c: c.get("text", "").startswith("completed"))}
        if all(ts in reports for ts, tag in tags.items() if tag) and len([t for t in tags.values() if t]) >= len(sent_at):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(reports)} of {len(sent_at)} reports arrived in {timeout} s")
        time.sleep(0.1)  # the server's workers post into the fake; this reads its record until every report is in
    progress = {}
    for call in fake.find("chat.postMessage", lambda c: "working" in c.get("text", "") or "finished" in c.get("text", "")):
        progress.setdefault(call["thread_ts"], call["received_at"])
    first, report = [], []
    for ts, tag in tags.items():
        if tag is None:
            continue
        if ts in progress:
            first.append(progress[ts] - sent_at[tag])
        report.append(reports[ts]["received_at"] - sent_at[tag])
    return {"first_progress": first, "report": report}


async def widget_sessions(base: str, count: int) -> dict[str, Any]:
    """`count` sessions at once: start a run, read its SSE stream to `done`; the statuses they ended with."""
    statuses: list[str] = []
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(300, connect=60), limits=limits) as client:
        async def one(index: int) -> None:
            try:
                started = await client.post("/api/runs", json={"text": f"{ASK} #{index}", "env": "dev"}, headers=headers)
                if started.status_code != 202:
                    errors.append(f"start {started.status_code}: {started.text[:100]}")
                    return
                thread = started.json()["thread_id"]
                async with client.stream("GET", f"/api/runs/{thread}/events", headers=headers) as stream:
                    kind = ""
                    async for line in stream.aiter_lines():
                        if line.startswith("event:"):
                            kind = line.split(":", 1)[1].strip()
                        elif line.startswith("data:") and kind == "done":
                            statuses.append(json.loads(line[5:])["status"])
                            return
                errors.append(f"{thread}: the stream ended without done")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

        await asyncio.gather(*(one(i) for i in range(count)))
    return {"statuses": statuses, "errors": errors}


def main(commands: int = 200, concurrency: int = 20, sessions: int = 300) -> None:
    from tests.fake_slack import FakeSlack

    with FakeSlack() as fake, doors_server(fake.base_url) as server:
        print(f"serve answered after {server['ready_s']:.2f} s; first ack after start {server['first_ack_s'] * 1000:.0f} ms "
              f"(target < 500 ms)")
        started = time.perf_counter()
        result = asyncio.run(slack_commands(server["base"], commands, concurrency))
        acks = [a * 1000 for a in result["acks"]]
        print(f"slack: {commands} commands, {concurrency} at a time: ack p50 {_pct(acks, 50):.0f} ms, p95 {_pct(acks, 95):.0f} ms, "
              f"p99 {_pct(acks, 99):.0f} ms, max {max(acks):.0f} ms (target p99 < 200 ms); errors {len(result['errors'])}")
        timings = thread_timings(fake, result["sent_at"])
        took = time.perf_counter() - started
        first, report = timings["first_progress"], timings["report"]
        print(f"slack: first progress post p50 {_pct(first, 50):.2f} s, p95 {_pct(first, 95):.2f} s; "
              f"report p50 {_pct(report, 50):.2f} s, p95 {_pct(report, 95):.2f} s; all {commands} reports in {took:.1f} s")
        updates = len(fake.find("chat.update"))
        print(f"slack: {updates / max(1, commands):.1f} chat.update calls per run")
        started = time.perf_counter()
        widgets = asyncio.run(widget_sessions(server["base"], sessions))
        counts = {s: widgets["statuses"].count(s) for s in set(widgets["statuses"])}
        print(f"widget: {sessions} concurrent sessions ended {counts} in {time.perf_counter() - started:.1f} s; "
              f"errors {len(widgets['errors'])} {widgets['errors'][:3]}")
        if statistics.mean(acks) != statistics.mean(acks):  # NaN guard for an empty run
            print("no acks measured")


if __name__ == "__main__":
    main()
