"""The worker processes `cloud-doctor serve` starts for the embedded default (CLOUD_DOCTOR_WORKERS, default 2).

Each is a plain `cloud-doctor worker` process with the server's environment;
one that dies is started again (with a growing pause), and all are stopped
with SIGTERM (they finish the jobs in hand) when the server stops. At scale,
run `serve` with CLOUD_DOCTOR_WORKERS=0 and `cloud-doctor worker` elsewhere.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

log = logging.getLogger("cloud_doctor.workers")
WORKER_NICENESS = 10


class WorkerPool:
    def __init__(self, count: int, extra_args: list[str] | None = None):
        self.count = count
        self.extra_args = extra_args or []
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "interfaces.cli", "worker", "--name", f"{os.uname().nodename}:serve-{index}", *self.extra_args]
        proc = subprocess.Popen(argv, env=os.environ.copy())
        try:  # lower CPU priority than the doors: on a small machine an ack must not wait behind a diagnosis
            os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICENESS))
        except OSError as exc:
            log.warning("could not lower worker %d's CPU priority: %s", index, exc)
        return proc

    def start(self) -> None:
        for index in range(self.count):
            self._procs[index] = self._spawn(index)
        log.warning("workers: %d process(es) started by serve (CLOUD_DOCTOR_WORKERS)", self.count)
        self._thread = threading.Thread(target=self._watch, name="worker-pool", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        pauses = [0.0] * self.count
        while not self._stop.wait(1.0):
            for index, proc in enumerate(self._procs):
                if proc is not None and proc.poll() is not None and not self._stop.is_set():
                    pauses[index] = min(30.0, pauses[index] * 2 or 1.0)
                    log.error("worker %d exited with %s; starting it again in %.0f s", index, proc.returncode, pauses[index])
                    if self._stop.wait(pauses[index]):
                        return
                    self._procs[index] = self._spawn(index)

    def stop(self, grace_s: float = 20.0) -> None:
        self._stop.set()
        live = [p for p in self._procs if p is not None and p.poll() is None]
        for proc in live:
            proc.terminate()
        deadline = time.monotonic() + grace_s
        for proc in live:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
