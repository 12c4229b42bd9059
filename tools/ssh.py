"""Runs argv commands on inventory hosts over SSH (asyncssh), safely and in parallel.

Before anything is sent the guard judges the argv, and a forbidden command is
refused without opening a connection (the caller, tools/executor.py, has
already judged it; this is the second lock on the same door). The argv is
quoted token by token (`shlex.join`) for the remote shell, never joined from
raw text. Host keys are checked against known_hosts unless the inventory
turns that off by name, which is logged and audited.

The traps this module exists to avoid: asyncssh's `run()` has no default
timeout and leaves the channel (and the remote process) alive when it times
out; sshd caps sessions per connection; a command left running after its
deadline keeps burning the host. So: one pooled connection per host with a
per-host session limit, a global limit, idle expiry, a deadline per command
after which the remote process is signalled (TERM, then KILL) and its channel
closed, a remote `timeout -s KILL` as a backstop for dropped connections and
servers that refuse signals, and an output cap in bytes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import shlex
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from graphs.errors import CloudDoctorError
from graphs.state import CommandVerdict
from tools.audit import AuditLog
from tools.guard import describe, judge_command
from tools.inventory import HostTarget, Inventory, UnknownGroupError, UnknownHostError
from tools.redact import redact
from tools.world import CommandResult

logger = logging.getLogger("cloud_doctor.ssh")

TIMED_OUT_STATUS = 124  # as coreutils `timeout` reports a command it stopped
NOT_RUN_STATUS = 255  # as ssh reports a connection that failed
SIGNAL_GRACE_S = 1.0  # how long a signalled command gets to end before the next step
REMOTE_TIMER_SLACK_S = 2  # the remote timer fires this long after the local deadline
READ_CHUNK = 65_536
SESSION_RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8)  # a refused session is asked for again after each
DRAIN_LIMIT = 64  # past the cap, output is read and dropped up to this many caps, then the command is stopped

# The channel could not be opened because the connection is gone: nothing ran, so reconnecting is safe.
_DROPPED = (asyncssh.ConnectionLost, asyncssh.DisconnectError, BrokenPipeError, ConnectionResetError)


class CommandRefused(CloudDoctorError):
    """The guard forbids the command; it was not sent anywhere."""

    exit_code = 2

    def __init__(self, verdict: CommandVerdict, command: str):
        super().__init__(redact(f"`{command}` was not sent: {describe(verdict)}"))
        self.verdict = verdict
        self.command = command


class SSHConnectError(CloudDoctorError):
    """A host could not be reached, authenticated or trusted."""


class _OutputFlood(Exception):
    pass


class _CappedOutput:
    """Keeps the first `cap` bytes of a stream and counts the rest."""

    def __init__(self, cap: int):
        self.cap = cap
        self.kept = bytearray()
        self.total = 0

    @property
    def truncated(self) -> bool:
        return self.total > self.cap

    async def drain(self, stream: Any) -> None:
        while chunk := await stream.read(READ_CHUNK):
            self.total += len(chunk)
            room = self.cap - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            if self.total > self.cap * DRAIN_LIMIT:
                raise _OutputFlood

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


@dataclass(eq=False)
class _HostPool:
    """One host's pooled connection and its session limit."""

    target: HostTarget
    sessions: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    conn: asyncssh.SSHClientConnection | None = None
    busy: int = 0
    idle_timer: asyncio.TimerHandle | None = None
    connects: int = 0


