"""What kind of request the words are, and the plan for it: the planner's dispatcher.

In order:
1. a reply that cancels ("취소", "never mind") ends the plan;
2. a follow-up that points at the thread's last change (promote, stage, price
   elsewhere, roll back, apply a suggestion: followups.py);
3. drift ("is prod what the spec says?": drift.py);
4. next month's cost and optimisation (costs.py) — unless the words are a
   concrete change with a cost reason ("to cut costs, remove a node");
5. a recurring backup or check (schedules.py);
6. staged delivery over environments in order (promotion.py);
7. the same change in another environment, named in the words (promotion.py);
8. a change with a condition on its cost or a metric (conditions.py);
9. everything else: one change, possibly of several parts, with the replies so
   far folded into the parts that asked (parts.py).
"""

from __future__ import annotations

from typing import Any

from agents.conversation.words import word_book
from agents.planning import read_words
from agents.planning.clarify import Language
from agents.planning.conditions import find_condition, judge, not_done
from agents.planning.costs import plan_costs
from agents.planning.drift import plan_drift
from agents.planning.interpret import EnvOp
from agents.planning.followups import plan_follow_up
from agents.planning.parts import plan_with_answers
from agents.planning.promotion import env_sequence, named_envs, promote, stage
from agents.planning.resolve import RulesPlan, note
from agents.planning.schedules import find_recurrence, plan_schedule
from agents.planning.text import has_hangul
from graphs.state import ConversationContext, Proposal, Reply, Request, SpecChange


def _cancelled(replies: list[str], config_dir: Any) -> bool:
    return bool(replies) and "cancel" in word_book("conversation", config_dir).keys(replies[-1], "answers")


def _busy(plan: RulesPlan, context: ConversationContext | None, language: Language, starts: bool = False) -> RulesPlan:
    """A follow-up beside a waiting approval or gate may read, never start another change (nor ask a question whose
    answer would have to go to the waiting run). `starts`: the plan proposes something of its own (a rollback)."""
    if context is None or not context.waiting or not (starts or plan.change.changes or plan.change.question):
        return plan
    answer = ("이 스레드는 아직 승인(또는 단계 게이트)을 기다리고 있어 새 변경을 시작하지 않았습니다. 먼저 승인하거나 거절한 뒤 "
              "다시 요청하거나, 새 스레드에서 요청해 주세요." if language == "ko" else
              "This thread still waits for an approval (or a stage gate), so no other change was started. Decide that first, "
              "then ask again, or ask in a new thread.")
    held = plan.change.model_copy(update={"changes": {}, "question": None, "questions": [], "choices": [], "answer": answer,
                                          "rationale": "held: the thread waits"})
    return RulesPlan(held, plan.notes + [note("a change asked beside a waiting approval was not started", "warning")], None, plan.reading)


async def plan_request(ctx: Any, text: str, spec: dict[str, Any], request: Request, context: ConversationContext | None,
                       replies: list[Reply]) -> tuple[RulesPlan, list[Proposal]]:
    """The rules' plan of a request (and the proposals it makes itself: reverting drift)."""
    config_dir = ctx.settings.config_dir
    language: Language = "ko" if has_hangul(text) else "en"
    answered = [r.text for r in replies]
    explicit = bool(request.environment_explicit)
    if _cancelled(answered, config_dir):
        answer = "취소했습니다. 아무것도 바꾸지 않았습니다." if language == "ko" else "Cancelled: nothing was changed."
        return RulesPlan(SpecChange(intent="query", answer=answer, rationale="cancelled by the reply"), [], None), []
    kinds = set(word_book("requests", config_dir).keys(text, "kinds"))
    reading = read_words(text, spec, config_dir)
    if context is not None:
        delivered = _deployment_rollback(ctx, context, text, language)
        if delivered is not None:
            plan, proposals = delivered
            if proposals and context.waiting:
                return _busy(plan, context, language, starts=True), []
            return plan, proposals
        plan = plan_follow_up(spec, context, text, reading, kinds, language, answered, config_dir)
        if plan is not None:
            return _busy(plan, context, language), []
    envs = named_envs(" ".join([text, *answered]), config_dir)
    chosen = envs[0] if len(envs) == 1 else (request.environment if explicit and not envs else None)
    if "drift" in kinds:
        return await plan_drift(ctx, spec, chosen, language, answered)
    if kinds & {"forecast", "optimize"} and not any(isinstance(op, EnvOp) or op.target for op in reading.ops):
        # "to cut costs, remove a node" names what to change: a change with a reason, planned below
        every = list(spec.get("environments") or {})
        targets = envs or ([request.environment] if explicit else every)
        return await plan_costs(ctx, spec, targets, request.effective_time(), True, "optimize" in kinds, language), []
    recurrence = find_recurrence(text)
    if recurrence is not None and kinds & {"backup", "check"}:
        return _busy(plan_schedule(text, recurrence, spec, request.environment, explicit, "backup" in kinds, language,
                                   config_dir, answered), context, language), []
    sequence = env_sequence(text, config_dir, "sequence" in kinds)
    if sequence:
        return _busy(_staged(text, sequence, spec, request, answered, config_dir, language), context, language), []
    if "same" in kinds and not reading.ops:
        return promote(spec, None, envs, language, answered, text), []
    found = find_condition(text)
    if found is not None:
        return _busy(await _conditional(ctx, found, spec, request, answered, language), context, language), []
    return _busy(plan_with_answers(text, spec, request.environment, explicit, config_dir, answered), context, language), []


