"""The SSH executor against a real OpenSSH server on loopback (tests/sshd_harness.py).

What is observed is what the host saw: sshd's own log (logins, sessions),
processes on the host (`pgrep`), files the host would have created.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.sshd_harness import (SshdServer, free_port, inventory_for, make_workdir,  # noqa: F401 (sshd: fixture)
                                sshd, start_or_skip)
from tools.audit import AuditLog
from tools.inventory import HostEntry, UnknownHostError
from tools.ssh import TIMED_OUT_STATUS, CommandRefused, SSHExecutor

pytestmark = [pytest.mark.sshd, pytest.mark.timeout(60)]


def remote_processes(pattern: str) -> list[str]:
    """Processes on the host (the same machine here) whose command line contains `pattern`."""
    found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


async def wait_until_gone(pattern: str, within: float) -> list[str]:
    deadline = time.monotonic() + within
    while (left := remote_processes(pattern)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return left


def make_fifo(server: SshdServer, name: str) -> Path:
    """`cat FIFO` blocks silently until someone writes: a command that hangs without output."""
    fifo = server.workdir / name
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    fifo.chmod(0o666)
    return fifo


# ------------------------------------------------------------------- the pool


async def test_commands_share_one_connection_within_the_session_limit(sshd: SshdServer) -> None:
    logins_before = sshd.accepted_logins()
    async with SSHExecutor(inventory_for(sshd, per_host_sessions=8)) as ssh:
        first = await ssh.run("web1", ["whoami"])
        # 25 at once: sshd allows 10 sessions per connection, so this passes only if the
        # executor queues them on its per-host limit instead of opening them all.
        burst = await asyncio.gather(*(ssh.run("web1", ["uname"]) for _ in range(25)))
        assert first.ok and first.stdout.strip() == sshd.user
        assert [r.error for r in burst if not r.ok] == []
        assert all(r.stdout.strip() == "Linux" for r in burst)
        assert ssh.connections_made("web1") == 1
    assert sshd.accepted_logins() - logins_before == 1  # one TCP connection, one login


async def test_a_session_limit_that_stays_full_is_reported_not_waited_on_forever(sshd: SshdServer) -> None:
    fifo = make_fifo(sshd, "held-open")
    async with SSHExecutor(inventory_for(sshd, per_host_sessions=12)) as ssh:
        # 12 commands that hang on a FIFO hold sessions past the retries; sshd allows 10 per connection.
        held = await asyncio.gather(*(ssh.run("web1", ["cat", str(fifo)], timeout=4) for _ in range(12)))
    refused = [r.error for r in held if r.error and "refused a session" in r.error]
    assert len(refused) == 2 and "lower per_host_sessions" in refused[0]
    assert sum(r.timed_out for r in held) == 10


async def test_idle_connection_is_closed_and_reopened(sshd: SshdServer) -> None:
    logins_before = sshd.accepted_logins()
    async with SSHExecutor(inventory_for(sshd, idle_seconds=0.3)) as ssh:
        assert (await ssh.run("web1", ["uname"])).ok
        assert ssh.open_hosts() == ["web1"]
        deadline = time.monotonic() + 5
        while ssh.open_hosts() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert ssh.open_hosts() == []
        assert (await ssh.run("web1", ["uname"])).ok
        assert ssh.connections_made("web1") == 2
    assert sshd.accepted_logins() - logins_before == 2


async def test_reconnects_once_when_the_connection_dropped(sshd: SshdServer) -> None:
    async with SSHExecutor(inventory_for(sshd)) as ssh:
        assert (await ssh.run("web1", ["uname"])).ok
        # Kill the host's sshd process that serves this connection, as a reboot or a network cut would.
        child = re.findall(r"User child is on pid (\d+)", sshd.log_text())[-1]
        os.kill(int(child), 9)
        again = await ssh.run("web1", ["uname"])
        assert again.ok, again.error
        assert ssh.connections_made("web1") == 2


# ------------------------------------------------------------------ timeouts


async def test_hanging_command_is_killed_on_the_host_at_its_timeout(sshd: SshdServer) -> None:
    fifo = make_fifo(sshd, "hang-signal.fifo")
    async with SSHExecutor(inventory_for(sshd, remote_timer=False)) as ssh:
        started = time.monotonic()
        result = await ssh.run("web1", ["cat", str(fifo)], timeout=1)
        elapsed = time.monotonic() - started
        assert result.timed_out and result.exit_status == TIMED_OUT_STATUS and not result.ok
        assert 1 <= elapsed < 3, elapsed
        assert "stopped with SIGTERM" in result.stderr
        assert await wait_until_gone(str(fifo), within=1) == []
        assert (await ssh.run("web1", ["uname"])).ok  # the pooled connection survived the kill


@pytest.mark.skipif(os.geteuid() != 0, reason="logging in as root needs root")
async def test_remote_timer_kills_what_sshd_will_not_signal(sshd: SshdServer) -> None:
    # sshd refuses signal requests on root logins; the remote `timeout -s KILL` still ends the command.
    fifo = make_fifo(sshd, "hang-root.fifo")
    async with SSHExecutor(inventory_for(sshd, user="root", remote_timer=True)) as ssh:
        result = await ssh.run("web1", ["cat", str(fifo)], timeout=1)
        assert result.timed_out
        assert "ignored the signal" in result.stderr
        assert await wait_until_gone(str(fifo), within=5) == []


# ---------------------------------------------------------------- the fan-out


async def test_fan_out_reports_unreachable_hosts_beside_the_answers(sshd: SshdServer) -> None:
    closed_port = free_port()
    inventory = inventory_for(
        sshd,
        extra_hosts={"web2": HostEntry(address=sshd.host, port=sshd.port),
                     "web3": HostEntry(address=sshd.host, port=closed_port),
                     "web4": HostEntry(address="no-such-host.invalid")},
        groups={"web": ["web1", "web2", "web3", "web4"]},
    )
    async with SSHExecutor(inventory) as ssh:
        results = await ssh.fan_out(["web", "db9"], ["whoami"], timeout=5)
    assert [r.host for r in results] == ["web1", "web2", "web3", "web4", "db9"]
    assert [r.ok for r in results] == [True, True, False, False, False]
    assert results[0].stdout.strip() == results[1].stdout.strip() == sshd.user
    assert "connection refused" in results[2].error and str(closed_port) in results[2].error
    assert "does not resolve" in results[3].error
    assert "not in the inventory" in results[4].error
    with pytest.raises(UnknownHostError):
        await SSHExecutor(inventory).run("db9", ["uname"])


async def test_global_limit_bounds_commands_across_hosts(sshd: SshdServer) -> None:
    hosts = {f"web{i}": HostEntry(address=sshd.host, port=sshd.port) for i in range(2, 5)}
    inventory = inventory_for(sshd, extra_hosts=hosts, groups={"web": ["web1", *hosts]}, global_concurrency=2)
    async with SSHExecutor(inventory) as ssh:
        started = time.monotonic()
        results = await ssh.fan_out("web", ["vmstat", "1", "2"])  # about 1 s each
        elapsed = time.monotonic() - started
    assert all(r.ok for r in results) and len(results) == 4
    assert elapsed >= 2, elapsed  # 4 commands, 2 at a time: two rounds


# ---------------------------------------------------------------- host keys


async def test_changed_host_key_is_refused() -> None:
    workdir = make_workdir()
    server = start_or_skip(workdir)
    try:
        inventory = inventory_for(server)  # known_hosts holds the key the host has now
        async with SSHExecutor(inventory) as ssh:
            assert (await ssh.run("web1", ["uname"])).ok
        server.restart(new_host_key=True)  # same address and port, another key
        logins_before = server.accepted_logins()
        async with SSHExecutor(inventory) as ssh:
            refused = await ssh.run("web1", ["uname"])
        assert not refused.ok and refused.stdout == ""
        assert "host key does not match" in refused.error
        assert server.accepted_logins() == logins_before  # we never logged in to the impostor
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_missing_known_hosts_file_is_an_error_not_trust(sshd: SshdServer, tmp_path: Path) -> None:
    inventory = inventory_for(sshd, known_hosts=tmp_path / "absent_known_hosts")
    async with SSHExecutor(inventory) as ssh:
        result = await ssh.run("web1", ["uname"])
    assert result.error and "absent_known_hosts" in result.error and "does not exist" in result.error


async def test_skipping_host_key_checks_must_be_configured_and_is_logged(
        sshd: SshdServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    inventory = inventory_for(sshd, known_hosts=None, insecure_skip_host_key_check=True)
    with caplog.at_level(logging.WARNING, logger="cloud_doctor.ssh"):
        async with SSHExecutor(inventory, audit=audit) as ssh:
            assert (await ssh.run("web1", ["uname"])).ok
    assert any("NOT verified" in r.getMessage() for r in caplog.records)
    assert [e["event"] for e in audit.read()] == ["ssh_insecure_host_key"]


# ------------------------------------------------------------------ the guard


async def test_forbidden_command_never_reaches_the_host(sshd: SshdServer, tmp_path: Path) -> None:
    marker = sshd.workdir / "forbidden-marker"
    audit = AuditLog(tmp_path / "audit.jsonl")
    logins, sessions = sshd.accepted_logins(), sshd.log_text().count("Starting session")
    async with SSHExecutor(inventory_for(sshd, groups={"web": ["web1"]}), audit=audit) as ssh:
        with pytest.raises(CommandRefused, match="touch"):
            await ssh.run("web1", ["touch", str(marker)])
        with pytest.raises(CommandRefused):
            await ssh.fan_out("web", ["rm", "-rf", str(sshd.workdir)])
        with pytest.raises(CommandRefused):
            await ssh.run("web1", ["cat", f"$(touch {marker})"])
        with pytest.raises(TypeError):
            await ssh.run("web1", f"touch {marker}")  # type: ignore[arg-type]
        assert ssh.open_hosts() == []
    assert not marker.exists() and sshd.workdir.exists()
    assert sshd.accepted_logins() == logins  # not even a connection
    assert sshd.log_text().count("Starting session") == sessions
    assert [e["event"] for e in audit.read()] == ["ssh_refused", "ssh_refused", "ssh_refused"]


async def test_arguments_are_quoted_not_reparsed_by_the_remote_shell(sshd: SshdServer) -> None:
    marker = sshd.workdir / "quoted-marker"
    data = sshd.workdir / "quoting.txt"
    data.write_text(f"x; touch {marker}\nplain line\n")
    data.chmod(0o644)
    async with SSHExecutor(inventory_for(sshd)) as ssh:
        result = await ssh.run("web1", ["grep", "-c", f"x; touch {marker}", str(data)])
    assert result.ok and result.stdout.strip() == "1"  # grep saw the whole text as one pattern
    assert not marker.exists()


# ------------------------------------------------------------------ the cap


async def test_output_is_capped_in_bytes(sshd: SshdServer) -> None:
    log = sshd.workdir / "noisy.log"
    log.write_text("".join(f"line {i:06d} of a noisy log\n" for i in range(4_000)))  # ~108 kB
    log.chmod(0o644)
    async with SSHExecutor(inventory_for(sshd, output_cap_bytes=10_000)) as ssh:
        capped = await ssh.run("web1", ["cat", str(log)])
        small = await ssh.run("web1", ["head", "-n", "3", str(log)])
    assert capped.truncated and len(capped.stdout.encode()) == 10_000
    assert capped.stdout.startswith("line 000000 of a noisy log\n")
    assert capped.exit_status == 0  # the rest was read and dropped, so cat finished normally
    assert not small.truncated and small.stdout.count("\n") == 3


async def test_a_flood_of_output_stops_the_command(sshd: SshdServer) -> None:
    # Past 64 caps the executor stops reading and ends the command instead of draining forever.
    async with SSHExecutor(inventory_for(sshd, output_cap_bytes=1_000)) as ssh:
        flood = await ssh.run("web1", ["find", "/proc"], timeout=20)
    assert flood.truncated and len(flood.stdout.encode()) == 1_000
    assert "output passed 64000 bytes" in flood.stderr
    assert await wait_until_gone("find /proc", within=2) == []


# ---------------------------------------------- asyncssh's in-process server


async def test_exact_remote_string_and_signal_status_with_an_in_process_server(tmp_path: Path) -> None:
    """What the server receives, byte for byte, and how a command killed by a signal is reported."""
    import asyncssh

    from tools.inventory import Inventory, SSHDefaults

    host_key = asyncssh.generate_private_key("ssh-ed25519")
    user_key = asyncssh.generate_private_key("ssh-ed25519")
    user_key.write_private_key(tmp_path / "user_key")
    received: list[str] = []

    async def handle(process: asyncssh.SSHServerProcess) -> None:
        received.append(process.command)
        process.stdout.write("partial output\n")
        if process.command.startswith("uname"):
            process.exit_with_signal("SEGV")
        else:
            process.exit(3)

    server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[host_key], process_factory=handle,
                                   authorized_client_keys=asyncssh.import_authorized_keys(
                                       user_key.export_public_key().decode()))
    port = server.sockets[0].getsockname()[1]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
    inventory = Inventory(
        defaults=SSHDefaults(user="ops", key_file=tmp_path / "user_key", known_hosts=known_hosts),
        hosts={"a": {"address": "127.0.0.1", "port": port}, "b": {"address": "127.0.0.1", "port": port,
                                                                "remote_timer": False}})
    try:
        async with SSHExecutor(inventory) as ssh:
            crashed = await ssh.run("b", ["uname"])
            grep = await ssh.run("b", ["grep", "-c", "it's a b", "/var/log/x y.log"])
            timed = await ssh.run("a", ["uptime"], timeout=7.5)
    finally:
        server.close()
    assert received == ["uname", "grep -c 'it'\"'\"'s a b' '/var/log/x y.log'", "timeout -s KILL 10 uptime"]
    assert crashed.exit_status == 139 and "killed by signal SEGV" in crashed.stderr
    assert crashed.stdout == "partial output\n" and not crashed.timed_out
    assert grep.exit_status == 3 and timed.exit_status == 3
