"""The widget is a conversation: the run's question ("how many nodes?") shows in its card, what Minji types next answers
it in the same thread and the run goes on to its approval; "why?" follows up in the thread; "New" starts another thread.

Debian chromium driven by playwright against the real server and a worker (scripts/install_browser.sh); skips without.
"""

from __future__ import annotations

import pytest

from tests.test_widget_browser import CHROMIUM, FLAGS, REPO, TIMEOUT_MS, shoot, sign_in, sync_playwright

if sync_playwright is not None:
    from playwright.sync_api import expect

from config.settings import Settings, reset_settings
from interfaces.web.app import create_app
from interfaces.web.config import WebConfig
from interfaces.web.runs import DoorWorld
from tests.doors_harness import door_settings, token_file, wait_drained, worker_thread
from tests.web_server import serve

SCENARIO = REPO / "evals" / "scenarios" / "requests" / "req-ko-thread-answer-goes-on.yaml"
MINJI = "minji-browser-token-4e8a21"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: run scripts/install_browser.sh (needs root for apt-get)"),
    pytest.mark.skipif(sync_playwright is None, reason="the playwright Python package is not installed: run scripts/install_browser.sh"),
]


@pytest.fixture
def server(tmp_path, monkeypatch):
    settings = door_settings(tmp_path, monkeypatch)
    tokens = token_file(tmp_path, f"{{user: minji, name: Minji, roles: [developer], token: {MINJI}}}")
    app = create_app(WebConfig(tokens_file=tokens, world=DoorWorld(world="recorded", scenario=SCENARIO)), settings, slack=False)
    with worker_thread(settings), serve(app) as base:
        yield base
        wait_drained(settings)
    reset_settings()


def test_a_question_is_answered_in_the_same_conversation_and_the_run_goes_on(server, tmp_path):
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            sign_in(page, server, MINJI)
            page.fill(".cd-text", "노드 늘려줘")  # in the widget's environment (staging): how many?
            page.click(".cd-send")
            expect(page.locator(".cd-question")).to_contain_text("얼마로 할까요", timeout=TIMEOUT_MS)
            expect(page.locator(".cd-text")).to_have_attribute("placeholder", "Answer the question (it goes on in this thread)…")
            expect(page.locator(".cd-thread")).to_contain_text("in thread web-")
            expect(page.locator(".cd-run")).to_have_count(1)
            shoot(page, tmp_path, "widget-conversation-question.png")

            page.fill(".cd-text", "하나 더")
            page.click(".cd-send")
            expect(page.locator(".cd-reply")).to_contain_text("Minji: 하나 더")
            expect(page.locator(".cd-approval")).to_contain_text("node_count", timeout=TIMEOUT_MS)  # planned, validated, costed
            expect(page.locator(".cd-run")).to_have_count(1)  # the same run, not a new one
            expect(page.locator(".cd-approval .cd-note")).to_contain_text("you asked for this change")

            page.fill(".cd-text", "왜?")
            page.click(".cd-send")
            expect(page.locator(".cd-report .cd-headline").last).to_contain_text("environments.staging.eks.node_count: 3 → 4",
                                                                                 timeout=TIMEOUT_MS)
            expect(page.locator(".cd-run")).to_have_count(1)
            expect(page.locator(".cd-approval")).not_to_have_class("cd-approval cd-closed")  # it still waits for its approver
            expect(page.locator(".cd-user")).to_have_count(1)  # the replies show in the run's card, in order
            shoot(page, tmp_path, "widget-conversation-answered.png")

            page.click(".cd-new")
            expect(page.locator(".cd-thread")).to_have_text("")
            page.fill(".cd-text", "how much does dev cost per month?")
            page.click(".cd-send")
            expect(page.locator(".cd-run")).to_have_count(2)
            expect(page.locator(".cd-report .cd-headline").last).to_contain_text("dev:", timeout=TIMEOUT_MS)
            assert not errors, errors
        finally:
            context.close()
