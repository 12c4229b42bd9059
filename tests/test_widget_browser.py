"""The widget in a real browser (Debian chromium driven by playwright), against the real server and a worker.

Alice opens the widget from its launcher on the demo page, sees what to ask,
asks, and sees the report and an approval she cannot give (her own request);
Kim opens the run's link, signs in, clicks Approve, and the finished report
appears. HTML in the request is shown as text, never run. The same at a
390-pixel phone width with no horizontal scrolling, and a page whose origin is
not allowed is told so. Screenshots at 1280 and 390 px go to out/screenshots/
(and the test's tmp dir). Needs `bash scripts/install_browser.sh`; skips with
the reason otherwise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.settings import Settings, reset_settings
from interfaces.web.app import create_app
from interfaces.web.config import WebConfig
from interfaces.web.runs import DoorWorld
from tests.doors_harness import door_settings, token_file, wait_drained, worker_thread
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
    settings = door_settings(tmp_path, monkeypatch)
    tokens = token_file(tmp_path, f"{{user: alice, name: Alice, roles: [developer], token: {ALICE}}}",
                        f"{{user: kim, name: Kim, roles: [devops], token: {KIM}}}")
    config = WebConfig(tokens_file=tokens, world=DoorWorld(world="recorded", scenario=SCENARIO),
                       allowed_origins=["http://127.0.0.1:1"])
    app = create_app(config, settings, slack=False)
    with worker_thread(settings), serve(app) as base:
        yield base
        wait_drained(settings)
    reset_settings()


def shoot(page, tmp_path: Path, name: str) -> Path:
    """A screenshot in the test's tmp dir and in out/screenshots/ for people to look at."""
    keep = REPO / "out" / "screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    page.screenshot(path=str(path))
    shutil.copyfile(path, keep / name)
    return path


def sign_in(page, base: str, token: str, fragment: str = "") -> None:
    page.goto(f"{base}/static/demo.html{fragment}")
    if page.locator(".cd-launcher").is_visible():
        page.click(".cd-launcher")
    page.fill(".cd-token", token)
    page.click(".cd-login button")
    expect(page.locator(".cd-who")).to_contain_text("(")


def test_ask_see_report_and_approve_from_a_shared_link(server, tmp_path):
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 860})
        context.set_default_timeout(TIMEOUT_MS)
        try:
            alice = context.new_page()
            errors: list[str] = []
            alice.on("pageerror", lambda exc: errors.append(str(exc)))
            alice.goto(f"{server}/static/demo.html")
            expect(alice.locator(".cd-launcher")).to_be_visible()
            expect(alice.locator(".cd-widget")).to_be_hidden()
            shoot(alice, tmp_path, "widget-1280-closed.png")
            sign_in(alice, server, ALICE)
            expect(alice.locator(".cd-empty")).to_contain_text("Ask about an incident or a change")
            shoot(alice, tmp_path, "widget-1280-empty.png")
            alice.fill(".cd-text", 'mysql on db1 disk is full, queries time out <img src=x onerror="window.__pwned=1">')
            alice.click(".cd-send")
            expect(alice.locator(".cd-report .cd-headline").first).to_contain_text("awaiting approval")
            expect(alice.locator(".cd-approval")).to_contain_text("mysql \"--execute=PURGE BINARY LOGS BEFORE '2026-02-21 05:25:00'\"")
            expect(alice.locator(".cd-approval .cd-note")).to_contain_text("you asked for this change, so you cannot approve it")
            expect(alice.locator(".cd-approve")).to_be_disabled()
            expect(alice.locator(".cd-empty")).to_have_count(0)
            assert alice.locator(".cd-widget img").count() == 0 and alice.evaluate("window.__pwned") is None
            expect(alice.locator(".cd-user")).to_contain_text('<img src=x onerror="window.__pwned=1">')
            link = alice.locator(".cd-link").first.get_attribute("href")
            assert link and "#cd-thread=web-" in link
            shoot(alice, tmp_path, "widget-1280-asked.png")
            alice.click(".cd-minimize")
            expect(alice.locator(".cd-widget")).to_be_hidden()
            alice.click(".cd-launcher")
            expect(alice.locator(".cd-approval")).to_be_visible()

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
            shoot(kim, tmp_path, "widget-1280-approved.png")
            # Alice's open stream sees the same ending.
            expect(alice.locator(".cd-report .cd-headline").last).to_contain_text("completed")
            assert not errors, errors
        finally:
            context.close()
    assert (tmp_path / "widget-1280-approved.png").stat().st_size > 10_000


def test_on_a_390_pixel_phone_the_widget_fills_the_screen_without_sideways_scrolling(server, tmp_path):
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = context.new_page()
            page.goto(f"{server}/static/demo.html")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            shoot(page, tmp_path, "widget-390-closed.png")
            sign_in(page, server, ALICE)
            box = page.locator(".cd-widget").bounding_box()
            assert box and box["x"] == 0 and box["width"] == 390, box
            page.fill(".cd-text", "mysql on db1 disk is full, queries time out")
            page.click(".cd-send")
            expect(page.locator(".cd-approval")).to_contain_text("mysql \"--execute=PURGE BINARY LOGS BEFORE '2026-02-21 05:25:00'\"")
            assert page.evaluate("document.querySelector('.cd-log').scrollWidth <= document.querySelector('.cd-log').clientWidth")
            shoot(page, tmp_path, "widget-390-asked.png")
        finally:
            context.close()


def test_a_page_whose_origin_is_not_allowed_is_told_so(server, tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page_html = (f'<!doctype html><html><body><h1>Shop admin</h1><script src="{server}/static/widget.js" '
                 f'data-endpoint="{server}" data-token="{ALICE}"></script></body></html>').encode()

    class Shop(BaseHTTPRequestHandler):  # another origin on loopback, not in allowed_origins
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page_html)))
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, *args):
            pass

    shop = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    other = f"http://127.0.0.1:{shop.server_address[1]}"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = context.new_page()
            page.goto(f"{other}/admin")
            page.click(".cd-launcher")
            expect(page.locator(".cd-error")).to_contain_text(f"this page ({other}) is not allowed to use Cloud Doctor")
            expect(page.locator(".cd-error")).to_contain_text("allowed_origins in config/web.yaml")
            shoot(page, tmp_path, "widget-1280-origin-refused.png")
        finally:
            context.close()
            shop.shutdown()
