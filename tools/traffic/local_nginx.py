"""An nginx of our own on 127.0.0.1: the front of the rollout demo and of the nginx router's tests.

It runs Debian's nginx binary in the foreground (`daemon off`) from a
configuration written into a directory we own, so the process is ours to
stop and nothing system-wide is touched. The main configuration includes two
files the nginx router owns: the upstream (which versions get traffic, with
which weights) and a generation marker that every proxied answer carries in
the `X-Route-Generation` header, so a caller can tell when a reload is live.

Errors of the upstream reach the client (`proxy_next_upstream off`): an
analysis must see a faulty version's errors, not have nginx hide them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tools.traffic.base import RouterError

NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
INSTALL_HINT = "nginx is not installed: run `sudo bash scripts/install_nginx.sh` (Debian's nginx-light)"
UPSTREAM = "app"


def find_nginx() -> str | None:
    """CLOUD_DOCTOR_NGINX_BIN when set (and only it), else nginx on PATH or where Debian puts it."""
    from config.settings import get_settings

    configured = get_settings().nginx_bin
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    found = shutil.which("nginx")
    if found:
        return found
    return next((p for p in NGINX_PATHS if Path(p).is_file()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main_config(workdir: Path, port: int, user_directive: str) -> str:
    return f"""# Written by Cloud Doctor (tools/traffic/local_nginx.py) for a local rollout stage.
{user_directive}worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format rollout '$time_iso8601 $status $upstream_addr $upstream_status $request_time';
    access_log {workdir}/access.log rollout;
    client_body_temp_path {workdir}/tmp/body;
    proxy_temp_path {workdir}/tmp/proxy;
    fastcgi_temp_path {workdir}/tmp/fastcgi;
    uwsgi_temp_path {workdir}/tmp/uwsgi;
    scgi_temp_path {workdir}/tmp/scgi;
    include {workdir}/generation.conf;
    include {workdir}/upstream.conf;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{UPSTREAM};
            proxy_next_upstream off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 10s;
            add_header X-Route-Generation $cloud_doctor_route_generation always;
        }}
    }}
}}
"""


@dataclass
class LocalNginx:
    """One nginx master process serving `port`, configured from `workdir`."""

    workdir: Path
    binary: str
    port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def conf(self) -> Path:
        return self.workdir / "nginx.conf"

    @property
    def upstream_file(self) -> Path:
        return self.workdir / "upstream.conf"

    @property
    def generation_file(self) -> Path:
        return self.workdir / "generation.conf"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, workdir: Path, upstream_text: str, generation_text: str, *, binary: str | None = None,
              deadline_s: float = 15.0) -> "LocalNginx":
        """Write the configuration, start nginx and wait until it answers; two tries for the port."""
        binary = binary or find_nginx()
        if binary is None:
            raise RouterError(INSTALL_HINT)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "tmp").mkdir(exist_ok=True)
        (workdir / "upstream.conf").write_text(upstream_text, encoding="utf-8")
        (workdir / "generation.conf").write_text(generation_text, encoding="utf-8")
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers keep our user, so they can read the files we wrote
        last = ""
        for _ in range(2):
            nginx = cls(workdir=workdir, binary=binary, port=free_port())
            nginx.conf.write_text(main_config(workdir, nginx.port, user), encoding="utf-8")
            test = subprocess.run([binary, "-t", "-q", "-c", str(nginx.conf), "-p", str(workdir)],
                                  capture_output=True, text=True, timeout=30)
            if test.returncode != 0:
                raise RouterError(f"nginx refused the stage's configuration: {test.stderr.strip()[-400:]}")
            nginx.process = subprocess.Popen([binary, "-c", str(nginx.conf), "-p", str(workdir)],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if nginx._wait_until_serving(deadline_s):
                return nginx
            last = nginx._stderr()
            nginx.stop()
        raise RouterError(f"nginx did not start on 127.0.0.1: {last[-400:] or 'no answer'}")

    def _wait_until_serving(self, deadline_s: float) -> bool:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return True
            try:  # wait on the process (returns at once if it dies), else poll again after 20 ms
                self.process.wait(timeout=0.02)
            except subprocess.TimeoutExpired:
                pass
        return False

    def _stderr(self) -> str:
        if self.process is None or self.process.stderr is None:
            return ""
        if self.process.poll() is None:
            return ""
        return self.process.stderr.read() or ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()


def fetch(url: str, timeout: float = 3.0) -> tuple[int, dict[str, str]]:
    """GET a loopback URL: status and headers (an HTTP error status is an answer, not an exception)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            answer.read()
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}