class SSHExecutor:
    """Runs commands on the inventory's hosts. Create and use it inside one event loop.

    `run` returns a CommandResult for anything that happened on the way to the
    host (unreachable, untrusted host key, timeout): connection failures are
    results with `.error` set, not exceptions. It raises only for what the
    caller must fix: CommandRefused, UnknownHostError.
    """

    def __init__(self, inventory: Inventory, *, audit: AuditLog | None = None, environment: str = "dev",
                 rules: Any = None):
        from config.settings import get_settings

        self.inventory = inventory
        self.audit = audit
        self.environment = environment
        self.rules = rules  # a tools.command_rules.CommandRules; None: config/commands.yaml
        self._known_hosts_fallback: Path | None = get_settings().known_hosts
        d = inventory.defaults
        self.output_cap = d.output_cap_bytes
        self.idle_seconds = d.idle_seconds
        self._global = asyncio.Semaphore(d.global_concurrency)
        self._pools: dict[str, _HostPool] = {}
        self._warned_insecure: set[str] = set()

    # ------------------------------------------------------------------ public

    async def run(self, host: str, argv: list[str], timeout: float | None = None, *,
                  output_cap: int | None = None) -> CommandResult:
        """Judge `argv`, then run it on `host` with a deadline; one result, whatever happened."""
        command = self._judge(argv, host)
        target = self.inventory.target(host, known_hosts_fallback=self._known_hosts_fallback)
        return await self._run_on(target, list(argv), command, timeout, output_cap)

    async def fan_out(self, group_or_hosts: str | list[str], argv: list[str], timeout: float | None = None, *,
                      output_cap: int | None = None) -> list[CommandResult]:
        """Run one command on every host of a group (or a list of hosts and groups), in parallel.

        One result per host, in the order named; a host that cannot be reached (or a
        name the inventory does not know) is a result with `.error`, never an
        exception that loses the others' answers.
        """
        command = self._judge(argv, str(group_or_hosts))
        hosts: list[str] = []
        for name in [group_or_hosts] if isinstance(group_or_hosts, str) else group_or_hosts:
            try:
                members = self.inventory.hosts_in(name)
            except UnknownGroupError:
                members = [name]  # reported below as that host's result
            hosts += [h for h in members if h not in hosts]

        async def one(host: str) -> CommandResult:
            try:
                target = self.inventory.target(host, known_hosts_fallback=self._known_hosts_fallback)
                return await self._run_on(target, list(argv), command, timeout, output_cap)
            except Exception as exc:  # one bad host never sinks the fan-out
                if not isinstance(exc, UnknownHostError):
                    logger.exception("ssh fan-out to %s failed", host)
                return CommandResult(host=host, command=command, exit_status=NOT_RUN_STATUS, error=str(exc))

        return list(await asyncio.gather(*(one(h) for h in hosts)))

    def open_hosts(self) -> list[str]:
        """Hosts with a live pooled connection right now."""
        return [name for name, pool in self._pools.items() if pool.conn is not None and not pool.conn.is_closed()]

    def connections_made(self, host: str) -> int:
        """How many times this executor connected to `host` (1 while the pool reuses it)."""
        pool = self._pools.get(host)
        return pool.connects if pool else 0

    async def close(self) -> None:
        """Close every pooled connection."""
        conns = []
        for pool in self._pools.values():
            if pool.idle_timer is not None:
                pool.idle_timer.cancel()
                pool.idle_timer = None
            if pool.conn is not None:
                conns.append(pool.conn)
                pool.conn.close()
                pool.conn = None
        for conn in conns:
            try:
                async with asyncio.timeout(5):
                    await conn.wait_closed()
            except (TimeoutError, OSError, asyncssh.Error):
                pass

    async def __aenter__(self) -> "SSHExecutor":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------- guard

    def _judge(self, argv: list[str], where: str) -> str:
        if isinstance(argv, (str, bytes)) or not all(isinstance(a, str) for a in argv):
            raise TypeError("argv must be a list of strings; a command string would be re-parsed by the remote shell")
        command = shlex.join(argv)
        verdict = judge_command(list(argv), self.environment, rules=self.rules)
        if verdict.verdict == "forbid":
            logger.warning("ssh refused on %s: %s (%s)", where, redact(command), verdict.rule)
            if self.audit is not None:
                self.audit.append("ssh_refused", host=where, command=command, verdict=verdict.verdict,
                                  rule=verdict.rule, reason=verdict.reason, environment=self.environment)
            raise CommandRefused(verdict, command)
        return command

    # -------------------------------------------------------------------- pool

    def _pool(self, target: HostTarget) -> _HostPool:
        pool = self._pools.get(target.name)
        if pool is None:
            sessions = asyncio.Semaphore(self.inventory.defaults.per_host_sessions)
            pool = self._pools[target.name] = _HostPool(target=target, sessions=sessions)
        return pool

    def _checkout(self, pool: _HostPool) -> None:
        pool.busy += 1
        if pool.idle_timer is not None:
            pool.idle_timer.cancel()
            pool.idle_timer = None

    def _checkin(self, pool: _HostPool) -> None:
        pool.busy -= 1
        if pool.busy == 0 and pool.conn is not None:
            pool.idle_timer = asyncio.get_running_loop().call_later(self.idle_seconds, self._expire, pool)

    def _expire(self, pool: _HostPool) -> None:
        pool.idle_timer = None
        if pool.busy == 0 and pool.conn is not None:
            logger.debug("ssh: closing idle connection to %s", pool.target.where)
            pool.conn.close()
            pool.conn = None

    async def _connection(self, pool: _HostPool) -> asyncssh.SSHClientConnection:
        async with pool.lock:
            if pool.conn is not None and pool.conn.is_closed():
                pool.conn = None
            if pool.conn is None:
                pool.conn = await self._connect(pool.target)
                pool.connects += 1
            return pool.conn

    def _forget(self, pool: _HostPool, conn: asyncssh.SSHClientConnection) -> None:
        if pool.conn is conn:
            pool.conn = None
        conn.close()

    async def _connect(self, t: HostTarget) -> asyncssh.SSHClientConnection:
        if t.insecure:
            known_hosts = None
            if t.name not in self._warned_insecure:
                self._warned_insecure.add(t.name)
                logger.warning("ssh: host key of %s is NOT verified (insecure_skip_host_key_check: true in the "
                               "inventory); anyone on the path can impersonate it", t.where)
                if self.audit is not None:
                    self.audit.append("ssh_insecure_host_key", host=t.name, address=t.address, port=t.port)
        else:
            assert t.known_hosts is not None
            if not t.known_hosts.is_file():
                raise SSHConnectError(
                    f"cannot verify {t.where}: known_hosts file {t.known_hosts} does not exist; add the host's key "
                    "(ssh-keyscan, then check its fingerprint) or set known_hosts in config/inventory.yaml")
            known_hosts = str(t.known_hosts)
        options: dict[str, Any] = {
            "port": t.port, "username": t.user, "known_hosts": known_hosts, "config": [],
            "connect_timeout": t.connect_timeout, "login_timeout": t.connect_timeout,
            "keepalive_interval": 30,
        }
        if t.key_file is not None:
            options["client_keys"] = [str(t.key_file)]
        try:
            return await asyncssh.connect(t.address, **options)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise SSHConnectError(
                f"refused {t.where}: its host key does not match {known_hosts} ({exc.reason}); the host was "
                "rebuilt or is being impersonated: verify its fingerprint before updating known_hosts") from exc
        except asyncssh.PermissionDenied as exc:
            raise SSHConnectError(f"login refused by {t.where}: check user and key_file in config/inventory.yaml") from exc
        except (TimeoutError, asyncio.TimeoutError) as exc:
            raise SSHConnectError(f"cannot reach {t.where}: no answer within {t.connect_timeout:g}s") from exc
        except ConnectionRefusedError as exc:
            raise SSHConnectError(f"cannot reach {t.where}: connection refused (is sshd listening on port {t.port}?)") from exc
        except socket.gaierror as exc:
            raise SSHConnectError(f"cannot reach {t.where}: the address does not resolve ({exc.strerror})") from exc
        except asyncssh.Error as exc:
            raise SSHConnectError(f"SSH to {t.where} failed: {exc.reason}") from exc
        except OSError as exc:
            raise SSHConnectError(f"cannot reach {t.where}: {exc.strerror or exc}") from exc

    # --------------------------------------------------------------- commands

    async def _run_on(self, target: HostTarget, argv: list[str], command: str, timeout: float | None,
                      output_cap: int | None) -> CommandResult:
        timeout = timeout if timeout and timeout > 0 else target.command_timeout
        cap = output_cap or self.output_cap
        started = time.monotonic()
        pool = self._pool(target)
        # Per-host first: a host at its session limit does not hold a global slot while it waits.
        async with pool.sessions, self._global:
            self._checkout(pool)
            try:
                result = await self._execute(pool, argv, command, timeout, cap)
            finally:
                self._checkin(pool)
        return result.model_copy(update={"duration_s": round(time.monotonic() - started, 3)})

    def _remote_command(self, target: HostTarget, argv: list[str], timeout: float) -> str:
        if target.remote_timer:
            deadline = math.ceil(timeout) + REMOTE_TIMER_SLACK_S
            return shlex.join(["timeout", "-s", "KILL", str(deadline), *argv])
        return shlex.join(argv)

    async def _execute(self, pool: _HostPool, argv: list[str], command: str, timeout: float,
                       cap: int) -> CommandResult:
        target = pool.target
        remote = self._remote_command(target, argv, timeout)

        def failed(error: str) -> CommandResult:
            return CommandResult(host=target.name, command=command, exit_status=NOT_RUN_STATUS, error=error)

        drops = refusals = 0
        while True:
            try:
                conn = await self._connection(pool)
            except SSHConnectError as exc:
                logger.warning("ssh: %s", exc)
                return failed(str(exc))
            try:
                proc = await conn.create_process(remote, encoding=None, stdin=asyncssh.DEVNULL)
                break
            except (*_DROPPED, asyncssh.ChannelOpenError) as exc:
                if isinstance(exc, asyncssh.ChannelOpenError) and not conn.is_closed():
                    # sshd frees a session slot a moment after the client sees the channel close, so a
                    # burst can briefly exceed MaxSessions; nothing ran, so waiting and asking again is safe.
                    refusals += 1
                    if refusals > len(SESSION_RETRY_DELAYS_S):
                        return failed(f"{target.where} refused a session ({exc.reason}); if it limits sessions, "
                                      "lower per_host_sessions in config/inventory.yaml")
                    await asyncio.sleep(SESSION_RETRY_DELAYS_S[refusals - 1])
                    continue
                self._forget(pool, conn)  # nothing ran: safe to reconnect and try again, once
                drops += 1
                if drops == 2:
                    return failed(f"connection to {target.where} dropped twice: {exc}")
                logger.info("ssh: connection to %s dropped (%s); reconnecting once", target.where, exc)
        return await self._collect(pool, conn, proc, command, timeout, cap)

    async def _collect(self, pool: _HostPool, conn: asyncssh.SSHClientConnection, proc: asyncssh.SSHClientProcess,
                       command: str, timeout: float, cap: int) -> CommandResult:
        target = pool.target
        out, err = _CappedOutput(cap), _CappedOutput(cap)
        timed_out, note, error = False, "", None
        exit_status: int | None = None
        try:
            async with asyncio.timeout(timeout):
                await _drain_both(proc, out, err)
                await proc.wait_closed()
            exit_status = proc.exit_status
            if proc.exit_signal:
                note = f"killed by signal {proc.exit_signal[0]}"
            elif exit_status is None:
                error = f"`{command}` on {target.where} ended without an exit status (connection lost?)"
        except TimeoutError:
            timed_out = True
            note = f"timed out after {timeout:g}s; " + await self._stop(proc, target)
        except _OutputFlood:
            note = f"output passed {cap * DRAIN_LIMIT} bytes; " + await self._stop(proc, target)
            exit_status = proc.exit_status
        except _DROPPED as exc:
            self._forget(pool, conn)
            error = f"connection to {target.where} dropped while `{command}` ran: {exc}"
        finally:
            proc.close()
            if conn.is_closed():
                self._forget(pool, conn)
        if timed_out:
            exit_status = TIMED_OUT_STATUS
        elif exit_status is None or exit_status < 0:  # asyncssh reports -1 for a signal: say it as a shell does
            exit_status = _signal_status(proc.exit_signal[0] if proc.exit_signal else None)
        stderr = err.text()
        if note:
            stderr = f"{stderr.rstrip()}\n[cloud-doctor: {note}]".lstrip("\n")
        return CommandResult(host=target.name, command=command, exit_status=exit_status, stdout=out.text(),
                             stderr=stderr, timed_out=timed_out, truncated=out.truncated or err.truncated,
                             error=error)

    async def _stop(self, proc: asyncssh.SSHClientProcess, target: HostTarget) -> str:
        """End a command that outlived its deadline, and say how it ended."""
        for signal_name in ("TERM", "KILL"):
            try:
                proc.send_signal(signal_name)
            except (OSError, asyncssh.Error):
                break  # the channel is already gone
            if await _closed_within(proc, SIGNAL_GRACE_S):
                return f"stopped with SIG{signal_name}"
        proc.close()
        await _closed_within(proc, SIGNAL_GRACE_S)
        if target.remote_timer:
            return ("the host ignored the signal (sshd refuses it for root logins); the host's own `timeout` "
                    f"kills the command {REMOTE_TIMER_SLACK_S}s after its deadline")
        return "the host ignored the signal (sshd refuses it for root logins): the command may still be running"


async def _closed_within(proc: asyncssh.SSHClientProcess, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await proc.wait_closed()
        return True
    except TimeoutError:
        return False


async def _drain_both(proc: asyncssh.SSHClientProcess, out: _CappedOutput, err: _CappedOutput) -> None:
    tasks = [asyncio.ensure_future(out.drain(proc.stdout)), asyncio.ensure_future(err.drain(proc.stderr))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:  # a flood on one stream must not leave the other reading
            task.cancel()


def _signal_status(name: str | None) -> int:
    try:
        return 128 + signal.Signals[f"SIG{name}"].value
    except KeyError:
        return NOT_RUN_STATUS
