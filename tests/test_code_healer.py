"""The code healer: fix templates on the scenarios' own code, the checks that guard them, and a run through the graph."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from agents import code_fixes
from agents.code_fixes import CodeFix, FixTarget, choose_fix, load_fix_config, validate_fix
from agents.code_fixes.source_text import balance_error
from agents.code_healer import heal
from config.settings import REPO_ROOT, Settings
from evals.scenario import load_scenario
from graphs.runner import run_scenario
from graphs.state import Diagnosis

INCIDENTS = REPO_ROOT / "evals" / "scenarios" / "incidents"
CONFIG = load_fix_config()


def _repo(scenario: str) -> dict[str, str]:
    return yaml.safe_load((INCIDENTS / f"{scenario}.yaml").read_text(encoding="utf-8"))["world"]["repo"]


def _diagnosis(root_cause: str, file: str, line: int | None = None) -> Diagnosis:
    target = {"file": file} | ({"line": line} if line else {})
    return Diagnosis(summary="s", root_cause=root_cause, confidence=0.8, fix_kind="code_patch", target=target)


def _fix(root_cause: str, path: str, source: str, line: int | None = None) -> CodeFix:
    fix, reasons = choose_fix(FixTarget(root_cause=root_cause, path=path, source=source, line=line), CONFIG)
    assert fix is not None, reasons
    assert all(v.passed for v in validate_fix(fix, CONFIG.max_changed_lines)), validate_fix(fix, CONFIG.max_changed_lines)
    return fix


def _changed(before: str, after: str) -> list[tuple[str, str]]:
    pairs = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines())
    return pairs


# ------------------------------------------------------------- missing_timeout


def test_requests_call_gets_a_timeout():
    source = _repo("missing-timeout-reco-requests")["store/clients/reco.py"]
    fix = _fix("missing_timeout", "store/clients/reco.py", source, 13)
    assert _changed(source, fix.after) == [(
        '        resp = requests.get(f"{RECO_URL}/v1/recommendations", params={"user_id": user_id, "n": 12})',
        '        resp = requests.get(f"{RECO_URL}/v1/recommendations", params={"user_id": user_id, "n": 12}, timeout=(3.05, 10))',
    )]


def test_requests_multiline_and_session_calls_and_calls_with_a_timeout_left_alone():
    source = (
        "import requests\n\n"
        "http = requests.Session()\n\n\n"
        "def push(url, body):\n"
        "    return http.post(\n"
        "        url,\n"
        "        json=body\n"
        "    )\n\n\n"
        "def ping(url):\n"
        "    return requests.head(url, timeout=2)\n"
    )
    fix = _fix("missing_timeout", "app/push.py", source)
    assert fix.after == source.replace("        json=body\n    )", "        json=body,\n        timeout=(3.05, 10),\n    )")
    ast.parse(fix.after)


def test_timeout_comes_from_config(tmp_path: Path):
    (tmp_path / "code_fixes.yaml").write_text("missing_timeout: {python_requests_timeout: [1, 4]}\n", encoding="utf-8")
    repo = _repo("missing-timeout-reco-requests")
    proposals, _ = heal(_diagnosis("missing_timeout", "store/clients/reco.py", 13), [], repo, "staging", tmp_path)
    assert "timeout=(1, 4))" in proposals[0].files["store/clients/reco.py"]


def test_fetch_with_options_gets_an_abort_signal():
    source = _repo("missing-timeout-tracking-fetch")["src/clients/tracking.js"]
    fix = _fix("missing_timeout", "src/clients/tracking.js", source, 4)
    assert fix.after == source.replace(
        "${encodeURIComponent(invoiceNo)}`, {\n",
        "${encodeURIComponent(invoiceNo)}`, {\n    signal: AbortSignal.timeout(10000),\n",
    )


def test_fetch_forms_without_options_and_with_a_signal():
    source = (
        "export async function a(url) {\n  return fetch(url);\n}\n"
        "export async function b(url, opts) {\n  return fetch(url, opts);\n}\n"
        "export async function c(url) {\n  return fetch(url, { method: 'POST' });\n}\n"
        "export async function d(url, ac) {\n  return fetch(url, { signal: ac.signal });\n}\n"
    )
    fix = _fix("missing_timeout", "src/a.ts", source)
    assert fix.after.splitlines()[1] == "  return fetch(url, { signal: AbortSignal.timeout(10000) });"
    assert fix.after.splitlines()[4] == "  return fetch(url, { ...opts, signal: AbortSignal.timeout(10000) });"
    assert fix.after.splitlines()[7] == "  return fetch(url, { signal: AbortSignal.timeout(10000), method: 'POST' });"
    assert fix.after.splitlines()[10] == "  return fetch(url, { signal: ac.signal });"


# ------------------------------------------------------------- connection_leak


def test_python_connection_is_given_back_in_finally():
    source = _repo("connection-leak-points-idle-in-tx")["points/service.py"]
    fix = _fix("connection_leak", "points/service.py", source, 22)
    redeem = next(n for n in ast.parse(fix.after).body if isinstance(n, ast.FunctionDef) and n.name == "redeem")
    assign, guarded, ret = redeem.body[1:]
    assert ast.unparse(assign) == "conn = db_pool.getconn()"
    assert isinstance(guarded, ast.Try) and [ast.unparse(s) for s in guarded.finalbody] == ["db_pool.putconn(conn)"]
    assert ast.unparse(guarded.body[-1]) == "cur.close()"
    assert ast.unparse(ret) == "return current - amount"
    # balance() already gives its connection back in finally: untouched
    assert fix.after.split("def redeem")[0] == source.split("def redeem")[0]


def test_node_connection_is_released_in_finally_and_the_transaction_rolled_back():
    source = _repo("connection-leak-coupon-node")["src/services/coupon.js"]
    fix = _fix("connection_leak", "src/services/coupon.js", source, 7)
    tail = fix.after.split("const conn = await pool.getConnection();\n")[1].split("\nmodule.exports")[0]
    assert tail.startswith("  try {\n    await conn.beginTransaction();\n")
    assert tail.endswith(
        "    await conn.commit();\n"
        "    return coupon.discount_rate;\n"
        "  } catch (err) {\n"
        "    await conn.rollback();\n"
        "    throw err;\n"
        "  } finally {\n"
        "    conn.release();\n"
        "  }\n"
        "}\n"
    )
    assert balance_error(fix.after) is None


def test_node_pg_client_without_a_transaction_gets_finally_only():
    source = (
        "router.get('/stock/:sku', async (req, res) => {\n"
        "  const { sku } = req.params;\n"
        "  const client = await pool.connect();\n"
        "  const { rows } = await client.query('SELECT qty FROM stock WHERE sku = $1', [req.params.sku]);\n"
        "  client.release();\n"
        "  res.json(rows[0] || {});\n"
        "});\n"
    )
    fix = _fix("connection_leak", "src/stock.js", source, 3)
    assert fix.after == (
        "router.get('/stock/:sku', async (req, res) => {\n"
        "  const { sku } = req.params;\n"
        "  const client = await pool.connect();\n"
        "  try {\n"
        "    const { rows } = await client.query('SELECT qty FROM stock WHERE sku = $1', [req.params.sku]);\n"
        "    res.json(rows[0] || {});\n"
        "  } finally {\n"
        "    client.release();\n"
        "  }\n"
        "});\n"
    )


# ------------------------------------------------------------- nothing fits, bad patches


def test_no_template_fits_proposes_nothing_and_says_so():
    source = "import requests\n\n\ndef get(url):\n    return requests.get(url, timeout=5)\n"
    proposals, notes = heal(_diagnosis("missing_timeout", "app/client.py"), [], {"app/client.py": source}, "prod")
    assert proposals == []
    assert notes[0].level == "limitation" and "no fix template fits app/client.py" in notes[0].text


def test_missing_code_or_unknown_cause_proposes_nothing():
    proposals, notes = heal(_diagnosis("connection_leak", "src/db.js"), [], {}, "prod")
    assert proposals == [] and notes[0].level == "limitation" and "not available" in notes[0].text
    proposals, notes = heal(_diagnosis("memory_leak", "a.py"), [], {"a.py": "x = 1\n"}, "prod")
    assert proposals == [] and "no fix template for root cause memory_leak" in notes[0].text


def test_checks_catch_a_patch_that_does_not_parse_or_strays():
    before = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    broken = CodeFix(template="t", path="a.py", before=before, after=before.replace("return 1", "return (1"),
                     title="t", rationale="r", lines=(2, 2), language="python")
    strays = CodeFix(template="t", path="a.py", before=before, after=before.replace("return 2", "return 3"),
                     title="t", rationale="r", lines=(2, 2), language="python")
    assert [v.check for v in validate_fix(broken, 50) if not v.passed] == ["parse:python"]
    assert {v.check for v in validate_fix(strays, 50) if not v.passed} == {"scope", "preserves-code"}


def test_a_failing_patch_is_never_proposed(monkeypatch: pytest.MonkeyPatch):
    def bad_template(target, config):
        return CodeFix(template="bad", path=target.path, before=target.source, after=target.source + "{\n",
                       title="t", rationale="r", lines=(1, 99), language="javascript")

    monkeypatch.setitem(code_fixes.TEMPLATES, "connection_leak", (bad_template,))
    proposals, notes = heal(_diagnosis("connection_leak", "a.js"), [], {"a.js": "const a = 1;\n"}, "prod")
    assert proposals == []
    assert notes[0].level == "limitation" and "failed its checks (parse:javascript" in notes[0].text


# ------------------------------------------------------------- through the graph


async def test_scenario_runs_to_a_code_patch_proposal(tmp_path: Path):
    scenario = load_scenario(INCIDENTS / "connection-leak-points-idle-in-tx.yaml")
    outcome = await run_scenario(scenario, Settings(data_dir=tmp_path, memory_enabled=False))
    assert outcome.route[:2] == ["diagnostician", "code_healer"]
    [proposal] = [p for p in outcome.proposals if p.kind == "code_patch"]
    assert proposal.author == "code_healer" and proposal.valid and proposal.rollback == "revert the commit"
    assert proposal.diff.startswith("--- a/points/service.py\n+++ b/points/service.py\n")
    assert "+    finally:\n+        db_pool.putconn(conn)\n" in proposal.diff
    assert "pull request" in proposal.description
    assert outcome.status == "awaiting_approval"
