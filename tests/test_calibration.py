"""Honest confidence: the eval's calibration (ECE, Brier, reliability bins) and the accuracy/abstention trade-off."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from rich.console import Console

from evals.calibration import calibrate, calibration_markdown
from evals.scoring import KeyScore, ScenarioScore

REPO = Path(__file__).resolve().parents[1]


def incident(sid: str, confidence: float, right: bool, predicted: str = "disk_full") -> ScenarioScore:
    return ScenarioScore(scenario_id=sid, kind="incident", category="disk_full", predicted=predicted, passed=right, confidence=confidence,
                         keys=[KeyScore(key="root_cause", passed=right)])


def test_expected_calibration_error_is_the_count_weighted_gap():
    scores = [incident("a", 0.95, True), incident("b", 0.92, False), incident("c", 0.31, True), incident("d", 0.35, True),
              incident("u", 0.60, True, predicted="unknown"), ScenarioScore(scenario_id="r", kind="request", passed=True)]
    cal = calibrate(scores)
    assert cal.incidents == 5 and cal.abstained == 1 and cal.abstained_rightly == 1
    by_bin = {b.low: b for b in cal.bins if b.count}
    assert by_bin[0.9].count == 2 and by_bin[0.9].accuracy == 0.5 and by_bin[0.3].accuracy == 1.0
    gaps = [(2, abs(0.5 - 0.935)), (2, abs(1.0 - 0.33)), (1, abs(1.0 - 0.6))]
    assert cal.ece == pytest.approx(sum(n / 5 * g for n, g in gaps), abs=1e-3)
    assert cal.brier == pytest.approx(((0.95 - 1) ** 2 + 0.92 ** 2 + (0.31 - 1) ** 2 + (0.35 - 1) ** 2 + (0.6 - 1) ** 2) / 5, abs=1e-3)


def test_the_trade_off_never_counts_an_abstention_as_an_answer():
    scores = [incident("a", 0.95, True), incident("b", 0.92, False), incident("c", 0.31, True), incident("u", 0.60, True, predicted="unknown")]
    rows = {r.threshold: r for r in calibrate(scores).trade_off}
    assert (rows[0.0].answered, rows[0.0].right) == (3, 2) and rows[0.0].coverage == 0.75
    assert (rows[0.5].answered, rows[0.5].accuracy) == (2, 0.5)
    assert rows[0.9].answered == 2 and rows[0.0].accuracy == pytest.approx(2 / 3, abs=1e-3)
    text = "\n".join(calibration_markdown(calibrate(scores)))
    assert "Expected calibration error" in text and "| ≥ 0.5 | 2 | 50% | 50% |" in text


def test_eval_json_carries_calibration_and_the_report_shows_it(tmp_path, monkeypatch):
    from interfaces.eval_cli import eval_command

    monkeypatch.setenv("CLOUD_DOCTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    from config.settings import reset_settings

    reset_settings()
    folder = tmp_path / "set"
    folder.mkdir()
    for name in ("memory-pressure-ledger-api-256mi-limit-yaml", "unknown-cart-looks-healthy", "dns-failure-coredns-forward-loop"):
        (folder / f"{name}.yaml").write_text((REPO / "evals" / "scenarios" / "incidents" / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        eval_command(folder, as_json=True, baseline=None, out=tmp_path / "out", concurrency=2, with_memory=False, thresholds=None,
                     console=Console(file=io.StringIO()))
    payload = json.loads(out.getvalue())
    cal = payload["calibration"]
    assert cal["incidents"] == 3 and 0.0 <= cal["ece"] <= 1.0 and len(cal["bins"]) == 10 and cal["trade_off"][0]["threshold"] == 0.0
    assert payload["root_cause_top1"] == 1.0
    assert "## Calibration" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "id=calibration" in page and "calplot" in page and "id=confusion" in page
    reset_settings()
