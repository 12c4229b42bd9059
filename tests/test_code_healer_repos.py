"""The code healer on the sample repositories: every patch proven by the repository's own tests, the two
double-release regressions on real pools, `cloud-doctor heal`, and delivery as a branch and a pull request."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agents.code_delivery import deliver
from agents.code_fixes import FixTarget
from agents.code_fixes.proof import TestCommand, run_tests
from agents.code_healer import Checkout, build_proposal, heal_file
from config.settings import REPO_ROOT, Settings
from graphs.state import (ApprovalDecision, ApprovalRequest, Diagnosis, Evidence, Request, UserRef)
from tests.fake_forge import TOKEN, FakeForge
from tests.postgres_harness import postgres_url  # noqa: F401 (fixture)

REPOS = REPO_ROOT / "tests" / "fixtures" / "code_repos"
GO_MISSING = "Go is not installed (scripts/install_code_healer_tools.sh installs Debian's golang-go)"
PG_MISSING = "node-postgres is not installed in the node-stock sample (scripts/install_code_healer_tools.sh runs npm ci)"


def make_checkout(tmp_path: Path, name: str) -> Path:
    """A git repository holding a copy of the sample, one commit, its installed node_modules linked in."""
    root = tmp_path / name
    shutil.copytree(REPOS / name, root, ignore=shutil.ignore_patterns("node_modules"))
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "sample"], check=True)
    if (REPOS / name / "node_modules").is_dir():
        (root / "node_modules").symlink_to(REPOS / name / "node_modules")
        (root / ".git" / "info" / "exclude").write_text("node_modules\n")
    return root


def _needs(name: str) -> None:
    if name.startswith("go-") and shutil.which("go") is None:
        pytest.skip(GO_MISSING)
    if name == "node-stock" and not (REPOS / name / "node_modules" / "pg-pool").is_dir():
        pytest.skip(PG_MISSING)


def _heal(root: Path, cause: str, path: str, line: int | None = None, config_dir: Path | None = None):
    checkout = Checkout.open(root, config_dir)
    assert checkout is not None
    return heal_file(FixTarget(cause, path, (root / path).read_text(), line), checkout, config_dir), checkout


SAMPLES = [
    ("py-points", "connection_leak", "points/service.py"),
    ("py-points", "connection_leak", "points/report.py"),
    ("py-points", "missing_timeout", "points/partner.py"),
    ("py-points", "memory_leak", "points/tiers.py"),
    ("py-points", "dependency_failure", "points/catalog.py"),
    ("node-stock", "connection_leak", "src/stock.js"),
    ("node-stock", "missing_timeout", "src/tracking.js"),
    ("node-stock", "memory_leak", "src/prices.js"),
    ("node-stock", "dependency_failure", "src/reviews.js"),
    ("go-inventory", "connection_leak", "manifest.go"),
    ("go-inventory", "missing_timeout", "stock.go"),
]


@pytest.mark.parametrize("name, cause, path", SAMPLES, ids=[f"{n}:{p}" for n, _, p in SAMPLES])
def test_every_sample_patch_passes_the_repositorys_own_tests(tmp_path: Path, name: str, cause: str, path: str):
    _needs(name)
    root = make_checkout(tmp_path, name)
    outcome, _ = _heal(root, cause, path)
    assert outcome.patched, outcome.reason
    assert outcome.tests is not None and outcome.tests.status == "passed", outcome.tests
    assert outcome.tests.network.startswith(("no network", "network not isolated"))
    assert outcome.changed_lines <= 50 and outcome.draft is None
    assert subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True).stdout == ""
    assert subprocess.run(["git", "-C", str(root), "worktree", "list"], capture_output=True, text=True).stdout.count("\n") == 1


def test_a_repository_without_tests_gets_a_draft(tmp_path: Path):
    root = make_checkout(tmp_path, "ts-billing")
    outcome, checkout = _heal(root, "missing_timeout", "src/invoices.ts")
    assert outcome.patched and outcome.tests.status == "no_tests"
    assert outcome.draft == "no tests: not for automatic deployment"
    proposal = build_proposal(outcome, "dev", checkout)
    assert proposal.draft == outcome.draft and "tests" not in {v.check for v in proposal.validation}


def test_a_patch_whose_tests_fail_is_never_proposed(tmp_path: Path):
    root = make_checkout(tmp_path, "py-points")
    # the service's behaviour changes under the same shape: its own tests must catch it
    service = root / "points" / "service.py"
    service.write_text(service.read_text().replace("return row[0] - amount", "return row[0] + amount"))
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@l", "commit", "-qam", "bug"], check=True)
    outcome, _ = _heal(root, "connection_leak", "points/service.py")
    assert not outcome.patched and outcome.tests.status == "failed"
    assert "the repository's tests failed with the patch" in outcome.reason


def test_registry_test_command_timeout_and_no_network(tmp_path: Path):
    root = make_checkout(tmp_path, "py-points")
    config = tmp_path / "config"
    config.mkdir()
    (config / "code_repositories.yaml").write_text(json.dumps({"repositories": [{
        "name": "points", "path": str(root), "test_timeout_s": 2,
        "test_command": [sys.executable, "-c", "import socket, time; print(sorted(n for _, n in socket.if_nameindex())); time.sleep(30)"],
    }]}))
    outcome, checkout = _heal(root, "connection_leak", "points/report.py", config_dir=config)
    assert checkout.repository is not None and checkout.repository.name == "points"
    assert outcome.tests.status == "timed_out" and not outcome.patched
    if outcome.tests.network.startswith("no network"):
        assert "['lo']" in outcome.tests.output_tail


# ------------------------------------------------------------------ regressions on real pools

def test_node_postgres_double_release_shape_fails_and_the_healed_one_passes(tmp_path: Path):
    _needs("node-stock")
    root = make_checkout(tmp_path, "node-stock")
    outcome, checkout = _heal(root, "connection_leak", "src/stock.js")
    assert outcome.tests.status == "passed"
    # what the old template wrote: the early-return release kept inside try, plus one in finally
    old = outcome.fix.after.replace("    if (rows.length === 0) {\n      return null;",
                                    "    if (rows.length === 0) {\n      client.release();\n      return null;")
    assert old != outcome.fix.after
    command = TestCommand(argv=["npm", "test", "--silent"], source="test")
    ran = run_tests(root, checkout.commit, {"src/stock.js": old}, command, 120)
    assert ran.status == "failed" and "Release called on client which has already been released" in ran.output_tail


def _import_from_text(tmp_path: Path, text: str, name: str):
    package = tmp_path / name / "points"
    package.mkdir(parents=True)
    for f in ("__init__.py", "errors.py"):
        shutil.copy(REPOS / "py-points" / "points" / f, package / f)
    (package / "service.py").write_text(text)
    spec = importlib.util.spec_from_file_location(f"{name}.points.service", package / "service.py",
                                                  submodule_search_locations=None)
    sys.path.insert(0, str(tmp_path / name))
    try:
        for mod in [m for m in sys.modules if m == "points" or m.startswith("points.")]:
            del sys.modules[mod]
        import points.service as module  # noqa: PLC0415 (imported from the patched copy on purpose)
        return module
    finally:
        sys.path.remove(str(tmp_path / name))
        del spec


def test_psycopg2_double_putconn_shape_raises_pool_error_and_the_healed_one_does_not(tmp_path: Path, postgres_url: str):
    psycopg2 = pytest.importorskip("psycopg2")
    from psycopg2.pool import PoolError, ThreadedConnectionPool

    outcome, _ = _heal(make_checkout(tmp_path, "py-points"), "connection_leak", "points/service.py")
    old = outcome.fix.after.replace("        if row is None:\n            return None",
                                    "        if row is None:\n            pool.putconn(conn)\n            return None")
    pool = ThreadedConnectionPool(1, 2, dsn=postgres_url)
    try:
        setup = pool.getconn()
        with setup.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS point_wallet (user_id int PRIMARY KEY, balance int)")
            cur.execute("INSERT INTO point_wallet VALUES (7, 500) ON CONFLICT DO NOTHING")
        setup.commit()
        pool.putconn(setup)
        healed = _import_from_text(tmp_path, outcome.fix.after, "healed")
        assert healed.redeem(pool, 99, 1) is None  # the early-return path
        assert healed.redeem(pool, 7, 100) == 400
        with pytest.raises(healed.InsufficientPoints if hasattr(healed, "InsufficientPoints") else Exception):
            healed.redeem(pool, 7, 10_000)
        assert not pool._used  # every connection is back
        broken = _import_from_text(tmp_path, old, "old")
        with pytest.raises(PoolError, match="trying to put unkeyed connection"):
            broken.redeem(pool, 99, 1)
    finally:
        pool.closeall()
    del psycopg2


# ------------------------------------------------------------------ cloud-doctor heal

def _cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from interfaces.cli import main; main()", *args], capture_output=True,
                          text=True, cwd=cwd or REPO_ROOT, env={**os.environ, "COLUMNS": "400", **(env or {})})


def test_cli_heal_json_on_a_repository_outside_the_project(tmp_path: Path):
    root = make_checkout(tmp_path, "py-points")
    done = _cli("heal", str(root), "--cause", "connection_leak", "--file", "points/report.py", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["patched"] is True and data["file"] == "points/report.py" and data["changed_lines"] > 0
    assert data["diff"].startswith("--- a/points/report.py\n+++ b/points/report.py\n")
    assert data["tests"]["passed"] is True and "pytest" in data["tests"]["command"]
    assert {c["check"] for c in data["checks"]} >= {"parse:python", "scope", "release-flow"}
    ambiguous = _cli("heal", str(root), "--cause", "connection_leak", "--json")
    assert ambiguous.returncode == 2 and "several files" in ambiguous.stderr and len(ambiguous.stderr.strip().splitlines()) == 1
    nothing = _cli("heal", str(root), "--cause", "memory_leak", "--file", "points/catalog.py", "--json")
    assert nothing.returncode == 1 and json.loads(nothing.stdout)["patched"] is False
    assert "no module-level dict that only grows" in json.loads(nothing.stdout)["reason"]


def test_cli_heal_text_and_bad_input(tmp_path: Path):
    root = make_checkout(tmp_path, "ts-billing")
    done = _cli("heal", str(root), "--cause", "missing_timeout")
    assert done.returncode == 0 and "timeout: 10000" in done.stdout and "no tests: not for automatic deployment" in done.stdout
    for args, says in ((("heal", str(root), "--cause", "disk_full"), "unknown cause"),
                       (("heal", str(tmp_path / "absent"), "--cause", "memory_leak"), "is not a directory"),
                       (("heal", str(root), "--cause", "memory_leak", "--file", "nope.ts"), "is not a file committed"),
                       (("heal", str(tmp_path), "--cause", "memory_leak"), "is not a git checkout")):
        bad = _cli(*args)
        assert bad.returncode == 2 and says in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


# ------------------------------------------------------------------ delivery

def _approved_patch(tmp_path: Path, name: str, cause: str, path: str):
    root = make_checkout(tmp_path, name)
    outcome, checkout = _heal(root, cause, path)
    proposal = build_proposal(outcome, "dev", checkout)
    diagnosis = Diagnosis(summary="connections stay checked out after a failed redeem", root_cause=cause,
                          confidence=0.8, fix_kind="code_patch", target={"file": path}, citations=["E1"])
    evidence = [Evidence(id="E1", kind="command", source="psql", summary="17 of 20 connections idle in transaction")]
    return root, proposal, diagnosis, evidence


def _bare_remote(tmp_path: Path, root: Path) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin", str(remote)], check=True)
    return remote


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_an_approved_patch_becomes_a_branch_a_commit_and_a_pull_request(tmp_path: Path, kind: str):
    root, proposal, diagnosis, evidence = _approved_patch(tmp_path, "py-points", "connection_leak", "points/service.py")
    remote = _bare_remote(tmp_path, root)
    from agents.code_fixes.repositories import ForgeConfig, RepositoryConfig

    with FakeForge() as forge:
        repo = RepositoryConfig(name="points", path=root, remote="origin", forge=ForgeConfig(
            kind=kind, api_url=forge.url, project="acme/points", token_env="FORGE_TOKEN"))
        delivery = deliver(proposal, root, repo, diagnosis=diagnosis, evidence=evidence, approvers=["kim"],
                           environ={"FORGE_TOKEN": TOKEN})
        assert delivery.status == "delivered", delivery.detail
        [request] = forge.requests
    branch = f"cloud-doctor/{proposal.id.lower()}"
    assert delivery.branch == branch and delivery.pushed
    log = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%an|%s%n%b", branch], capture_output=True, text=True).stdout
    assert log.startswith(f"Cloud Doctor|{proposal.title}") and "Approved-by: kim" in log
    shown = subprocess.run(["git", "-C", str(root), "show", f"{branch}:points/service.py"], capture_output=True, text=True).stdout
    assert shown == proposal.files["points/service.py"]
    assert subprocess.run(["git", "-C", str(remote), "rev-parse", branch], capture_output=True, text=True).stdout.strip() == delivery.commit
    assert subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True).stdout == ""
    body = request["body"]["body"] if kind == "github" else request["body"]["description"]
    for part in ("### Diagnosis", "connections stay checked out", "**E1** `psql`", "```diff", "+    finally:",
                 "passed in a scratch worktree", "Approved by: kim"):
        assert part in body
    if kind == "github":
        assert request["body"]["head"] == branch and request["body"]["base"] == "main" and request["body"]["draft"] is False
        assert delivery.pull_request.url.endswith("/pull/1")
    else:
        assert request["project"] == "acme/points" and request["body"]["source_branch"] == branch
    again = deliver(proposal, root, repo, diagnosis=diagnosis, evidence=evidence, approvers=["kim"], environ={})
    assert again.commit == delivery.commit  # a resumed run delivers the same commit


def test_delivery_refuses_a_diff_that_is_not_the_approved_one_and_says_when_no_token(tmp_path: Path):
    root, proposal, diagnosis, evidence = _approved_patch(tmp_path, "py-points", "connection_leak", "points/report.py")
    tampered = proposal.model_copy(update={"files": {"points/report.py": proposal.files["points/report.py"] + "# extra\n"}})
    refused = deliver(tampered, root, None, diagnosis=diagnosis, evidence=evidence, approvers=["kim"], environ={})
    assert refused.status == "refused" and "does not re-make" in refused.detail
    _bare_remote(tmp_path, root)
    from agents.code_fixes.repositories import ForgeConfig, RepositoryConfig

    repo = RepositoryConfig(name="points", path=root, remote="origin",
                            forge=ForgeConfig(kind="github", api_url="http://127.0.0.1:9", project="a/b", token_env="NO_SUCH_TOKEN"))
    delivered = deliver(proposal, root, repo, diagnosis=diagnosis, evidence=evidence, approvers=["kim"], environ={})
    assert delivered.status == "delivered" and delivered.pushed and delivered.pull_request is None
    assert "no token in $NO_SUCH_TOKEN" in delivered.detail


async def test_the_deployer_delivers_an_approved_code_patch(tmp_path: Path):
    from agents.context import AgentContext
    from agents.deployer import deployer

    root, proposal, diagnosis, evidence = _approved_patch(tmp_path, "ts-billing", "missing_timeout", "src/invoices.ts")

    class LiveStandIn:
        name = "live"

    approval = ApprovalRequest(id="A1", proposal_id=proposal.id, action="open a pull request", reason="r", environment="dev")
    state = {"request": Request(text="heal", environment="dev", user=UserRef(id="kim", name="kim")),
             "approval_status": "approved", "approval_requests": [approval], "proposals": [proposal],
             "decisions": [ApprovalDecision(request_id="A1", user=UserRef(id="kim", name="kim", roles=["devops-lead"]),
                                            role="devops-lead", approved=True)],
             "diagnosis": diagnosis, "evidence": evidence}
    ctx = AgentContext(world=LiveStandIn(), settings=Settings(data_dir=tmp_path / "data", memory_enabled=False))  # type: ignore[arg-type]
    update = await deployer(state, {"configurable": {"ctx": ctx}})
    assert update["deployed"] is True
    [action] = update["actions"]
    assert action.status == "executed" and f"cloud-doctor/{proposal.id.lower()}" in action.output
    assert any("no remote configured" in n.text for n in update["notes"])
