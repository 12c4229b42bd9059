"""The widget in a real browser (Debian chromium driven by playwright), against the real server.

Alice asks in the demo page and sees the report and an approval she cannot
give (her own request, and `developer` cannot approve staging); Kim opens the
run's link, signs in, clicks Approve, and the finished report appears. HTML in
the request is shown as text, never run. Screenshots go to the test's tmp dir.
Needs `bash scripts/install_browser.sh`; skips with the reason otherwise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.settings import Settings, reset_settings
from interfaces.web.app import create_app
from interfaces.web.config import WebConfig
from interfaces.web.runs import DoorWorld
from tests.web_server import serve

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "evals" / "scenarios" / "incidents" / "disk-full-mysql-binlog-staging.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ALICE, KIM = "alice-browser-token-7f3a91", "kim-browser-token-2b8c44"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TIMEOUT_MS = 60_000

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: run scripts/install_browser.sh (needs root for apt-get)"),
    pytest.mark.skipif(sync_playwright is None, reason="the playwright Python package is not installed: run scripts/install_browser.sh"),
]


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_DOCTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLOUD_DOCTOR_MEMORY_ENABLED", "false")
    reset_settings()
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"tokens:\n  - {{user: alice, name: Alice, roles: [developer], token: {ALICE}}}\n"
                      f"  - {{user: kim, name: Kim, roles: [devops], token: {KIM}}}\n")
    config = WebConfig(tokens_file=tokens, world=DoorWorld(world="recorded", scenario=SCENARIO))
    app = create_app(config, Settings(data_dir=tmp_path / "data", memory_enabled=False), slack=False)
    with serve(app) as base:
        yield base
    reset_settings()


def sign_in(page, base: str, token: str, fragment: str = "") -> None:
    page.goto(f"{base}/static/demo.html{fragment}")
    page.fill(".cd-token", token)
    page.click(".cd-login button")
    expect(page.locator(".cd-who")).to_contain_text("(")


def test_ask_see_report_and_approve_from_a_shared_link(server, tmp_path):
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1200, "height": 860})
        context.set_default_timeout(TIMEOUT_MS)
        try:
            alice = context.new_page()
            errors: list[str] = []
            alice.on("pageerror", lambda exc: errors.append(str(exc)))
            sign_in(alice, server, ALICE)
            alice.fill(".cd-text", 'mysql on db1 disk is full, queries time out <img src=x onerror="window.__pwned=1">')
            alice.click(".cd-send")
            expect(alice.locator(".cd-report .cd-headline").first).to_contain_text("awaiting approval")
            expect(alice.locator(".cd-approval")).to_contain_text("journalctl --vacuum-size=500M")
            expect(alice.locator(".cd-approval .cd-note")).to_contain_text("your roles cannot approve this")
            expect(alice.locator(".cd-approve")).to_be_disabled()
            assert alice.locator(".cd-widget img").count() == 0 and alice.evaluate("window.__pwned") is None
            expect(alice.locator(".cd-user")).to_contain_text('<img src=x onerror="window.__pwned=1">')
            link = alice.locator(".cd-link").first.get_attribute("href")
            assert link and "#cd-thread=web-" in link
            alice.screenshot(path=str(tmp_path / "widget-asked.png"), full_page=True)

            kim = context.new_page()
            kim.on("pageerror", lambda exc: errors.append(str(exc)))
            sign_in(kim, server, KIM, "#" + link.split("#", 1)[1])
            expect(kim.locator(".cd-approval")).to_contain_text("1 approval from senior or devops or devops-lead or cto")
            expect(kim.locator(".cd-role")).to_have_value("devops")
            kim.click(".cd-approve")
            expect(kim.locator(".cd-report .cd-headline").last).to_contain_text("completed")
            expect(kim.locator(".cd-decision")).to_contain_text("approved by Kim (devops)")
            expect(kim.locator(".cd-approval")).to_have_class("cd-approval cd-closed")
            expect(kim.locator(".cd-progress summary")).to_contain_text("finished: completed")
            kim.locator(".cd-full summary").last.click()
            expect(kim.locator(".cd-full").last).to_contain_text("approved by Kim (devops)")
            expect(kim.locator(".cd-full").last).to_contain_text("root cause: disk_full")
            kim.screenshot(path=str(tmp_path / "widget-approved.png"), full_page=True)
            # Alice's open stream sees the same ending.
            expect(alice.locator(".cd-report .cd-headline").last).to_contain_text("completed")
            assert not errors, errors
        finally:
            context.close()
    assert (tmp_path / "widget-approved.png").stat().st_size > 10_000
