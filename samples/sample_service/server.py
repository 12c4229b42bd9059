"""A sample web service for rollouts: one version of "the application", with faults on demand.

Standard library only, so it runs anywhere Python does. It answers `/` with
its version (also in the `X-Version` header), `/healthz` for health checks,
and `/metrics` in the Prometheus text format: request counts by status code,
a latency histogram, process CPU and memory. A faulty version is the same
program started with `--error-rate` and/or `--latency-ms` (or the
SAMPLE_ERROR_RATE / SAMPLE_LATENCY_MS environment variables).

It binds 127.0.0.1 only. With `--port 0` it picks a free port and prints
`listening 127.0.0.1:PORT` as its first line, which is how a parent learns
that it is ready and where (no sleeps, no port races).

    python samples/sample_service/server.py --version v2 --error-rate 0.3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Counters and a histogram, safe across the server's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.bucket_counts = [0] * len(BUCKETS)
        self.duration_sum = 0.0
        self.duration_count = 0

    def observe(self, code: int, seconds: float) -> None:
        with self.lock:
            self.requests[str(code)] = self.requests.get(str(code), 0) + 1
            for i, le in enumerate(BUCKETS):
                if seconds <= le:
                    self.bucket_counts[i] += 1
            self.duration_sum += seconds
            self.duration_count += 1

    def render(self, version: str, memory_limit_bytes: int) -> str:
        with self.lock:
            lines = ["# HELP http_requests_total Requests answered, by status code.",
                     "# TYPE http_requests_total counter"]
            for code, count in sorted(self.requests.items()):
                lines.append(f'http_requests_total{{code="{code}",version="{version}"}} {count}')
            lines += ["# HELP http_request_duration_seconds Time to answer a request.",
                      "# TYPE http_request_duration_seconds histogram"]
            for le, count in zip(BUCKETS, self.bucket_counts):
                lines.append(f'http_request_duration_seconds_bucket{{le="{le}",version="{version}"}} {count}')
            lines.append(f'http_request_duration_seconds_bucket{{le="+Inf",version="{version}"}} {self.duration_count}')
            lines.append(f'http_request_duration_seconds_sum{{version="{version}"}} {self.duration_sum:.6f}')
            lines.append(f'http_request_duration_seconds_count{{version="{version}"}} {self.duration_count}')
        usage = resource.getrusage(resource.RUSAGE_SELF)
        rss = _resident_bytes()
        lines += ["# HELP process_cpu_seconds_total User and system CPU time spent.",
                  "# TYPE process_cpu_seconds_total counter",
                  f"process_cpu_seconds_total {usage.ru_utime + usage.ru_stime:.6f}",
                  "# HELP process_resident_memory_bytes Resident memory size.",
                  "# TYPE process_resident_memory_bytes gauge",
                  f"process_resident_memory_bytes {rss}",
                  "# HELP process_memory_limit_bytes The memory this process may use (its container's limit).",
                  "# TYPE process_memory_limit_bytes gauge",
                  f"process_memory_limit_bytes {memory_limit_bytes}"]
        return "\n".join(lines) + "\n"


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def make_handler(version: str, error_rate: float, latency_s: float, memory_limit_bytes: int, metrics: Metrics):
    rng = random.Random(f"{version}-{error_rate}-{latency_s}")  # reproducible fault pattern per version

    class Handler(BaseHTTPRequestHandler):
        server_version = f"sample-service/{version}"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args) -> None:  # quiet: the metrics tell the story
            return

        def _send(self, code: int, body: str, content_type: str = "application/json") -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Version", version)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/metrics":
                self._send(200, metrics.render(version, memory_limit_bytes), "text/plain; version=0.0.4")
                return
            if self.path == "/healthz":
                self._send(200, json.dumps({"status": "ok", "version": version}))
                return
            started = time.perf_counter()
            if latency_s:
                time.sleep(latency_s)
            with metrics.lock:
                fail = rng.random() < error_rate
            code = 500 if fail else 200
            self._send(code, json.dumps({"version": version, "ok": not fail}))
            metrics.observe(code, time.perf_counter() - started)

    return Handler


class SampleServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the load generator opens many short connections


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A sample service with Prometheus metrics and faults on demand.")
    parser.add_argument("--version", default=os.environ.get("SAMPLE_VERSION", "v1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SAMPLE_PORT", "0")))
    parser.add_argument("--error-rate", type=float, default=float(os.environ.get("SAMPLE_ERROR_RATE", "0")),
                        help="fraction of requests answered 500 (0..1)")
    parser.add_argument("--latency-ms", type=float, default=float(os.environ.get("SAMPLE_LATENCY_MS", "0")),
                        help="added to every request")
    parser.add_argument("--memory-limit-mb", type=int, default=int(os.environ.get("SAMPLE_MEMORY_LIMIT_MB", "256")))
    args = parser.parse_args(argv)
    if not 0 <= args.error_rate <= 1:
        parser.error("--error-rate must be between 0 and 1")
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    metrics = Metrics()
    handler = make_handler(args.version, args.error_rate, args.latency_ms / 1000.0, args.memory_limit_mb * 1024 * 1024, metrics)
    server = SampleServer(("127.0.0.1", args.port), handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"listening 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
