"""Load in CI, bounded: the real `cloud-doctor serve` (doors + its 2 worker processes, SQLite, no LLM).

300 widget sessions at once and 200 Slack commands (20 at a time) all complete
with no error, and every stream ends with the right status. Timing targets
live in `make bench` (benchmarks/bench_doors.py), not here.
"""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.bench_doors import doors_server, slack_commands, thread_timings, widget_sessions
from tests.fake_slack import FakeSlack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_300_widget_sessions_and_200_slack_commands_complete_without_errors():
    with FakeSlack() as fake, doors_server(fake.base_url) as server:
        commands = asyncio.run(slack_commands(server["base"], 200, 20))
        assert commands["errors"] == [] and len(commands["acks"]) == 200
        timings = thread_timings(fake, commands["sent_at"], timeout=600)
        assert len(timings["report"]) == 200, "a command never got its report in its thread"
        completed = fake.find("chat.postMessage", lambda c: c.get("text", "").startswith("completed"))
        assert len(completed) == 201, "a report was posted twice or lost (200 commands and the first one after start)"

        sessions = asyncio.run(widget_sessions(server["base"], 300))
        assert sessions["errors"] == []
        assert sessions["statuses"] == ["completed"] * 300
