"""Threads in the graph: a question waits as an interrupt and a reply resumes the same run; a follow-up in a finished
thread is a new turn with the last turn's context; approvals of a later turn are decided in it; a stage gate waits,
is checked again when due, and passes or stops the rollout.

The real graph and runner over recorded scenarios, SQLite checkpoints and the run registry in a temporary data dir.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agents.context import AgentContext
from config.settings import REPO_ROOT, Settings
from evals.scenario import load_scenario
from graphs.checkpoints import open_checkpointer
from graphs.conversation import continue_thread, turn_thread
from graphs.runner import decide, pending_request, start_run
from graphs.state import ApprovalDecision, Request, UserRef
from graphs.threads import open_registry
from interfaces.queue.store import open_store
from interfaces.scheduler import tick
from tools.stage_health import MetricLimit, judge_metrics
from tools.world import RecordedWorld

REQUESTS = REPO_ROOT / "evals" / "scenarios" / "requests"
INCIDENT = REPO_ROOT / "evals" / "scenarios" / "incidents" / "cpu-saturation-settlement-batch.yaml"
MINJI = UserRef(id="U01DEV1", name="minji", roles=["developer"])
JIWON = UserRef(id="U07OPS1", name="jiwon", roles=["devops-lead"])
HYEJIN = UserRef(id="U09CTO1", name="hyejin", roles=["cto"])


def _ctx(settings: Settings, scenario: Path) -> AgentContext:
    return AgentContext(world=RecordedWorld(load_scenario(scenario).world), settings=settings)


def _run(coro):
    return asyncio.run(coro)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", memory_enabled=False)


def _words(text: str, user: UserRef = MINJI, **kw) -> Request:
    return Request(text=text, user=user, door="cli", at=datetime.fromisoformat("2026-04-14T10:30:00+09:00"), **kw)


def test_a_question_waits_and_the_reply_resumes_the_same_run_through_its_approvals(settings):
    scenario = REQUESTS / "req-ko-thread-answer-goes-on.yaml"

    async def go():
        async with open_checkpointer(settings) as saver:
            ctx = _ctx(settings, scenario)
            asked = await start_run(_words("EKS 노드 수를 8개로 바꿔줘"), ctx, saver, thread_id="cli-t1", world="recorded",
                                    scenario_path=str(scenario))
            assert asked.status == "needs_input" and asked.waiting == "answer" and asked.thread == "cli-t1"
            info = open_registry(settings).get("cli-t1")
            assert info.status == "needs_input" and info.question == asked.question and info.waiting_for.startswith("an answer: ")
            answered = await continue_thread(ctx, saver, "cli-t1", _words("운영"))
            assert answered.turn == 1 and answered.route == ["planner", "planner", "terraform_author"]  # the same run went on
            assert answered.status == "awaiting_approval" and answered.pending_approval is not None
            assert answered.spec_change.changes == {"environments.prod.eks.node_count": 8}
            assert [r.text for r in answered.spec_change.parts] == [] and answered.question is None
            first = await decide(ctx, saver, "cli-t1", ApprovalDecision(request_id="x", user=JIWON, role="devops-lead", approved=True))
            done = await decide(ctx, saver, "cli-t1", ApprovalDecision(request_id="x", user=HYEJIN, role="cto", approved=True))
            return first, done

    first, done = _run(go())
    assert first.status == "awaiting_approval" and done.status == "completed" and "deployer" in done.route


def test_a_follow_up_after_a_diagnosis_explains_and_quotes_its_evidence(settings):
    async def go():
        async with open_checkpointer(settings) as saver:
            ctx = _ctx(settings, INCIDENT)
            scenario = load_scenario(INCIDENT)
            first = await start_run(scenario.to_request().model_copy(update={"door": "cli"}), ctx, saver, thread_id="cli-inc1",
                                    world="recorded", scenario_path=str(INCIDENT))
            why = await continue_thread(ctx, saver, "cli-inc1", _words("왜?"))
            cited = first.diagnosis.citations[0]
            shown = await continue_thread(ctx, saver, "cli-inc1", _words(f"show me {cited}"))
            missing = await continue_thread(ctx, saver, "cli-inc1", _words("show me E99"))
            return first, why, shown, missing

    first, why, shown, missing = _run(go())
    assert first.diagnosis is not None
    assert why.turn == 2 and why.route == ["follow_up"] and why.status == "completed"
    assert first.diagnosis.root_cause in why.spec_change.answer and "근거:" in why.spec_change.answer
    cited = next(e for e in first.evidence if e.id == first.diagnosis.citations[0])
    assert shown.turn == 3 and cited.source in shown.spec_change.answer
    assert "E99: no such evidence in this thread" in missing.spec_change.answer
    info = open_registry(settings).get("cli-inc1")
    # the fix still waits for its approvals in the first turn: the follow-ups were answered beside it
    assert first.status == "awaiting_approval" and info.status == "awaiting_approval"
    assert info.turns == 4 and info.graph_thread is None and info.pending is not None


def test_a_later_turns_approval_is_decided_in_that_turn(settings):
    scenario = REQUESTS / "req-ko-promote-same-to-prod.yaml"

    async def go():
        async with open_checkpointer(settings) as saver:
            ctx = _ctx(settings, scenario)
            first = await start_run(_words("개발 RDS 엔진 버전 8.0.42로 올려줘"), ctx, saver, thread_id="cli-p1", world="recorded",
                                    scenario_path=str(scenario))
            promoted = await continue_thread(ctx, saver, "cli-p1", _words("프로덕션 환경에 동일하게 배포해줘"))
            waiting = await pending_request(ctx, saver, "cli-p1")
            decided = await decide(ctx, saver, "cli-p1", ApprovalDecision(request_id="x", user=JIWON, role="devops-lead", approved=True))
            return first, promoted, waiting, decided

    first, promoted, waiting, decided = _run(go())
    assert first.status == "completed" and first.spec_change.changes == {"environments.dev.rds.engine_version": "8.0.42"}
    assert promoted.turn == 2 and promoted.spec_change.task == "promote" and promoted.spec_change.promoted_from == "dev"
    assert promoted.spec_change.changes == {"environments.prod.rds.engine_version": "8.0.42"}
    assert waiting is not None and waiting.environment == "prod"
    assert decided.turn == 2 and decided.status == "awaiting_approval" and decided.decisions[-1].user.name == "jiwon"
    assert open_registry(settings).get("cli-p1").graph_thread == turn_thread("cli-p1", 2)


def test_continuing_needs_words_and_a_run_that_is_not_busy(settings):
    from graphs.errors import UserInputError
    from graphs.threads import ThreadInfo

    open_registry(settings).save(ThreadInfo(thread_id="cli-busy", door="cli", status="running"))

    async def go(text: str, thread: str):
        async with open_checkpointer(settings) as saver:
            return await continue_thread(_ctx(settings, INCIDENT), saver, thread, _words(text))

    with pytest.raises(UserInputError, match="still running"):
        _run(go("hello", "cli-busy"))
    with pytest.raises(UserInputError, match="say something"):
        _run(go("  ", "cli-busy"))


# ------------------------------------------------------------------ stages


def _points(start: datetime, minutes: int, value: float, breach_at: int | None = None) -> list[tuple[str, float]]:
    out = []
    for m in range(0, minutes + 1, 5):
        v = 0.05 if breach_at is not None and m >= breach_at else value
        out.append(((start + timedelta(minutes=m)).isoformat(), v))
    return out


def test_the_gate_passes_waits_or_fails_on_the_window_since_the_change():
    start = datetime(2026, 4, 14, 1, 30, tzinfo=timezone.utc)
    limit = [MetricLimit(name="err", max=0.01)]
    hour = timedelta(minutes=60)
    passed = judge_metrics({"err": _points(start, 70, 0.002)}, limit, since=start, now=start + timedelta(minutes=70), healthy_for=hour)
    assert passed.status == "passed" and "healthy for 70 minutes" in passed.detail
    waiting = judge_metrics({"err": _points(start, 20, 0.002)}, limit, since=start, now=start + timedelta(minutes=20), healthy_for=hour)
    assert waiting.status == "waiting" and waiting.not_before == start + hour and "20 of 60 minutes" in waiting.detail
    failed = judge_metrics({"err": _points(start, 30, 0.002, breach_at=15)}, limit, since=start, now=start + timedelta(minutes=30),
                           healthy_for=hour)
    assert failed.status == "failed" and "err 0.05 > 0.01" in failed.detail  # a breach fails at once, before the hour is up
    nodata = judge_metrics({}, limit, since=start, now=start + hour, healthy_for=hour)
    assert nodata.status == "failed" and "no data" in nodata.detail
    wait_for_data = judge_metrics({}, limit, since=start, now=start + hour, healthy_for=hour, no_data="wait")
    assert wait_for_data.status == "waiting"


def test_a_gate_that_waits_is_checked_again_by_the_scheduler_when_due(settings, tmp_path):
    """The staged scenario with only 20 minutes recorded after the change: the dev gate waits; the registry says until
    when; a scheduler tick at that time queues a "continue" in the thread (once, on any number of workers)."""
    import yaml

    source = REQUESTS / "req-ko-staged-dev-staging-prod.yaml"
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    for name, series in raw["world"]["metrics"].items():
        raw["world"]["metrics"][name] = series[:5]  # 20 minutes
    short = tmp_path / "staged-short.yaml"
    short.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

    async def go():
        async with open_checkpointer(settings) as saver:
            ctx = _ctx(settings, short)
            return await start_run(_words("dev → staging → prod 순서로 RDS 엔진 버전 8.0.42로 올려줘"), ctx, saver, thread_id="cli-s1",
                                   world="recorded", scenario_path=str(short))

    outcome = _run(go())
    assert outcome.status == "waiting" and outcome.waiting == "gate" and outcome.gate is not None
    assert outcome.gate.environment == "dev" and outcome.gate.next_environment == "staging"
    info = open_registry(settings).get("cli-s1")
    assert info.status == "waiting" and info.resume_at == outcome.gate.not_before and "stage gate" in info.waiting_for
    store = open_store(settings)
    assert tick(store, settings, now=outcome.gate.not_before - timedelta(minutes=1)) == []  # not yet
    assert tick(store, settings, now=outcome.gate.not_before) == ["cli-s1"]
    assert tick(store, settings, now=outcome.gate.not_before + timedelta(minutes=1)) == []  # already queued, once

    async def recheck():
        async with open_checkpointer(settings) as saver:
            return await continue_thread(_ctx(settings, short), saver, "cli-s1", _words("continue", user=UserRef(id="scheduler", name="scheduler")))

    again = _run(recheck())
    assert again.status == "waiting" and again.turn == 1, "the recording has no more than 20 minutes: the gate still waits"


def test_rolling_back_after_a_delivery_proposes_that_deployments_rollback(settings):
    """A thread that delivered a release: "roll it back" proposes the rollback of that deployment to its approvers."""
    from tools.deployment_records import DeploymentRecord
    from tools.deployments_store import open_deployment_store

    scenario = REQUESTS / "req-en-forecast-next-month.yaml"

    async def go():
        async with open_checkpointer(settings) as saver:
            ctx = _ctx(settings, scenario)
            first = await start_run(_words("how much does prod cost?"), ctx, saver, thread_id="cli-r1", world="recorded",
                                    scenario_path=str(scenario))
            open_deployment_store(settings).save(DeploymentRecord(
                id="D-0a1b2c3d4e", service="shop-api", environment="prod", strategy="canary", version="v2", previous_version="v1",
                router={"kind": "nginx"}, snapshot={"summary": "v1 taking all traffic"}, status="promoted", thread_id="cli-r1"))
            back = await continue_thread(ctx, saver, "cli-r1", _words("roll it back, checkout errors since v2"))
            return first, back

    first, back = _run(go())
    assert first.status == "completed"
    assert back.turn == 2 and back.status == "awaiting_approval" and back.spec_change.task == "rollback"
    [proposal] = back.proposals
    assert proposal.kind == "rollback" and proposal.deployment_id == "D-0a1b2c3d4e" and "checkout errors since v2" in proposal.description
    assert back.pending_approval is not None and {"devops-lead", "cto"} <= {r for rule in back.pending_approval.rules for r in rule.roles}


def test_a_change_of_several_environments_asks_each_environments_approvals_in_turn(settings):
    scenario = REQUESTS / "req-ko-thread-answer-goes-on.yaml"  # dev 2, staging 3, prod 6 nodes
    kim = UserRef(id="U02OPS1", name="kim", roles=["devops"])

    async def go():
        async with open_checkpointer(settings) as saver:
            ctx = _ctx(settings, scenario)
            first = await start_run(_words("dev 노드는 3개로 하고 staging 노드는 4개로 해줘"), ctx, saver, thread_id="cli-m1", world="recorded",
                                    scenario_path=str(scenario))
            second = await decide(ctx, saver, "cli-m1", ApprovalDecision(request_id="x", user=kim, role="devops", approved=True))
            return first, second

    first, second = _run(go())
    assert sorted(p.environment for p in first.proposals) == ["dev", "staging"]
    assert first.pending_approval is not None and first.pending_approval.environment == "dev"
    assert second.status == "awaiting_approval" and second.pending_approval is not None
    assert second.pending_approval.environment == "staging" and "deployer" in second.route  # dev went out, staging waits
