"""A real OpenSSH server on loopback, for the SSH executor's tests.

Debian's `openssh-server` is installed when missing (only as root, where
apt-get can run), then started on a free 127.0.0.1 port with a throw-away
ed25519 host key and user key in a temporary directory. Readiness is a
bounded poll of the port; the server is stopped by the pid in its PidFile.
`restart(new_host_key=True)` brings the same port back under another host key,
which is how a rebuilt (or impersonated) host looks to a client.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")
# Logins as root run without privilege separation, and sshd then refuses signal requests:
# the tests log in as an ordinary account, as production does.
TEST_USER = "cloud-doctor-ssh"


class SshdUnavailable(RuntimeError):
    """No sshd can be run here; the message says why (tests skip with it)."""


def ensure_openssh_server() -> None:
    """Install Debian's openssh-server if /usr/sbin/sshd is missing; raise SshdUnavailable if we cannot."""
    if SSHD.exists() and shutil.which("ssh-keygen"):
        return
    if os.geteuid() != 0:
        raise SshdUnavailable("/usr/sbin/sshd is missing and installing openssh-server needs root")
    if not shutil.which("apt-get"):
        raise SshdUnavailable("/usr/sbin/sshd is missing and there is no apt-get to install openssh-server")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "openssh-server"]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise SshdUnavailable(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    if not SSHD.exists():
        raise SshdUnavailable("openssh-server installed but /usr/sbin/sshd is still missing")


def ensure_test_user(name: str = TEST_USER) -> str:
    """An ordinary login account for the tests (as root); otherwise the current user."""
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name],
                       check=True, capture_output=True, timeout=30)
    # useradd leaves the password field "!" (locked), and sshd without PAM refuses locked accounts.
    subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True, timeout=30)
    return name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path, comment: str) -> None:
    for stale in (path, path.with_name(path.name + ".pub")):
        stale.unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True, timeout=30)


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class SshdServer:
    """One running sshd: where it listens, how to trust it, how to log in to it."""

    workdir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = field(default_factory=getpass.getuser)
    max_sessions: int = 10

    @property
    def config_file(self) -> Path:
        return self.workdir / "sshd_config"

    @property
    def host_key(self) -> Path:
        return self.workdir / "host_ed25519"

    @property
    def user_key(self) -> Path:
        return self.workdir / "user_ed25519"

    @property
    def pid_file(self) -> Path:
        return self.workdir / "sshd.pid"

    @property
    def log_file(self) -> Path:
        return self.workdir / "sshd.log"

    @property
    def known_hosts_line(self) -> str:
        """The line a client's known_hosts holds for this server's current host key."""
        key_type, key = self.host_key.with_name(self.host_key.name + ".pub").read_text().split()[:2]
        return f"[{self.host}]:{self.port} {key_type} {key}"

    def write_known_hosts(self, path: Path | None = None) -> Path:
        path = path or self.workdir / "known_hosts"
        path.write_text(self.known_hosts_line + "\n")
        return path

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def accepted_logins(self) -> int:
        """How many SSH connections authenticated so far (one per TCP connection).

        sshd writes its log asynchronously; under load a login from a moment ago can
        appear late, so wait (bounded) until the count stops changing."""
        deadline = time.monotonic() + 3.0
        last, stable = -1, 0
        while time.monotonic() < deadline and stable < 3:
            count = self.log_text().count("Accepted publickey")
            stable = stable + 1 if count == last else 0
            last = count
            time.sleep(0.05)
        return last

    def start(self, *, new_host_key: bool = False) -> "SshdServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        if new_host_key or not self.host_key.exists():
            _keygen(self.host_key, f"throw-away host key {time.time_ns()}")
        if not self.user_key.exists():
            _keygen(self.user_key, "throw-away user key")
            authorized = self.workdir / "authorized_keys"
            shutil.copy(self.user_key.with_name(self.user_key.name + ".pub"), authorized)
            authorized.chmod(0o644)  # sshd reads it as the login user
        self.config_file.write_text("\n".join([
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            f"PidFile {self.pid_file}",
            f"MaxSessions {self.max_sessions}",
            "MaxStartups 100",
            "LogLevel VERBOSE",
            "",
        ]))
        PRIVSEP_DIR.mkdir(parents=True, exist_ok=True)
        self.pid_file.unlink(missing_ok=True)
        # sshd binds its port before it daemonizes: once the parent exits 0, the port is listening.
        launched = subprocess.run([str(SSHD), "-f", str(self.config_file), "-E", str(self.log_file)],
                                  capture_output=True, text=True, timeout=30)
        if launched.returncode != 0:
            raise SshdUnavailable(f"sshd failed to start ({launched.returncode}): "
                                  f"{(launched.stderr + self.log_text()).strip()[-800:]}")
        deadline = time.monotonic() + 10
        while not (self.pid_file.exists() and _port_accepts(self.host, self.port)):
            if time.monotonic() > deadline:
                raise SshdUnavailable(f"sshd did not listen on {self.host}:{self.port}: {self.log_text()[-800:]}")
            time.sleep(0.02)  # a poll interval, bounded by the deadline above
        return self

    def stop(self) -> None:
        """Stop the listening sshd (connections already open keep their own sshd processes)."""
        if not self.pid_file.exists():
            return
        pid = int(self.pid_file.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while _pid_alive(pid) or _port_accepts(self.host, self.port):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        self.pid_file.unlink(missing_ok=True)

    def restart(self, *, new_host_key: bool = False) -> "SshdServer":
        self.stop()
        return self.start(new_host_key=new_host_key)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still "exists"; sshd's parent exited, so init reaps it
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def start_sshd(workdir: Path, *, port: int | None = None, user: str | None = None,
               max_sessions: int = 10) -> SshdServer:
    """Install (if needed) and start an sshd in `workdir`; raises SshdUnavailable with the reason.

    `workdir` must be readable by the login user (sshd reads authorized_keys as that user);
    make it with `make_workdir()`, not pytest's tmp_path (0700 under /tmp/pytest-of-root).
    """
    ensure_openssh_server()
    user = user or ensure_test_user()
    return SshdServer(workdir=Path(workdir), port=port or free_port(), user=user,
                      max_sessions=max_sessions).start()


def make_workdir(prefix: str = "cloud-doctor-sshd-") -> Path:
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir.chmod(0o755)
    return workdir


def inventory_for(server: SshdServer, *, extra_hosts: dict[str, Any] | None = None,
                  groups: dict[str, list[str]] | None = None, **defaults: Any) -> Any:
    """An Inventory whose host `web1` is this server, trusted by its current host key."""
    from tools.inventory import HostEntry, Inventory, SSHDefaults

    settings = {"user": server.user, "key_file": server.user_key, "known_hosts": server.write_known_hosts(),
                "connect_timeout": 5, "command_timeout": 10, **defaults}
    hosts = {"web1": HostEntry(address=server.host, port=server.port), **(extra_hosts or {})}
    return Inventory(defaults=SSHDefaults(**settings), hosts=hosts, groups=groups or {})


def start_or_skip(workdir: Path) -> SshdServer:
    """start_sshd, or skip the calling test with the reason no sshd can run here."""
    try:
        return start_sshd(workdir)
    except SshdUnavailable as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(f"no OpenSSH server: {exc}")


@pytest.fixture(scope="module")
def sshd() -> Iterator[SshdServer]:
    """A running sshd for a test module (import this fixture by name into the module)."""
    workdir = make_workdir()
    server = start_or_skip(workdir)
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)
