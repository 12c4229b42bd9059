"""A thread paused for approval survives closing the checkpointer (SQLite and PostgreSQL)."""

from pathlib import Path

import pytest

from agents.context import AgentContext
from config.settings import REPO_ROOT, Settings
from evals.scenario import load_scenario
from graphs.checkpoints import open_checkpointer
from graphs.runner import decide, start_run
from graphs.state import ApprovalDecision, UserRef
from tests.postgres_harness import postgres_url  # noqa: F401 (fixture)
from tools.world import RecordedWorld

SCENARIO = REPO_ROOT / "evals" / "scenarios" / "memory-leak-api.yaml"  # prod, Tuesday 14:20 KST: 2 approvals


def _ctx(settings: Settings) -> AgentContext:
    return AgentContext(world=RecordedWorld(load_scenario(SCENARIO).world), settings=settings)


def _decision(name: str, role: str) -> ApprovalDecision:
    return ApprovalDecision(request_id="pending", user=UserRef(id=name, name=name), role=role, approved=True)


async def _pause_then_resume(settings: Settings) -> None:
    scenario = load_scenario(SCENARIO)
    async with open_checkpointer(settings) as saver:
        first = await start_run(scenario.to_request(), _ctx(settings), saver, thread_id="t-restart",
                                world="recorded", scenario_path=str(SCENARIO))
    assert first.status == "awaiting_approval" and first.pending_approval is not None
    assert first.pending_approval.action == "on web2: systemctl restart api.service"
    assert first.pending_approval.actions[0].argv == ["systemctl", "restart", "api.service"] and first.pending_approval.actions[0].argv_hash

    # A new checkpointer (as after a restart) finds the thread and resumes it.
    async with open_checkpointer(settings) as saver:
        second = await decide(_ctx(settings), saver, "t-restart", _decision("kim", "devops-lead"))
    assert second.status == "awaiting_approval"
    assert [r.count for r in second.pending_approval.still_needed] == [1]
    async with open_checkpointer(settings) as saver:
        third = await decide(_ctx(settings), saver, "t-restart", _decision("park", "sre"))
    assert third.status == "completed"
    assert [d.user.name for d in third.decisions] == ["kim", "park"]
    assert "deployer" in third.route
    # a replay world never touches a real host: the approved restart is answered by the incident's after-state,
    # and its verification reads that state
    restart = [a for a in third.actions if "systemctl restart" in a.action]
    assert restart and restart[0].argv == ["systemctl", "restart", "api.service"]
    assert any("verification passed: the unit is active again" in n.text for n in third.notes), [n.text for n in third.notes]


async def test_sqlite_thread_survives_reopening(tmp_path: Path):
    await _pause_then_resume(Settings(data_dir=tmp_path, memory_enabled=False))
    assert (tmp_path / "checkpoints.sqlite").stat().st_size > 0


async def test_postgres_thread_survives_reopening(tmp_path: Path, postgres_url: str):
    await _pause_then_resume(Settings(data_dir=tmp_path, checkpoint_url=postgres_url, memory_enabled=False))
