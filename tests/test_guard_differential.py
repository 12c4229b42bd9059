"""Differential tests: each argv the guard allows is read by the real program as the subcommand and options judged.

Grammars written down as data can still disagree with the programs they
describe; these tests run the allowed argv against the real Debian programs
(scripts/install_guard_programs.sh) and observe what the program did:
- git: GIT_TRACE names the built-in that ran; refs and the work tree stay as they were;
- curl: a loopback server sees only GET or HEAD to the judged URL, and nothing is written;
- journalctl, dmesg, ps, ip, ss, df, du, free, lsof: run with the root filesystem read-only (a private mount
  namespace) under strace, with mutating system calls (unlink, rename, truncate, kill, syslog's clear actions)
  failed on purpose: none may even be attempted, and the program must accept every option it was given;
- psql, mariadb, redis-cli: throwaway servers on loopback log what reached them: exactly the named query (or
  the command) the guard judged, and nothing else.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tools.catalogue import ToolCall, default_catalogue
from tools.guard import judge_command

CATALOGUE = default_catalogue()
pytestmark = pytest.mark.slow

# System calls an allowed read must never attempt (syslog 4, 5, 6, 7, 8: clear, console off/on/level).
_MUTATING = re.compile(r"^\d+\s+(?:unlink|unlinkat|rmdir|rename|renameat2?|truncate|ftruncate|linkat?|symlinkat?|mkdirat?|chmod|fchmodat|"
                       r"chown|fchownat|lchown|kill|tkill|tgkill|reboot|mount|umount2|sethostname|settimeofday|clock_settime|"
                       r"syslog\((?:4|5|6|7|8)\b)")
_OPEN_WRITE = re.compile(r'^\d+\s+open(?:at)?\((?:AT_FDCWD, )?"([^"]+)", [^)]*O_(?:WRONLY|RDWR|CREAT|TRUNC)')
_HARMLESS_WRITES = ("/dev/null", "/dev/tty", "/dev/pts/", "/proc/self/", "/dev/shm/")
_REJECTED_OPTION = re.compile(r"invalid option|unrecognized option|unknown option|Unknown command|is unknown, try|illegal option|"
                              r"unrecognized arguments|error: unsupported|Usage:", re.I)


def _can_sandbox() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("strace"):
        return False
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", "mount -o remount,ro,bind / && exit 0"],
                           capture_output=True)
    return probe.returncode == 0


SANDBOX = _can_sandbox()


def sandboxed(argv: list[str], *, netns: bool = False, timeout: float = 30) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run argv with / read-only, under strace with mutating calls failed; returns the process and the trace."""
    trace = Path(tempfile.mkdtemp(dir="/dev/shm")) / "trace"
    inject = "unlink,unlinkat,rmdir,rename,renameat,renameat2,truncate,ftruncate,kill,tkill,tgkill,reboot"
    script = ("mount -o remount,ro,bind / && " + ("ip link set lo up && " if netns else "") +
              f'exec strace -f -qq -o {trace} -e inject={inject}:error=EPERM -e inject=syslog:error=EPERM:when=1+ -- "$@"')
    wrapper = ["unshare", "--mount", "--propagation", "private", *(["--net"] if netns else []), "--", "sh", "-c", script, "sh", *argv]
    proc = subprocess.run(wrapper, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    lines = trace.read_text(errors="replace").splitlines() if trace.exists() else []
    shutil.rmtree(trace.parent, ignore_errors=True)
    return proc, lines


def assert_only_reads(argv: list[str], *, netns: bool = False) -> None:
    verdict = judge_command(argv, "prod")
    assert verdict.verdict == "allow" and verdict.rendered == argv, (argv, verdict)
    proc, trace = sandboxed(argv, netns=netns)
    attempted = [line for line in trace if _MUTATING.search(line)]
    written = [m.group(1) for line in trace if (m := _OPEN_WRITE.search(line)) and not m.group(1).startswith(_HARMLESS_WRITES)]
    assert not attempted and not written, (argv, attempted[:3], written[:3])
    assert not _REJECTED_OPTION.search(proc.stderr), (argv, proc.stderr[-300:])  # the program accepts every option we named


def rendered(tool: str, **params) -> list[str]:
    return CATALOGUE.render(ToolCall(tool=tool, params=params)).argv


# ------------------------------------------------------------------ host reads under strace


HOST_READS = [
    ("host.uptime", {}), ("host.memory", {}), ("host.memory", {"unit": "--human"}), ("host.vmstat", {"interval": 1, "count": 1}),
    ("host.processes", {"sort": "-%mem"}), ("host.process_table", {"sort": "-rss"}), ("host.process", {"pid": 1}),
    ("host.kernel_log", {}), ("host.kernel_log", {"level": "err,warn"}), ("host.disk_space", {}), ("host.disk_inodes", {}),
    ("files.disk_usage", {"path": "/etc", "max_depth": 1, "one_filesystem": True}), ("files.inode_usage", {"path": "/etc"}),
    ("host.sockets", {}), ("host.socket_summary", {}), ("host.listening_sockets", {}),
    ("journal.unit", {"unit": "api", "lines": 50, "since": "-1h"}), ("journal.kernel", {"lines": 20}), ("journal.kernel", {"boot": -1}),
    ("journal.disk_usage", {}), ("journal.boots", {}), ("files.tail", {"path": "/etc/os-release", "lines": 3}),
    ("files.grep", {"pattern": "ID", "paths": ["/etc/os-release"], "ignore_case": True, "count": True}),
    ("files.line_range", {"range": "1,2p", "path": "/etc/os-release"}), ("files.list", {"path": "/etc", "all": True, "human": True}),
    ("files.find", {"path": "/etc", "max_depth": 1, "kind": "f", "name": "*.conf"}), ("files.stat", {"path": "/etc/hosts"}),
    ("host.port_users", {"port": ":5432"}), ("host.deleted_open_files", {}), ("host.cpu_count", {}), ("host.top", {"sort": "%MEM"}),
]
# The free-form spellings the old guard got wrong: allowed ones must be read by the program exactly as judged.
FREE_FORM_READS = ["journalctl -u api -n 20 --no-pager", "dmesg -T", "ps aux --sort=-%cpu", "df -hi", "du -xh --max-depth=1 /etc",
                   "lsof -i :5432", "free -m", "ss -tanp"]


@pytest.mark.skipif(not SANDBOX, reason="needs root, unshare and strace to run programs with a read-only root")
@pytest.mark.parametrize("tool,params", HOST_READS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(HOST_READS)])
def test_allowed_host_reads_only_read(tool, params):
    assert_only_reads(rendered(tool, **params))


