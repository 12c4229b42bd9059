"""The code healer's templates on real code: each pattern in each language, the control-flow check, the limits."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
import yaml

from agents.code_fixes import FixTarget, choose_fix, load_fix_config, validate_fix
from agents.code_fixes.flow import check_flow
from agents.code_fixes.flow_python import Resource
from agents.code_fixes.flow_python import function_steps as python_steps
from agents.code_fixes.flow_tree import TreeResource
from agents.code_fixes.flow_tree import function_steps as tree_steps
from agents.code_fixes.syntax import FUNCTION_TYPES, parse_tree, syntax_error, walk
from agents.code_healer import heal
from config.settings import REPO_ROOT, Settings
from evals.scenario import load_scenario
from graphs.runner import run_scenario
from graphs.state import Diagnosis

INCIDENTS = REPO_ROOT / "evals" / "scenarios" / "incidents"
REPOS = REPO_ROOT / "tests" / "fixtures" / "code_repos"
CONFIG = load_fix_config()


def _fix(cause: str, path: str, source: str, line: int | None = None, files: dict | None = None):
    fix, reasons = choose_fix(FixTarget(cause, path, source, line, files or {}), CONFIG)
    assert fix is not None, reasons
    checks = validate_fix(fix, CONFIG.max_changed_lines)
    assert all(v.passed for v in checks), checks
    return fix


def _reason(cause: str, path: str, source: str, line: int | None = None) -> str:
    fix, reasons = choose_fix(FixTarget(cause, path, source, line), CONFIG)
    assert fix is None
    return reasons[0]


def _node_check(tmp_path: Path, text: str, name: str = "patched.js") -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run(["node", "--check", str(tmp_path / name)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _python_flow(source: str, var: str, acquire: set[str], release: set[str]):
    fn = next(s for s in cst.parse_module(source).body if isinstance(s, cst.FunctionDef))
    return check_flow(python_steps(fn, Resource(var, frozenset(acquire), frozenset(release))), var)


def _tree_flow(language: str, source: str, var: str, acquire: set[str], release: set[str]):
    root = parse_tree(language, source).root_node
    fn = next(n for n in walk(root) if n.type in FUNCTION_TYPES)
    return check_flow(tree_steps(fn, TreeResource(var, frozenset(acquire), frozenset(release)), language), var)


# ------------------------------------------------------------------ the control-flow check

def test_flow_check_sees_a_leak_on_the_exception_path_and_a_double_release_on_the_early_return():
    leak = "def f(pool):\n    c = pool.getconn()\n    c.cursor().execute('x')\n    pool.putconn(c)\n"
    double = ("def f(pool):\n    c = pool.getconn()\n    try:\n        if c.cursor().fetchone() is None:\n"
              "            pool.putconn(c)\n            return None\n    finally:\n        pool.putconn(c)\n")
    good = "def f(pool):\n    c = pool.getconn()\n    try:\n        return c.cursor().fetchone()\n    finally:\n        pool.putconn(c)\n"
    assert _python_flow(leak, "c", {"getconn"}, {"putconn"}).details == "on a path that raises, `c` is never released"
    assert _python_flow(double, "c", {"getconn"}, {"putconn"}).details == "on a path that returns, `c` is released 2 times"
    assert _python_flow(good, "c", {"getconn"}, {"putconn"}).ok


def test_flow_check_on_acquire_inside_try_loops_and_nested_transactions():
    inside = "def f(pool):\n    try:\n        c = pool.getconn()\n        work(c)\n    finally:\n        pool.putconn(c)\n"
    assert "released without being acquired" in _python_flow(inside, "c", {"getconn"}, {"putconn"}).details
    loop = "def f(pool, items):\n    for i in items:\n        c = pool.getconn()\n    pool.putconn(c)\n"
    assert "acquired 2 times" in _python_flow(loop, "c", {"getconn"}, {"putconn"}).details
    nested = """async function move(pool, a, b) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query('SAVEPOINT s1');
      await client.query('UPDATE x SET n = n - 1 WHERE id = $1', [a]);
    } catch (err) {
      await client.query('ROLLBACK TO SAVEPOINT s1');
      if (err.code === '40001') return false;
      throw err;
    }
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}"""
    assert _tree_flow("javascript", nested, "client", {"connect"}, {"release"}).ok
    partial = nested.replace("if (err.code === '40001') return false;", "if (err.code === '40001') { client.release(); return false; }")
    assert "released 2 times" in _tree_flow("javascript", partial, "client", {"connect"}, {"release"}).details


def test_flow_check_in_go_honours_the_error_check_and_defer():
    good = ("package p\nfunc f(p string) error {\n\tf, err := os.Open(p)\n\tif err != nil {\n\t\treturn err\n\t}\n"
            "\tdefer f.Close()\n\treturn nil\n}\n")
    assert _tree_flow("go", good, "f", {"Open"}, {"Close"}).ok
    twice = good.replace("\treturn nil\n}", "\tf.Close()\n\treturn nil\n}")
    assert "released 2 times" in _tree_flow("go", twice, "f", {"Open"}, {"Close"}).details


# ------------------------------------------------------------------ connection_leak

def test_psycopg2_early_return_release_is_folded_into_finally_not_doubled():
    """Regression: the old template kept the early-return putconn and added one in finally (PoolError)."""
    source = (REPOS / "py-points" / "points" / "service.py").read_text()
    fix = _fix("connection_leak", "points/service.py", source)
    assert fix.function == "redeem" and fix.flow is not None
    redeem = next(s for s in cst.parse_module(fix.after).body if isinstance(s, cst.FunctionDef))
    guarded = redeem.body.body[2]
    assert isinstance(guarded, cst.Try)
    assert cst.Module([]).code_for_node(guarded.finalbody.body.body[0]).strip() == "pool.putconn(conn)"
    assert fix.after.count("pool.putconn(conn)") == 1
    # the shape the old template produced fails the healer's own release-flow check
    old_shape = fix.after.replace("        if row is None:\n            return None",
                                  "        if row is None:\n            pool.putconn(conn)\n            return None")
    assert not _python_flow(old_shape, "conn", {"getconn"}, {"putconn"}).ok


def test_sqlite_connect_gets_try_finally_and_open_gets_with():
    source = (REPOS / "py-points" / "points" / "report.py").read_text()
    fix = _fix("connection_leak", "points/report.py", source)
    assert "    db = sqlite3.connect(path)\n    try:\n" in fix.after and "    finally:\n        db.close()\n" in fix.after
    opened = "def read(p):\n    f = open(p)\n    data = f.read()\n    f.close()\n    return data.strip()\n"
    fix = _fix("connection_leak", "a.py", opened)
    assert fix.after == "def read(p):\n    with open(p) as f:\n        data = f.read()\n    return data.strip()\n"


def test_socket_without_close_is_closed_in_finally():
    source = ("import socket\n\n\ndef ping(host):\n    s = socket.create_connection((host, 6379), timeout=2)\n"
              "    s.sendall(b'PING\\r\\n')\n    return s.recv(64)\n")
    fix = _fix("connection_leak", "ping.py", source)
    assert "    finally:\n        s.close()\n" in fix.after


def test_node_postgres_early_return_release_is_not_doubled(tmp_path: Path):
    """Regression: node-postgres threw 'Release called on client which has already been released'."""
    source = (REPOS / "node-stock" / "src" / "stock.js").read_text()
    fix = _fix("connection_leak", "src/stock.js", source)
    assert fix.after.count("client.release();") == 1
    assert "  } finally {\n    client.release();\n  }\n" in fix.after
    _node_check(tmp_path, fix.after)


def test_mysql2_transaction_is_rolled_back_before_release():
    source = yaml.safe_load((INCIDENTS / "connection-leak-coupon-node.yaml").read_text())["world"]["repo"]["src/services/coupon.js"]
    fix = _fix("connection_leak", "src/services/coupon.js", source, 7)
    assert "  } catch (err) {\n    await conn.rollback();\n    throw err;\n  } finally {\n    conn.release();\n  }\n" in fix.after


def test_typescript_pool_release(tmp_path: Path):
    source = ("export async function q(pool: Pool, id: string): Promise<number | null> {\n"
              "  const client = await pool.connect();\n  const r = await client.query<{ n: number }>('select n', [id]);\n"
              "  client.release();\n  return r.rows[0]?.n ?? null;\n}\n")
    fix = _fix("connection_leak", "src/q.ts", source)
    assert fix.language == "typescript" and "  } finally {\n    client.release();\n  }\n" in fix.after


def test_go_file_gets_defer_close_after_the_error_check():
    source = (REPOS / "go-inventory" / "manifest.go").read_text()
    fix = _fix("connection_leak", "manifest.go", source)
    assert "\tif err != nil {\n\t\treturn 0, err\n\t}\n\tdefer f.Close()\n" in fix.after
    assert "\tf.Close()\n" not in fix.after.replace("defer f.Close()", "")


def test_a_release_used_as_a_value_is_left_to_a_person():
    source = ("package p\nfunc f(p string) error {\n\tf, err := os.Open(p)\n\tif err != nil {\n\t\treturn err\n\t}\n"
              "\tif bad(f) {\n\t\treturn errBad\n\t}\n\treturn f.Close()\n}\n")
    assert "used as a value" in _reason("connection_leak", "a.go", source)


# ------------------------------------------------------------------ missing_timeout

def test_requests_session_on_self_gets_a_timeout():
    source = (REPOS / "py-points" / "points" / "partner.py").read_text()
    fix = _fix("missing_timeout", "points/partner.py", source)
    assert 'json={"user": user_id, "points": points}, timeout=(3.05, 10))' in fix.after


def test_httpx_timeout_none_and_aiohttp_session():
    source = ("import aiohttp\nimport httpx\n\n\ndef prices():\n    with httpx.Client(timeout=None) as c:\n"
              "        return c.get('http://p/x').json()\n\n\nasync def feed():\n    async with aiohttp.ClientSession() as s:\n"
              "        return await s.get('http://f')\n")
    assert "httpx.Client(timeout=10)" in _fix("missing_timeout", "a.py", source, 6).after
    assert "aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))" in _fix("missing_timeout", "a.py", source, 11).after
    with_timeout = "import requests\n\n\ndef get(url):\n    return requests.get(url, timeout=5)\n"
    assert "no HTTP call or client that can wait forever" in _reason("missing_timeout", "a.py", with_timeout)


def test_multiline_requests_call_keeps_its_layout():
    source = "import requests\n\n\ndef push(url, body):\n    return requests.post(\n        url,\n        json=body\n    )\n"
    fix = _fix("missing_timeout", "a.py", source)
    assert fix.after.endswith("        json=body,\n        timeout=(3.05, 10)\n    )\n")


def test_fetch_and_axios_get_deadlines(tmp_path: Path):
    source = (REPOS / "node-stock" / "src" / "tracking.js").read_text()
    fix = _fix("missing_timeout", "src/tracking.js", source)
    assert "{\n    signal: AbortSignal.timeout(10000),\n    headers:" in fix.after
    _node_check(tmp_path, fix.after)
    calls = ("const axios = require('axios');\nasync function a(u) { return axios.post(u); }\n"
             "async function b(u, cfg) { return axios.get(u, cfg); }\nasync function c(u) { return axios.get(u, { timeout: 0 }); }\n")
    assert "axios.post(u, undefined, { timeout: 10000 })" in _fix("missing_timeout", "a.js", calls, 2).after
    assert "axios.get(u, { ...cfg, timeout: 10000 })" in _fix("missing_timeout", "a.js", calls, 3).after
    assert "axios.get(u, { timeout: 10000 })" in _fix("missing_timeout", "a.js", calls, 4).after
    instance = (REPOS / "ts-billing" / "src" / "invoices.ts").read_text()
    fix = _fix("missing_timeout", "src/invoices.ts", instance)
    assert "const billing = axios.create({\n  timeout: 10000,\n  baseURL:" in fix.after
    assert syntax_error("typescript", fix.after) is None


def test_go_http_get_goes_through_a_client_with_a_timeout(tmp_path: Path):
    source = (REPOS / "go-inventory" / "stock.go").read_text()
    fix = _fix("missing_timeout", "stock.go", source)
    assert "\tresp, err := httpClient.Get(" in fix.after
    assert 'var httpClient = &http.Client{Timeout: 10 * time.Second}' in fix.after and '\t"time"\n' in fix.after
    literal = "package p\n\nimport \"net/http\"\n\nfunc c() *http.Client {\n\treturn &http.Client{}\n}\n"
    fixed = _fix("missing_timeout", "c.go", literal).after
    assert "&http.Client{Timeout: 10 * time.Second}" in fixed and 'import (\n\t"net/http"\n\t"time"\n)' in fixed
    if shutil.which("gofmt"):
        (tmp_path / "c.go").write_text(fixed)
        assert subprocess.run(["gofmt", "-e", str(tmp_path / "c.go")], capture_output=True).returncode == 0


# ------------------------------------------------------------------ dependency_failure

def test_python_error_handling_follows_the_module(tmp_path: Path):
    source = (REPOS / "py-points" / "points" / "catalog.py").read_text()
    fix = _fix("dependency_failure", "points/catalog.py", source)
    assert "    except requests.RequestException:\n        log.exception(\"rewards failed\")\n        raise\n" in fix.after
    failure_value = ("import requests\n\n\ndef price(sku):\n    if not sku:\n        return None\n"
                     "    return requests.get(f'http://p/{sku}', timeout=2).json()['price']\n")
    assert "    except requests.RequestException as exc:\n        return None\n" in _fix("dependency_failure", "p.py", failure_value).after
    typed = ("import sqlite3\n\n\nclass StoreUnavailable(Exception):\n    pass\n\n\ndef load(db, k):\n"
             "    if k is None:\n        raise StoreUnavailable('no key')\n    return db.execute('select v from kv where k = ?', (k,)).fetchone()\n")
    fix = _fix("dependency_failure", "s.py", typed)
    assert "    except sqlite3.Error as exc:\n        raise StoreUnavailable(f\"load failed: {exc}\") from exc\n" in fix.after
    # the typed error really is what a caller sees
    module = _load(tmp_path, "s_patched", fix.after)
    with pytest.raises(module.StoreUnavailable):
        module.load(__import__("sqlite3").connect(":memory:"), "k")
    silent = "import requests\n\n\ndef f(u):\n    return requests.get(u, timeout=1)\n"
    assert "nothing in f's module says how a failure should be handled" in _reason("dependency_failure", "q.py", silent)


def test_js_error_handling_returns_the_failure_value_or_logs_and_rethrows(tmp_path: Path):
    source = ("const logger = require('./logger');\n\nasync function price(sku) {\n  if (!sku) return null;\n"
              "  const res = await fetch(`http://p/${sku}`);\n  return (await res.json()).price;\n}\n"
              "logger.info({ sku: 1 }, 'ready');\n")
    fix = _fix("dependency_failure", "p.js", source)
    assert "  } catch (err) {\n    logger.error({ err }, 'price failed');\n    return null;\n  }\n" in fix.after
    _node_check(tmp_path, fix.after)
    typed = ("class PaymentError extends Error {}\nasync function charge(db, id) {\n  if (!id) throw new PaymentError('no id');\n"
             "  const [rows] = await db.query('select 1', [id]);\n  return rows;\n}\n")
    assert "throw new PaymentError(`charge failed: ${err.message}`, { cause: err });" in _fix("dependency_failure", "c.js", typed).after
    plain = "export async function q(pool: Pool) {\n  const r = await pool.query('select 1');\n  return r.rows;\n}\n"
    assert "    console.error('q failed', err);\n    throw err;\n" in _fix("dependency_failure", "q.ts", plain).after


# ------------------------------------------------------------------ memory_leak

def _load(tmp_path: Path, name: str, text: str):
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_python_memo_dict_becomes_lru_cache_and_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = (REPOS / "py-points" / "points" / "tiers.py").read_text()
    fix = _fix("memory_leak", "points/tiers.py", source)
    assert "@functools.lru_cache(maxsize=1024)\ndef tier_for(balance: int) -> str:" in fix.after and "_tiers" not in fix.after
    module = _load(tmp_path, "tiers_patched", fix.after)
    for b in range(5000):
        module.tier_for(b)
    assert module.tier_for.cache_info().currsize == 1024 and module.tier_for(20_000) == "gold"


def test_python_cache_becomes_cachetools_lru_when_the_project_depends_on_it(tmp_path: Path):
    source = "_seen = {}\n\n\ndef remember(k, v):\n    _seen[k] = v\n    return len(_seen)\n"
    fix = _fix("memory_leak", "m.py", source, files={"requirements.txt": "cachetools>=5\n"})
    assert fix.after.startswith("from cachetools import LRUCache\n") and "_seen = LRUCache(maxsize=1024)" in fix.after
    module = _load(tmp_path, "m_patched", fix.after)
    assert max(module.remember(i, i) for i in range(3000)) == 1024


def test_js_map_gets_a_bound_that_holds(tmp_path: Path):
    source = (REPOS / "node-stock" / "src" / "prices.js").read_text()
    fix = _fix("memory_leak", "src/prices.js", source)
    assert "const PRICE_CACHE_MAX_ENTRIES = 1024;" in fix.after
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    (tmp_path / "prices.js").write_text(fix.after)
    out = subprocess.run(["node", "-e", "const p = require('./prices.js'); for (let i = 0; i < 5000; i++) p.priceFor('s' + i);"
                          " console.log(p.priceCache.size)"], cwd=tmp_path, capture_output=True, text=True)
    assert out.stdout.strip() == "1024", out.stderr


def test_an_evicting_cache_is_left_alone():
    source = "_c = {}\n\n\ndef put(k, v):\n    _c[k] = v\n    if len(_c) > 10:\n        _c.pop(next(iter(_c)))\n"
    assert "no module-level dict that only grows" in _reason("memory_leak", "c.py", source)


# ------------------------------------------------------------------ targeting and limits

def test_no_target_line_and_several_candidate_functions_is_refused_with_the_candidates():
    source = (REPOS / "py-points" / "points" / "report.py").read_text() + (
        "\n\ndef count_all(path):\n    db = sqlite3.connect(path)\n    return db.execute('select 1').fetchone()\n")
    reason = _reason("connection_leak", "points/report.py", source)
    assert "several functions" in reason and "count_rows (line 9)" in reason and "count_all (line 15)" in reason
    assert _fix("connection_leak", "points/report.py", source, 16).function == "count_all"


def test_the_changed_line_limit_comes_from_config(tmp_path: Path):
    (tmp_path / "code_fixes.yaml").write_text("max_changed_lines: 3\n", encoding="utf-8")
    source = (REPOS / "py-points" / "points" / "service.py").read_text()
    diagnosis = Diagnosis(summary="s", root_cause="connection_leak", confidence=0.8, fix_kind="code_patch",
                          target={"file": "points/service.py"})
    proposals, notes = heal(diagnosis, [], {"points/service.py": source}, "staging", tmp_path)
    assert proposals == [] and "over the limit of 3" in notes[0].text


def test_unknown_cause_unsupported_language_and_missing_code():
    diagnosis = Diagnosis(summary="s", root_cause="disk_full", confidence=0.8, fix_kind="code_patch", target={"file": "a.py"})
    assert "no fix template for root cause disk_full" in heal(diagnosis, [], {"a.py": "x = 1\n"}, "prod")[1][0].text
    assert "no dependency_failure template for go file" in _reason("dependency_failure", "a.go", "package p\n")
    diagnosis = diagnosis.model_copy(update={"root_cause": "connection_leak", "target": {"file": "src/db.js"}})
    assert "not available" in heal(diagnosis, [], {}, "prod")[1][0].text
    assert "does not parse" in _reason("connection_leak", "a.js", "function ( {\n")


# ------------------------------------------------------------------ through the graph

async def test_scenario_runs_to_a_draft_code_patch_proposal(tmp_path: Path):
    scenario = load_scenario(INCIDENTS / "connection-leak-points-idle-in-tx.yaml")
    outcome = await run_scenario(scenario, Settings(data_dir=tmp_path, memory_enabled=False))
    assert outcome.route[:2] == ["diagnostician", "code_healer"]
    [proposal] = [p for p in outcome.proposals if p.kind == "code_patch"]
    assert proposal.valid and proposal.draft == "no tests: not for automatic deployment"
    assert {v.check for v in proposal.validation} == {"parse:python", "scope", "preserves-code", "release-flow"}
    assert "+    finally:\n+        db_pool.putconn(conn)\n" in proposal.diff
    assert outcome.status == "awaiting_approval"
