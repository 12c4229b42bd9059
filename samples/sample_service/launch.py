"""Start and stop sample service processes (for the rollout demo and tests).

The process prints `listening 127.0.0.1:PORT` when it is ready; reading that
line is the readiness check, bounded by a deadline.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SERVER = Path(__file__).resolve().with_name("server.py")


class SampleServiceError(RuntimeError):
    """The sample service did not start."""


@dataclass
class SampleService:
    version: str
    port: int
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def start_sample_service(version: str, *, error_rate: float = 0.0, latency_ms: float = 0.0,
                         memory_limit_mb: int = 256, deadline_s: float = 15.0) -> SampleService:
    """Start one version; a faulty one with `error_rate` (0..1) and/or `latency_ms`."""
    argv = [sys.executable, str(SERVER), "--version", version, "--port", "0", "--error-rate", str(error_rate),
            "--latency-ms", str(latency_ms), "--memory-limit-mb", str(memory_limit_mb)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMPLE_")}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + deadline_s
    assert process.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = process.stdout.readline()
        if line.startswith("listening "):
            return SampleService(version=version, port=int(line.rsplit(":", 1)[1]), process=process)
        if not line:  # exited
            break
    process.kill()
    _, err = process.communicate()
    raise SampleServiceError(f"sample service {version} did not start: {err.strip()[-300:] or 'no output'}")
