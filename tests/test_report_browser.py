"""The eval and replay reports in a real browser (Debian chromium driven by playwright), at 1280 pixels wide.

The eval page opens with the summary figures, then the per-category bars,
the confusion heat map, the calibration plot and a drill-down per scenario
that opens to show the evidence, the candidates and why the winner won. The
replay page starts with its summary and does not scroll sideways. The runs
are real replays of scenario files (one deliberately scored wrong, so the
page shows a failure); screenshots go to the test's tmp dir and, with
CLOUD_DOCTOR_SCREENSHOTS set, to that folder too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from config.settings import Settings
from evals.report import render_replay_html
from evals.report_page import render_eval_html
from evals.scenario import load_scenario
from evals.scoring import score, summarize
from interfaces.replay import replay_scenarios
from tests.test_widget_browser import CHROMIUM, FLAGS, sync_playwright  # one browser set-up for the browser tests

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = [REPO / "evals" / "scenarios" / "incidents" / name for name in (
    "disk-full-nginx-logrotate.yaml", "memory-leak-image-resizer-k8s.yaml", "capacity-exhausted-pending-pods.yaml",
    "unknown-latency-blip-resolved.yaml")] + [REPO / "evals" / "scenarios" / "requests" / "req-ko-dev-node-min.yaml"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: run scripts/install_browser.sh (needs root for apt-get)"),
    pytest.mark.skipif(sync_playwright is None, reason="the playwright Python package is not installed: run scripts/install_browser.sh"),
]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    settings = Settings(data_dir=data, memory_enabled=False)
    items = asyncio.run(replay_scenarios(SCENARIOS, settings, concurrency=2))
    assert all(i.outcome is not None for i in items), [i.error for i in items]
    scores = []
    for item in items:
        scenario = item.scenario
        if scenario.id == "disk-full-nginx-logrotate":  # scored against a wrong answer: the page must show a failure
            scenario = scenario.model_copy(update={"expected": scenario.expected.model_copy(update={"root_cause": ["inode_exhaustion"]})})
        scores.append(score(scenario, item.outcome))
    return items, scores


def _save(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get("CLOUD_DOCTOR_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / name)
    return path


def _open(pw, tmp_path: Path, html_text: str, name: str):
    page_file = tmp_path / name
    page_file.write_text(html_text, encoding="utf-8")
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: errors.append(f"network request {req.url}") if not req.url.startswith(("file:", "data:", "about:")) else None)
    page.goto(page_file.as_uri())
    return browser, page, errors


def test_eval_report_shows_summary_charts_and_drill_down(replayed, tmp_path):
    from playwright.sync_api import expect

    _, scores = replayed
    summary = summarize(scores)
    with sync_playwright() as pw:
        browser, page, errors = _open(pw, tmp_path, render_eval_html(summary, scores), "eval.html")
        try:
            sections = page.locator("main > section").evaluate_all("els => els.map(e => e.id)")
            assert sections[:5] == ["summary", "categories", "confusion", "calibration", "keys"], sections
            expect(page.locator("#summary .card").first).to_contain_text("scenarios passed")
            expect(page.locator("#summary")).to_contain_text("calibration error (ECE)")
            assert page.locator("#categories .bar").count() >= 3
            assert page.locator("#confusion td[title]").count() >= 3  # the heat map's filled cells
            wrong = page.locator("#confusion td[title*='inode_exhaustion → disk_full']")
            assert "194,65,47" in wrong.get_attribute("style")  # off the diagonal: red
            assert page.locator("#calibration svg.calplot circle").count() >= 1
            failed = page.locator("details.scenario").first
            head = failed.locator(":scope > summary")
            expect(head).to_contain_text("fail")
            expect(head).to_contain_text("disk-full-nginx-logrotate")
            head.click()
            expect(failed).to_contain_text("What failed")
            expect(failed).to_contain_text("Why the winner won")
            expect(failed.locator(".cand").first).to_contain_text("disk_full")
            failed.locator(".drill details > summary").first.click()
            expect(failed.locator(".drill details table")).to_contain_text("df")
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            shot = _save(page, tmp_path, "eval-report.png")
            assert shot.stat().st_size > 20_000
            assert not errors, errors
        finally:
            browser.close()


def test_replay_report_starts_with_a_summary_and_fits_1280(replayed, tmp_path):
    from playwright.sync_api import expect

    items, _ = replayed
    with sync_playwright() as pw:
        browser, page, errors = _open(pw, tmp_path, render_replay_html(items), "replay.html")
        try:
            first = page.locator("body > p").first
            expect(first).to_contain_text(f"{len(items)}/{len(items)} replayed")
            heading = page.locator("h1").first.bounding_box()
            table = page.locator("table").first.bounding_box()
            assert page.locator("body > p").first.bounding_box()["y"] < table["y"]
            assert heading["y"] < table["y"]
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280, "the replay report scrolls sideways at 1280 px"
            _save(page, tmp_path, "replay-report.png")
            assert not errors, errors
        finally:
            browser.close()


def test_eval_page_is_self_contained(replayed):
    _, scores = replayed
    page = render_eval_html(summarize(scores), scores)
    for tag in ("<script", "<link", "<img", "<iframe", " src=", "@import", "url("):
        assert tag not in page, f"the page loads something from elsewhere: {tag}"
    assert load_scenario(SCENARIOS[0]).id in page
