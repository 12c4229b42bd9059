"""Proof by the repository's own tests: the patch applied in a scratch git worktree, the test command run there.

The test command is the registry's (config/code_repositories.yaml) or the
one the repository itself declares: package.json's `test` script (npm test),
test files for `node --test`, pytest, `go test ./...`. It runs with a time
limit, in a fresh network namespace with only loopback (`unshare -n`) where
the machine allows it, else with every proxy variable pointed at a closed
port and package managers told to stay offline; the result says which. The
user's working tree is never touched: the worktree is made from the commit
the patch was computed on and removed afterwards. Dependencies the checkout
has installed (node_modules, a virtualenv, Go's vendor) are linked in, as
the repository's own test run would see them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

INSTALLED_DEPENDENCIES = ("node_modules", ".venv", "venv")
NPM_DEFAULT_TEST = "no test specified"
TAIL = 4000


class TestCommand(BaseModel):
    __test__ = False  # a model, not a pytest test class

    argv: list[str]
    source: str  # where it came from: "config/code_repositories.yaml", "package.json scripts.test", ...

    @property
    def text(self) -> str:
        return " ".join(self.argv)


class TestRun(BaseModel):
    """What the repository's tests said about a patch."""

    __test__ = False

    command: str | None
    status: Literal["passed", "failed", "timed_out", "no_tests", "not_run"]
    detail: str = ""
    output_tail: str = ""
    duration_s: float = 0.0
    network: str = ""

    @property
    def passed(self) -> bool | None:
        return {"passed": True, "failed": False, "timed_out": False}.get(self.status)


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=check)


def is_git_checkout(root: Path) -> bool:
    return root.is_dir() and _git(root, "rev-parse", "--is-inside-work-tree", check=False).stdout.strip() == "true"


def head_commit(root: Path) -> str:
    return _git(root, "rev-parse", "HEAD").stdout.strip()


def tracked_files(root: Path, commit: str) -> list[str]:
    return [p for p in _git(root, "ls-tree", "-r", "--name-only", commit).stdout.splitlines() if p]


def file_at(root: Path, commit: str, path: str) -> str | None:
    shown = subprocess.run(["git", "-C", str(root), "show", f"{commit}:{path}"], capture_output=True, check=False)
    if shown.returncode != 0:
        return None
    try:
        return shown.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None


def detect_test_command(root: Path, files: list[str]) -> TestCommand | None:
    """The repository's own test command, from what it declares; None when it has no tests."""
    names = set(files)
    if "package.json" in names:
        try:
            scripts = json.loads((root / "package.json").read_text(encoding="utf-8")).get("scripts") or {}
        except (OSError, ValueError):
            scripts = {}
        test = scripts.get("test")
        if test and NPM_DEFAULT_TEST not in test:
            return TestCommand(argv=["npm", "test", "--silent"], source="package.json scripts.test")
    node_tests = [f for f in files if f.endswith((".test.js", ".test.mjs", ".test.cjs", "_test.js"))
                  or (f.startswith("test/") and f.endswith((".js", ".mjs", ".cjs")))]
    if node_tests:
        return TestCommand(argv=["node", "--test"], source="node test files (node --test)")
    if "go.mod" in names and any(f.endswith("_test.go") for f in files):
        return TestCommand(argv=["go", "test", "./..."], source="go.mod and _test.go files (go test)")
    if any(Path(f).name.startswith("test_") and f.endswith(".py") or f.endswith("_test.py") for f in files):
        python = root / ".venv" / "bin" / "python"
        return TestCommand(argv=[str(python) if python.exists() else sys.executable, "-m", "pytest", "-q", "-x",
                                 "-p", "no:cacheprovider"], source="Python test files (pytest)")
    return None


@lru_cache(maxsize=1)
def network_isolation() -> list[str] | None:
    """The prefix that runs a command without network (unshare -n, loopback up), or None where it is refused."""
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return None
    up = "ip link set lo up 2>/dev/null; " if shutil.which("ip") else ""
    return ["unshare", "-n", "--", "sh", "-c", f'{up}exec "$@"', "sh"]


def offline_environment(base: dict[str, str]) -> dict[str, str]:
    """The environment with proxies pointed at a closed port (loopback exempt) and package managers offline."""
    closed = "http://127.0.0.1:9"
    env = dict(base)
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env[key] = closed
    loopback = "localhost,127.0.0.1,::1"  # the tests' own local servers stay reachable
    env.update({"NO_PROXY": loopback, "no_proxy": loopback, "npm_config_offline": "true", "PIP_NO_INDEX": "1",
                "GOPROXY": "off", "GOTOOLCHAIN": "local",
                "CI": "true"})
    return env


def _link_installed_dependencies(root: Path, scratch: Path) -> None:
    for name in INSTALLED_DEPENDENCIES:
        if (root / name).is_dir() and not (scratch / name).exists():
            (scratch / name).symlink_to(root / name)


def run_tests(root: Path, commit: str, patched: dict[str, str], command: TestCommand | None,
              timeout_s: int) -> TestRun:
    """Apply `patched` (path -> text) on `commit` in a scratch worktree and run `command` there."""
    if command is None:
        return TestRun(command=None, status="no_tests", detail="no tests: not for automatic deployment")
    isolation = network_isolation()
    network = ("no network: unshare -n (a namespace with loopback only)" if isolation
               else "network not isolated (unshare unavailable): proxies blocked by environment, package managers offline")
    scratch_parent = Path(tempfile.mkdtemp(prefix="cloud-doctor-proof-"))
    scratch = scratch_parent / "worktree"
    started = time.monotonic()
    try:
        _git(root, "worktree", "add", "--detach", "--quiet", str(scratch), commit)
        _link_installed_dependencies(root, scratch)
        for path, text in patched.items():
            (scratch / path).parent.mkdir(parents=True, exist_ok=True)
            (scratch / path).write_text(text, encoding="utf-8")
        argv = (isolation or []) + command.argv
        proc = subprocess.Popen(argv, cwd=scratch, env=offline_environment(dict(os.environ)), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            return TestRun(command=command.text, status="timed_out", detail=f"still running after {timeout_s} s",
                           output_tail=out.decode("utf-8", "replace")[-TAIL:], duration_s=time.monotonic() - started,
                           network=network)
        text = out.decode("utf-8", "replace")
        status = "passed" if proc.returncode == 0 else "failed"
        return TestRun(command=command.text, status=status, detail=f"exit status {proc.returncode} ({command.source})",
                       output_tail=text[-TAIL:], duration_s=round(time.monotonic() - started, 2), network=network)
    except (OSError, subprocess.CalledProcessError) as exc:
        why = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) and exc.stderr else str(exc)
        return TestRun(command=command.text, status="not_run", detail=f"could not run the tests: {why}", network=network)
    finally:
        _git(root, "worktree", "remove", "--force", str(scratch), check=False)
        _git(root, "worktree", "prune", check=False)
        shutil.rmtree(scratch_parent, ignore_errors=True)