@pytest.mark.skipif(not SANDBOX, reason="needs root, unshare and strace")
@pytest.mark.parametrize("command", FREE_FORM_READS)
def test_free_form_reads_run_as_their_rendering_and_only_read(command):
    verdict = judge_command(command, "prod")
    assert verdict.verdict == "allow"
    assert_only_reads(verdict.rendered)


@pytest.mark.skipif(not SANDBOX or not shutil.which("ip"), reason="needs root, unshare, strace and iproute2")
@pytest.mark.parametrize("command", ["ip a", "ip address show", "ip route", "ip -s link show", "ip route get 127.0.0.1"])
def test_ip_reads_in_a_network_namespace(command):
    verdict = judge_command(command, "prod")
    assert verdict.verdict == "allow", verdict
    assert_only_reads(verdict.rendered, netns=True)
    # and `ip a` is what iproute2 makes of it: the same listing as the full words
    full = sandboxed(["ip", "address", "show"], netns=True)[0].stdout
    if verdict.tool == "host.ip_addresses":
        assert sandboxed(verdict.rendered, netns=True)[0].stdout == full


@pytest.mark.skipif(not SANDBOX, reason="needs root, unshare and strace")
def test_the_sandbox_sees_a_mutation_when_one_is_attempted():
    """The oracle must be able to fail: a forbidden dmesg --clear and a vacuum are seen attempting their calls."""
    proc, trace = sandboxed(["dmesg", "--clear"])
    assert any(_MUTATING.search(line) for line in trace), trace[-5:]
    work = Path(tempfile.mkdtemp(dir="/dev/shm"))
    victim = work / "victim"
    victim.write_text("x")
    _, trace = sandboxed(["rm", "-f", str(victim)])
    assert any(_MUTATING.search(line) for line in trace) and victim.exists()
    shutil.rmtree(work)


# ------------------------------------------------------------------ git: GIT_TRACE names the built-in


@pytest.fixture
def repo(tmp_path) -> Path:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for i in range(3):
        (tmp_path / "f.txt").write_text(f"v{i}\n")
        subprocess.run([*git, "-C", str(tmp_path), "add", "f.txt"], check=True)
        subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", f"c{i}"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "branch", "feature"], check=True)
    return tmp_path


def _refs(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "for-each-ref"], capture_output=True, text=True).stdout + \
        subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True).stdout


@pytest.mark.skipif(not shutil.which("git"), reason="git is not installed")
@pytest.mark.parametrize("command", ["git status", "git log --oneline -n 2", "git log -n2 --stat", "git show HEAD --stat",
                                     "git diff HEAD~1 HEAD --stat", "git branch -a", "git branch --list -v", "git rev-parse --abbrev-ref HEAD",
                                     "git --no-pager log -n 1", "git ls-files -m"])
