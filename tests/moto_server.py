"""A real moto server (`.venv/bin/moto_server`) on a free port, for AWS-facing tests.

Started as a subprocess, so boto3 talks HTTP to it exactly as to AWS. Readiness
is polled (a TCP connect, then an HTTP answer) with a deadline; no sleeps.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

MOTO_BIN = Path(sys.executable).with_name("moto_server")
DUMMY_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(url: str, process: subprocess.Popen, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}: {process.stderr.read()[-2000:]!r}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1) as answer:
                if answer.status < 500:
                    return
        except Exception as exc:  # connection refused until it listens
            last_error = exc
            # wait on the process (not a sleep): returns at once if it dies, else after 50 ms
            try:
                process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
    raise RuntimeError(f"moto_server did not answer at {url} within {deadline_s}s ({last_error})")


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """URL of a running moto server; dummy AWS credentials are set while it runs."""
    if not MOTO_BIN.exists():
        pytest.skip(f"{MOTO_BIN} not installed (pip install 'moto[server]')")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([str(MOTO_BIN), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    saved = {k: os.environ.get(k) for k in DUMMY_ENV}
    os.environ.update(DUMMY_ENV)
    try:
        _wait_until_serving(url, process, deadline_s=30)
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