def _deployment_rollback(ctx: Any, context: ConversationContext, text: str, language: Language
                         ) -> tuple[RulesPlan, list[Proposal]] | None:
    """"Roll it back" after a turn that delivered a release or a code patch: that deployment's rollback, proposed to the
    policy's approvers (agents/delivery/desk.py); None when the thread delivered none (a spec change is reversed instead)."""
    from agents.conversation.followup import classify_follow_up

    if classify_follow_up(text, ctx.settings.config_dir) != "rollback" or (context.spec_change and context.spec_change.changes):
        return None
    from agents.delivery.desk import _check_rollback, rollback_proposal
    from graphs.errors import UserInputError
    from tools.deployments_store import open_deployment_store

    mine = [r for r in open_deployment_store(ctx.settings).all()
            if r.thread_id and (r.thread_id == context.thread_id or r.thread_id.startswith(context.thread_id + "~"))]
    if not mine:
        return None
    record = max(mine, key=lambda r: r.started_at)
    try:
        _check_rollback(record)
    except UserInputError as exc:
        return RulesPlan(SpecChange(intent="query", task="rollback", environment=record.environment, answer=str(exc),  # type: ignore[arg-type]
                                    rationale="rollback refused"), [], None), []
    proposal = rollback_proposal(record, text.strip())
    return RulesPlan(SpecChange(intent="modify", task="rollback", environment=record.environment,  # type: ignore[arg-type]
                                rationale=f"roll back deployment {record.id} ({record.service} {record.version} → {record.previous_version})"),
                     [note(f"the thread delivered {record.id}: its rollback is proposed to the policy's approvers")], None), [proposal]


def _staged(text: str, sequence: list[str], spec: dict[str, Any], request: Request, replies: list[str], config_dir: Any,
            language: Language) -> RulesPlan:
    """"dev → staging → prod 순서로 노드 타입 t3.large로": the change planned for the first environment, then copied."""
    import re

    from agents.planning.lexicon import load_lexicon

    lex = load_lexicon(config_dir)
    words = text
    for env in sequence:  # the change itself, for the first environment only
        for name in sorted([env, *lex.environments.get(env, [])], key=len, reverse=True):
            words = re.sub(rf"(?i)(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", " ", words)
    words = re.sub(r"(→|->|=>|⇒|>|,)", " ", words)
    base = plan_with_answers(f"{sequence[0]} {words}", spec, sequence[0], True, config_dir, replies)
    if base.change.question or not base.change.changes:
        if not base.change.changes and base.change.question is None:
            question = (f"{' → '.join(sequence)} 순서로 무엇을 바꿀까요? (예: '노드 타입 t3.large로')" if language == "ko"
                        else f"What should change, {' → '.join(sequence)}? (e.g. 'node type to t3.large')")
            return RulesPlan(SpecChange(intent="modify", task="staged", stages=sequence, question=question,
                                        rationale="needs input: what to stage"), base.notes, "nothing")
        return RulesPlan(base.change.model_copy(update={"task": "staged", "stages": sequence}), base.notes, base.ambiguity)
    staged = stage(spec, base.change, sequence, language, text)
    return RulesPlan(staged.change, base.notes + staged.notes, staged.ambiguity)


async def _conditional(ctx: Any, found: Any, spec: dict[str, Any], request: Request, replies: list[str], language: Language) -> RulesPlan:
    inner = plan_with_answers(found.rest, spec, request.environment, bool(request.environment_explicit), ctx.settings.config_dir, replies)
    change = inner.change.model_copy(update={"condition": found.condition})
    if change.question or not change.changes:
        return RulesPlan(change, inner.notes, inner.ambiguity)
    judged = await judge(found.condition, change, spec, ctx.world, request.effective_time(), ctx.settings.config_dir, language)
    notes = inner.notes + [note(f"condition “{judged.words}”: " + {True: "met", False: "not met", None: "not checked"}[judged.met]
                                + f" — {judged.detail}", "info" if judged.met else "warning")]
    if judged.met:
        return RulesPlan(change.model_copy(update={"condition": judged}), notes, None)
    return RulesPlan(not_done(change, judged, language), notes, None)


__all__ = ["plan_request"]