def test_allowed_git_commands_run_the_judged_builtin_and_change_nothing(repo, command):
    verdict = judge_command(command, "prod")
    assert verdict.verdict in ("allow", "approve"), verdict
    argv = verdict.rendered or verdict.argv
    judged = (verdict.rendered and next(w for w in verdict.rendered[1:] if not w.startswith("-"))) or \
        next(w for w in verdict.argv[1:] if not w.startswith("-"))
    before = _refs(repo)
    proc = subprocess.run(argv, cwd=repo, capture_output=True, text=True, env={**os.environ, "GIT_TRACE": "1", "GIT_PAGER": "cat"})
    builtins = re.findall(r"trace: built-in: git (\S+)", proc.stderr)
    assert proc.returncode == 0 and builtins and builtins[0] == judged, (argv, builtins, proc.stderr[-300:])
    assert _refs(repo) == before


@pytest.mark.skipif(not shutil.which("git"), reason="git is not installed")
@pytest.mark.parametrize("command", ["git --namespace log reset --hard HEAD~2", "git branch --del feature", "git branch -d feature",
                                     "git -c core.pager=false log", "git log --output=x.txt"])
def test_the_git_attacks_are_refused_and_would_have_changed_the_repository(repo, command):
    """What the old guard let through really changes the repository when run — and is refused now."""
    assert judge_command(command, "prod").verdict == "forbid"
    before = _refs(repo)
    subprocess.run(command.split(), cwd=repo, capture_output=True, env={**os.environ, "GIT_PAGER": "cat"})
    changed = _refs(repo) != before or (repo / "x.txt").exists()
    assert changed or "core.pager" in command  # -c pager only bites with a pager: refused on principle


# ------------------------------------------------------------------ curl against a loopback server


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict]] = []

    def _answer(self):
        _Recorder.seen.append((self.command, self.path, dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"ok\n")

    do_GET = do_HEAD = do_POST = do_DELETE = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
@pytest.mark.parametrize("template", ["curl -sS -m 5 -o /dev/null -w '%{{http_code}} %{{time_total}}' {url}/health",
                                      "curl -s -w '%{{http_code}}' {url}/health", "curl -sI {url}/health", "curl -sSL -m 3 {url}/status",
                                      "curl -sSv {url}/healthz -o /dev/null"])
def test_allowed_curl_requests_only_get_or_head_the_judged_url_and_write_nothing(http_server, tmp_path, template):
    import shlex

    command = template.format(url=http_server)
    verdict = judge_command(command, "prod")
    assert verdict.verdict == "allow", verdict
    path = "/" + command.rsplit(http_server + "/", 1)[1].split()[0]
    proc = subprocess.run(verdict.rendered, cwd=tmp_path, capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    assert _Recorder.seen and all(m in ("GET", "HEAD") and p == path for m, p, _ in _Recorder.seen), _Recorder.seen
    assert list(tmp_path.iterdir()) == [], "curl wrote a file"
    assert shlex.split(command)[0] == verdict.rendered[0]


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_the_curl_attacks_would_have_sent_other_methods_or_written_files(http_server, tmp_path):
    for command, effect in ((f"curl -sX DELETE {http_server}/_all", "DELETE"), (f"curl -so {tmp_path}/x {http_server}/p", "file")):
        assert judge_command(command, "prod").verdict == "forbid"
        _Recorder.seen = []
        subprocess.run(command.split(), capture_output=True, timeout=20)
        assert (effect == "DELETE" and _Recorder.seen[0][0] == "DELETE") or (effect == "file" and (tmp_path / "x").exists())


# ------------------------------------------------------------------ redis-cli: MONITOR shows what reached the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def redis_port():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("redis-server and redis-cli are not installed (scripts/install_guard_programs.sh)")
    port = _free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port)
    subprocess.run(["redis-cli", "-p", str(port), "set", "precious", "1"], check=True, capture_output=True)
    yield port
    proc.terminate()
    proc.wait(10)


def _commandstats(port: int) -> dict[str, int]:
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "commandstats"], capture_output=True, text=True).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"cmdstat_([a-z|_-]+):calls=(\d+)", out)}


def _commands_run(port: int, argv: list[str]) -> set[str]:
    """The commands the server counted while argv ran (INFO commandstats sees what MONITOR hides: CLIENT, CONFIG, SLOWLOG)."""
    before = _commandstats(port)
    subprocess.run(argv, capture_output=True, timeout=20)
    after = _commandstats(port)
    return {name for name, calls in after.items() if calls > before.get(name, 0)} - {"info"}


@pytest.mark.parametrize("tool,params,command", [("redis.ping", {}, "ping"), ("redis.clients", {}, "client|list"),
                                                  ("redis.slowlog", {"count": 5}, "slowlog|get"), ("redis.dbsize", {}, "dbsize"),
                                                  ("redis.config", {"name": "maxmemory"}, "config|get"), ("redis.memory_stats", {}, "memory|stats")])
