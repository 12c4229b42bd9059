"""The planner's requests beyond one change, in Korean and English: compound requests and their answers, conditions,
recurring requests, promotion and stages, follow-up kinds.

Pure functions over the bundled spec (config/spec.yaml: dev 3 t3.medium nodes (1-4), staging 2 t3.large (2-6),
prod 4 m5.large (3-10); RDS db.t3.micro / db.t3.medium / db.r6g.large), and the planner's dispatcher over a
recorded world for the parts that read metrics.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
import yaml

from agents.context import AgentContext
from agents.conversation.followup import classify_follow_up
from agents.planning.conditions import find_condition, judge, not_done
from agents.planning.parts import assign_answer, plan_with_answers, split_answer
from agents.planning.promotion import copy_changes, env_sequence, fit_node_bounds, promote
from agents.planning.requests import plan_request
from agents.planning.schedules import aws_backup_cron, backup_window, find_recurrence, local_cron, plan_schedule, retention_days
from config.settings import CONFIG_DIR, Settings
from graphs.state import ConversationContext, Reply, Request, SpecChange, UserRef
from tools.world import RecordedWorld, WorldRecord

SPEC = yaml.safe_load((CONFIG_DIR / "spec.yaml").read_text(encoding="utf-8"))
D, S, P = "environments.dev.", "environments.staging.", "environments.prod."


def answers(text: str, *replies: str, env: str = "dev", explicit: bool = False):
    return plan_with_answers(text, SPEC, env, explicit, CONFIG_DIR, list(replies)).change


# ------------------------------------------------------------- compound


def test_a_compound_request_asks_one_question_per_ambiguous_part_together():
    change = answers("EKS 노드 늘리고 RDS 성능 향상시켜줘")
    assert change.changes == {} and len(change.questions) == 2 and len(change.parts) == 2
    assert [p.words for p in change.parts] == ["eks 노드 늘리고", "rds 성능 향상시켜줘"]
    assert "(1)" in change.question and "(2)" in change.question and "EKS 노드 수" in change.question and "RDS 인스턴스 클래스" in change.question
    english = answers("add nodes and improve database performance in production")
    assert len(english.questions) == 2 and "This request has 2 parts" in english.question


def test_answers_fold_into_the_parts_that_asked_and_make_one_change():
    change = answers("EKS 노드 늘리고 RDS 성능 향상시켜줘", "(1) 하나 더 (2) 한 단계 위로", "staging")
    assert change.question is None
    assert change.changes == {S + "eks.node_count": 3, S + "rds.instance_class": "db.t3.large"}
    assert [(p.words, p.changes, p.answer) for p in change.parts] == [
        ("eks 노드 늘리고", {S + "eks.node_count": 3}, "하나 더 / staging"),
        ("rds 성능 향상시켜줘", {S + "rds.instance_class": "db.t3.large"}, "한 단계 위로 / staging"),
    ]
    # unnumbered answers in order, and one answer for every part that asks
    same = answers("EKS 노드 늘리고 RDS 성능 향상시켜줘", "2개 더, db.t3.small", "dev")
    assert same.changes == {D + "eks.node_count": 5, D + "eks.node_max": 5, D + "rds.instance_class": "db.t3.small"}


def test_a_part_that_is_clear_stays_planned_while_the_other_asks():
    change = answers("운영 노드 6개로 늘리고 RDS도 좀 바꿔줘")
    assert change.question and len(change.questions) == 1
    clear = next(p for p in change.parts if p.changes)
    assert clear.changes == {P + "eks.node_count": 6} and "정해진 부분" in change.question


def test_clear_compound_requests_trace_each_change_to_its_words():
    change = answers("in staging, scale the nodes to 4 and set the database storage to 100 GB")
    assert change.changes == {S + "eks.node_count": 4, S + "rds.storage_gb": 100}
    assert {tuple(p.changes) for p in change.parts} == {(S + "eks.node_count",), (S + "rds.storage_gb",)}


def test_answers_are_split_by_number_separator_or_given_to_all():
    assert split_answer("(1) 4개로 (2) db.t3.large", 2) == [(1, "4개로"), (2, "db.t3.large")]
    assert split_answer("1) one more 2) db.t3.large", 2) == [(1, "one more"), (2, "db.t3.large")]
    assert split_answer("4개, db.t3.large", 2) == [(None, "4개"), (None, "db.t3.large")]
    assert split_answer("db.t3.large", 2) == [(None, "db.t3.large")]
    assert assign_answer("prod", [0, 2]) == {0: "prod", 2: "prod"}
    assert assign_answer("(2) db.t3.large", [0, 2]) == {2: "db.t3.large"}


def test_a_single_question_is_answered_inside_its_own_words():
    assert answers("노드 늘려줘", "2개 더", "prod").changes == {P + "eks.node_count": 6}
    assert answers("EKS 노드 수를 5개로 바꿔줘", "staging").changes == {S + "eks.node_count": 5}
    assert answers("add one more node please", "prod").changes == {P + "eks.node_count": 5}


# ----------------------------------------------------------- conditions


@pytest.mark.parametrize("text, subject, operator, threshold, rest", [
    ("비용이 $100 이하면 인스턴스 추가해줘", "cost", "<=", 100, "인스턴스 추가해줘"),
    ("월 $300 이하로 늘어나면 운영 노드 하나 추가해줘", "cost", "<=", 300, "운영 노드 하나 추가해줘"),
    ("add two nodes to prod if it costs under $100 a month", "cost", "<", 100, "add two nodes to prod"),
    ("if the cost is below 50 dollars, enable redis in dev", "cost", "<", 50, "enable redis in dev"),
    ("only if CPU is above 70% add a node to prod", "metric", ">", 70, "add a node to prod"),
    ("운영 CPU 사용률이 70%를 넘으면 노드 하나 추가해줘", "metric", ">", 70, "운영   노드 하나 추가해줘"),
    ("메모리가 80% 이상이면 스테이징 노드 추가", "metric", ">=", 80, "스테이징 노드 추가"),
])
def test_conditions_are_found_and_taken_out_of_the_words(text, subject, operator, threshold, rest):
    found = find_condition(text)
    assert found is not None
    assert (found.condition.subject, found.condition.operator, found.condition.threshold) == (subject, operator, threshold)
    assert found.rest == rest


@pytest.mark.parametrize("text", ["커넥션 300 이상으로 늘려줘", "staging 노드 3개로 해줘", "운영 비용 얼마야?", "노드 70% 늘려줘"])
def test_words_that_only_look_like_conditions_are_not(text):
    assert find_condition(text) is None


def _ctx(metrics: dict | None = None) -> AgentContext:
    return AgentContext(world=RecordedWorld(WorldRecord(infra={"spec": SPEC}, metrics=metrics or {})), settings=Settings())


def test_a_cost_condition_is_judged_against_the_estimate_and_withholds_the_change_when_it_fails():
    found = find_condition("add two nodes to prod if it costs under $100 a month")
    assert found is not None
    change = answers(found.rest)
    judged = asyncio.run(judge(found.condition, change, SPEC, _ctx().world, datetime.now(timezone.utc), CONFIG_DIR, "en"))
    assert judged.met is False and judged.observed is not None and judged.observed > 100 and f"${judged.observed:,.2f}" in judged.detail
    withheld = not_done(change, judged, "en")
    assert withheld.changes == {} and withheld.answer.startswith("Not done: the condition does not hold")
    assert withheld.parts[0].changes == change.changes  # the would-be change is kept, for the record


def test_a_metric_condition_reads_the_component_metric_over_the_last_minutes():
    now = datetime(2026, 4, 14, 1, 30, tzinfo=timezone.utc)
    points = [[f"2026-04-14T01:{m:02d}:00Z", v] for m, v in ((16, 90.0), (20, 80.0), (25, 70.0), (29, 84.0))]
    old = [["2026-04-14T00:00:00Z", 10.0]]  # outside the 15-minute window: not counted
    ctx = _ctx({"shop-prod-eks.node_cpu": old + points})
    found = find_condition("only if CPU is above 70% add a node to prod")
    assert found is not None
    change = answers(found.rest)
    judged = asyncio.run(judge(found.condition, change, SPEC, ctx.world, now, CONFIG_DIR, "en"))
    assert judged.met is True and judged.observed == 81.0 and "4 points" in judged.detail
    empty = asyncio.run(judge(found.condition, change, SPEC, _ctx().world, now, CONFIG_DIR, "ko"))
    assert empty.met is None and "no points of shop-prod-eks.node_cpu" in empty.detail
    assert not_done(change, empty, "ko").answer.startswith("조건을 확인할 수 없어")


# ------------------------------------------------------------ schedules


@pytest.mark.parametrize("text, kind, cron, aws, window", [
    ("매주 월요일마다 백업 생성해줘", "weekly", "0 3 * * MON", "cron(0 18 ? * SUN *)", "18:00-18:30"),
    ("운영 DB를 매주 일요일 새벽 3시에 백업해줘", "weekly", "0 3 * * SUN", "cron(0 18 ? * SAT *)", "18:00-18:30"),
    ("매일 아침 9시에 prod 비용 확인해줘", "daily", "0 9 * * *", "cron(0 0 * * ? *)", "00:00-00:30"),
    ("back up the staging database every Sunday at 2am", "weekly", "0 2 * * SUN", "cron(0 17 ? * SAT *)", "17:00-17:30"),
    ("every day at 9:30 check prod cost", "daily", "30 9 * * *", "cron(30 0 * * ? *)", "00:30-01:00"),
    ("매달 1일 오전 4시에 백업", "monthly", "0 4 1 * *", "cron(0 19 L * ? *)", "19:00-19:30"),
    ("every 6 hours check staging redis", "hourly", "0 */6 * * *", "cron(0 0/6 * * ? *)", "18:00-18:30"),
])
def test_recurrences_become_cron_in_seoul_and_aws_backup_cron_in_utc(text, kind, cron, aws, window):
    rec = find_recurrence(text)
    assert rec is not None and rec.kind == kind
    assert local_cron(rec, "03:00") == cron
    assert aws_backup_cron(rec, "Asia/Seoul", "03:00") == aws
    assert backup_window(rec, "Asia/Seoul", "03:00") == window


@pytest.mark.parametrize("text", ["월 비용 얼마야?", "prod 노드 3개로", "일요일에 노드 늘려줘 했던 거 취소"])
def test_words_that_do_not_recur_are_not_schedules(text):
    assert find_recurrence(text) is None


def test_retention_words():
    assert retention_days("14일 보관해줘") == 14 and retention_days("keep the backups for 2 weeks") == 14
    assert retention_days("4주 동안 보관") == 28 and retention_days("백업해줘") is None


def test_a_weekly_backup_is_an_aws_backup_plan_and_a_daily_one_the_rds_window():
    weekly = plan_schedule("운영 DB를 매주 일요일 새벽 3시에 백업해줘", find_recurrence("매주 일요일 새벽 3시"), SPEC, "dev", False, True,
                           "ko", CONFIG_DIR, []).change
    assert weekly.changes == {P + "backup": {"enabled": True, "schedule": "cron(0 18 ? * SAT *)", "retention_days": 35}}
    assert weekly.schedule is not None and weekly.schedule.kind == "backup" and weekly.schedule.cron == "0 3 * * SUN"
    daily = plan_schedule("back up the dev database every day at 2am", find_recurrence("every day at 2am"), SPEC, "dev", False, True,
                          "en", CONFIG_DIR, []).change
    assert daily.changes == {D + "rds.backup_window": "17:00-17:30", D + "rds.backup_retention_days": 7}  # dev kept none
    asked = plan_schedule("매주 월요일마다 백업 생성해줘", find_recurrence("매주 월요일마다"), SPEC, "dev", False, True, "ko", CONFIG_DIR, [])
    assert asked.change.question and "어느 환경" in asked.change.question
    answered = plan_schedule("매주 월요일마다 백업 생성해줘", find_recurrence("매주 월요일마다"), SPEC, "dev", False, True, "ko",
                             CONFIG_DIR, ["스테이징"])
    assert answered.change.changes == {S + "backup": {"enabled": True, "schedule": "cron(0 18 ? * SUN *)", "retention_days": 35}}


def test_a_recurring_check_keeps_the_words_of_the_check():
    plan = plan_schedule("매일 아침 9시에 prod 비용 확인해줘", find_recurrence("매일 아침 9시에"), SPEC, "dev", False, False, "ko",
                         CONFIG_DIR, []).change
    assert plan.intent == "query" and plan.schedule is not None
    assert (plan.schedule.kind, plan.schedule.cron, plan.schedule.text, plan.schedule.environment) == ("check", "0 9 * * *", "prod 비용 확인해줘", "prod")
    english = plan_schedule("every Monday at 10am check whether redis is enabled in staging", find_recurrence("every monday at 10am"),
                            SPEC, "dev", False, False, "en", CONFIG_DIR, []).change
    assert english.schedule is not None and english.schedule.text == "check whether redis is enabled in staging"


# ------------------------------------------------------ promotion, stages


def _last(changes: dict, before: dict) -> SpecChange:
    return SpecChange(intent="modify", changes=changes, before=before)


def test_copying_a_change_notices_when_it_would_reverse_it_and_can_repeat_the_step():
    last = _last({D + "eks.node_max": 6}, {D + "eks.node_max": 4})
    copied, reversed_paths = copy_changes(SPEC, last, "dev", "prod")
    assert copied == {P + "eks.node_max": 6} and reversed_paths == [P + "eks.node_max"]  # prod has 10
    stepped, _ = copy_changes(SPEC, last, "dev", "prod", "step")
    assert stepped == {P + "eks.node_max": 12}
    sizes = _last({D + "rds.instance_class": "db.t3.small"}, {D + "rds.instance_class": "db.t3.micro"})
    assert copy_changes(SPEC, sizes, "dev", "prod", "step")[0] == {P + "rds.instance_class": "db.r6g.xlarge"}  # one size, its own family
    plan = promote(SPEC, last, ["prod"], "en", [], "apply the same to prod")
    assert plan.change.question and plan.change.choices == ["same value", "same step"]
    assert promote(SPEC, last, ["prod"], "en", ["same step"], "apply the same to prod").change.changes == {P + "eks.node_max": 12}


def test_a_copied_node_count_moves_the_target_bounds():
    changes = {S + "eks.node_count": 8}
    assert fit_node_bounds(SPEC, changes) == [S + "eks.node_max 6 → 8"] and changes[S + "eks.node_max"] == 8


def test_promotion_without_a_change_to_copy_asks_for_it():
    plan = promote(SPEC, None, ["prod"], "ko", [], "프로덕션 환경에 동일하게 배포해줘")
    assert plan.change.question and "어떤 변경" in plan.change.question and plan.change.changes == {}


@pytest.mark.parametrize("text, envs", [
    ("dev → staging → prod 순서로 배포", ["dev", "staging", "prod"]),
    ("upgrade it in dev, then staging, then prod", ["dev", "staging", "prod"]),
    ("스테이징 -> 운영 순서로 적용", ["staging", "prod"]),
    ("dev와 staging 노드를 3개로", []),
])
def test_environment_sequences(text, envs):
    assert env_sequence(text, CONFIG_DIR, "순서" in text) == envs


@pytest.mark.parametrize("text, kind", [
    ("왜?", "explain"), ("why?", "explain"), ("근거가 뭐야?", "explain"), ("show me E3", "evidence"), ("E2 보여줘", "evidence"),
    ("프로덕션 환경에 동일하게 배포해줘", "same"), ("do the same in prod", "same"), ("roll it back", "rollback"),
    ("방금 변경 되돌려줘", "rollback"), ("apply S2", "apply"), ("1번 적용해줘", "apply"), ("전부 적용해줘", "apply"),
    ("add two more nodes to prod", "request"), ("why don't you add two nodes to staging and bump the db", "request"),
])
def test_follow_ups_are_told_apart(text, kind):
    assert classify_follow_up(text, CONFIG_DIR) == kind


# ------------------------------------------------------------ dispatcher


def _plan(text: str, *, context: ConversationContext | None = None, replies: tuple[str, ...] = (), env: str = "dev",
          metrics: dict | None = None):
    request = Request(text=text, environment=env, door="replay", at=datetime(2026, 4, 14, 1, 30, tzinfo=timezone.utc))
    said = [Reply(text=r, user=UserRef()) for r in replies]
    return asyncio.run(plan_request(_ctx(metrics), text, SPEC, request, context, said))


def test_the_dispatcher_sends_each_kind_of_request_to_its_planner():
    assert _plan("다음 달 비용 예상하고 최적화 제안해줘")[0].change.task == "forecast"
    assert _plan("what will prod cost next month?")[0].change.forecast is not None
    assert _plan("매일 아침 9시에 prod 비용 확인해줘")[0].change.schedule is not None
    staged = _plan("dev → staging → prod 순서로 RDS 엔진 버전 8.0.42로 올려줘")[0].change
    assert staged.stages == ["dev", "staging", "prod"] and len(staged.changes) == 3
    # a cost reason in a concrete change is not an optimisation request
    change = _plan("remove one node from prod to cut costs")[0].change
    assert change.task is None and change.changes == {P + "eks.node_count": 3}
    drift = _plan("is prod what the spec says?")[0].change
    assert drift.task == "drift" and drift.answer and "no refresh-only plan" in drift.answer
    cancelled = _plan("노드 늘려줘", replies=("취소",))[0].change
    assert cancelled.answer and "취소" in cancelled.answer and cancelled.changes == {}


def test_follow_ups_use_the_thread_context_and_wait_beside_an_approval():
    last = SpecChange(intent="modify", environment="dev", changes={D + "rds.engine_version": "8.0.42"},
                      before={D + "rds.engine_version": "8.0.41"})
    context = ConversationContext(thread_id="t", turn=2, spec_change=last, environment="dev", approval_status="not_required")
    promoted = _plan("프로덕션 환경에 동일하게 배포해줘", context=context)[0].change
    assert promoted.task == "promote" and promoted.changes == {P + "rds.engine_version": "8.0.42"}
    priced = _plan("what would that cost in staging?", context=context)[0].change
    assert priced.intent == "query" and "staging" in (priced.answer or "")
    rolled = _plan("roll it back", context=context)[0].change  # the spec already holds 8.0.41
    assert rolled.task == "rollback" and rolled.changes == {}
    applied = context.model_copy(update={"spec_change": last.model_copy(update={"changes": {D + "rds.engine_version": "8.0.41"},
                                                                                 "before": {D + "rds.engine_version": "8.0.40"}})})
    assert _plan("되돌려줘", context=applied)[0].change.changes == {D + "rds.engine_version": "8.0.40"}
    pending = context.model_copy(update={"approval_status": "pending"})
    assert "never applied" in (_plan("roll it back", context=pending)[0].change.answer or "")
    busy = context.model_copy(update={"waiting": "approval"})
    held = _plan("프로덕션 환경에 동일하게 배포해줘", context=busy)[0].change
    assert held.changes == {} and "승인" in (held.answer or "")


def test_rolling_back_a_stopped_staged_delivery_reverses_only_the_delivered_stages():
    from graphs.state import StageGate

    staged = SpecChange(intent="modify", stages=["dev", "staging", "prod"],
                        changes={D + "rds.engine_version": "8.0.42", S + "rds.engine_version": "8.0.42", P + "rds.engine_version": "8.0.42"},
                        before={D + "rds.engine_version": "8.0.41", S + "rds.engine_version": "8.0.41", P + "rds.engine_version": "8.0.41"})
    gates = [StageGate(environment="dev", next_environment="staging", status="passed"),
             StageGate(environment="staging", next_environment="prod", status="failed", detail="unhealthy")]
    context = ConversationContext(thread_id="t", turn=2, spec_change=staged, approval_status="blocked", stage_gates=gates)
    applied = {**SPEC, "environments": {**SPEC["environments"],
                                        "dev": {**SPEC["environments"]["dev"], "rds": {**SPEC["environments"]["dev"]["rds"], "engine_version": "8.0.42"}},
                                        "staging": {**SPEC["environments"]["staging"], "rds": {**SPEC["environments"]["staging"]["rds"], "engine_version": "8.0.42"}}}}
    from agents.planning.followups import rollback

    plan = rollback(applied, context, "en").change
    assert plan.changes == {D + "rds.engine_version": "8.0.41", S + "rds.engine_version": "8.0.41"}  # prod was never started