def test_allowed_redis_commands_reach_the_server_as_judged(redis_port, tool, params, command):
    argv = rendered(tool, db_host="127.0.0.1", port=redis_port, **params)
    assert judge_command(argv, "prod").tool == tool
    assert _commands_run(redis_port, argv) == {command}
    assert subprocess.run(["redis-cli", "-p", str(redis_port), "exists", "precious"], capture_output=True, text=True).stdout.strip() == "1"


def test_redis_cli_reads_the_word_after_dash_i_as_an_interval(redis_port):
    """`redis-cli -i info FLUSHALL`: the real client sends FLUSHALL (the attack) — the guard refuses it for that reason."""
    assert judge_command("redis-cli -i info FLUSHALL", "prod").verdict == "forbid"
    ran = _commands_run(redis_port, ["redis-cli", "-p", str(redis_port), "-r", "1", "-i", "0", "dbsize"])
    assert ran == {"dbsize"}  # -r/-i take values: the command is the word after them, as the grammar reads it


# ------------------------------------------------------------------ psql: the server logs the statement it ran


@pytest.fixture(scope="module")
def postgres_log():
    from tests.postgres_harness import _as_postgres, _bin

    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl or not shutil.which("psql"):
        pytest.skip("PostgreSQL server binaries or psql are not installed")
    root = Path(tempfile.mkdtemp(prefix="cd-pg-diff-"))
    data, log = root / "data", root / "log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "postgres", "--auth=trust"]), check=True, capture_output=True)
    port = _free_port()
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-w", "-o",
                                 f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c log_statement=all", "start"]), check=True, capture_output=True)
    yield port, log
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("tool,params", [("postgres.activity", {}), ("postgres.setting", {"name": "max_connections"}),
                                         ("postgres.activity_by_application", {}), ("postgres.open_transactions", {}),
                                         ("postgres.blocking", {}), ("postgres.database_sizes", {})])
def test_allowed_psql_runs_exactly_the_named_query(postgres_log, tool, params):
    port, log = postgres_log
    argv = rendered(tool, db_host="127.0.0.1", port=port, db_user="postgres", database="postgres", **params)
    assert judge_command(argv, "prod").tool == tool
    before = log.read_text(errors="replace") if log.exists() else ""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    statements = re.findall(r"LOG:  statement: (.+)", log.read_text(errors="replace")[len(before):])
    query = next(w for w in argv if w.startswith("--command=")).split("=", 1)[1]
    assert statements == [query], statements


# ------------------------------------------------------------------ mariadb: the general log shows the statement


@pytest.fixture(scope="module")
def mariadb_log():
    server = shutil.which("mariadbd") or ("/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else None)
    if server is None or not shutil.which("mariadb-install-db") or not shutil.which("mysql") or os.geteuid() != 0:
        pytest.skip("MariaDB server and client are not installed (scripts/install_guard_programs.sh), or not root")
    root = Path(tempfile.mkdtemp(prefix="cd-maria-diff-"))
    data, log, sock = root / "data", root / "general.log", root / "sock"
    subprocess.run(["mariadb-install-db", "--user=root", f"--datadir={data}", "--auth-root-authentication-method=normal",
                    "--skip-test-db"], check=True, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen([server, "--no-defaults", "--user=root", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
                             "--bind-address=127.0.0.1", "--general-log=1", f"--general-log-file={log}", "--skip-grant-tables",
                             "--skip-log-bin", "--innodb-buffer-pool-size=32M"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, 60)
    yield port, log
    proc.terminate()
    proc.wait(30)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("tool,params", [("mysql.processlist", {}), ("mysql.status_variable", {"name": "Threads_connected"}),
                                         ("mysql.variable", {"name": "max_connections"}), ("mysql.innodb_transactions", {}),
                                         ("mysql.table_sizes", {"schema": "mysql"})])
def test_allowed_mysql_runs_exactly_the_named_query(mariadb_log, tool, params):
    port, log = mariadb_log
    argv = rendered(tool, db_host="127.0.0.1", port=port, db_user="root", **params)
    assert judge_command(argv, "prod").tool == tool
    before = log.read_text(errors="replace") if log.exists() else ""
    proc = subprocess.run([argv[0], "--no-defaults", *argv[1:]], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    queries = [q.strip() for q in re.findall(r"\sQuery\t(.+)", log.read_text(errors="replace")[len(before):])]
    query = next(w for w in argv if w.startswith("--execute=")).split("=", 1)[1]
    assert query in queries and all(q == query or q.lower().startswith(("select @@version_comment", "select database()", "set "))
                                    for q in queries), queries
