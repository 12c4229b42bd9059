"""Follow-ups that change or price something, planned with the thread's context.

After a turn that changed the spec (or suggested changes), the next words
often point at it: "프로덕션 환경에 동일하게 배포해줘" (the same change in
prod), "dev → staging → prod 순서로" (staged), "what would that cost in prod?"
(a hypothetical), "roll it back" (the change reversed), "S2 적용해줘" (a
suggestion made a change). Each becomes a plan of its own here; anything else
is planned as a new request (agents/planning/requests.py).
"""

from __future__ import annotations

import re
from typing import Any

from agents.conversation.followup import classify_follow_up
from agents.planning import answer as answers
from agents.planning.clarify import Language
from agents.planning.promotion import copy_changes, env_sequence, named_envs, promote, source_environment, stage
from agents.planning.resolve import RulesPlan, note
from graphs.state import ChangePart, ConversationContext, SpecChange
from tools.spec import SpecError, apply_changes, value_at

SUGGESTION = re.compile(r"\b[sS]\s?(\d{1,2})\b|(\d{1,2})\s*번|suggestion\s*(\d{1,2})|제안\s*(\d{1,2})")


def _delivered(context: ConversationContext) -> bool:
    return context.approval_status in ("approved", "not_required")


def _delivered_stages(context: ConversationContext) -> set[str]:
    """A staged delivery that stopped: the environments delivered before it stopped (each gate checked one of them)."""
    last = context.spec_change
    if last is None or len(last.stages) < 2 or _delivered(context):
        return set()
    return {gate.environment for gate in context.stage_gates}


def rollback(spec: dict[str, Any], context: ConversationContext, language: Language) -> RulesPlan:
    """The last turn's spec change reversed: the values it replaced, as a change with its own approvals."""
    last = context.spec_change
    if last is None or not last.changes:
        answer = ("이 스레드의 마지막 턴은 스펙을 바꾸지 않았습니다: 되돌릴 변경이 없습니다. 배포를 되돌리려면 "
                  "`cloud-doctor deployments`에서 배포를 찾아 `cloud-doctor rollback <id>`를 쓰세요." if language == "ko" else
                  "The last turn of this thread changed no spec: there is nothing to roll back here. To roll back a release, find it "
                  "with `cloud-doctor deployments` and use `cloud-doctor rollback <id>`.")
        return RulesPlan(SpecChange(intent="query", task="rollback", answer=answer, rationale="nothing to roll back"), [], None)
    staged = _delivered_stages(context)
    if not _delivered(context) and not staged:
        answer = (f"마지막 변경은 적용되지 않았습니다 (승인 상태: {context.approval_status}): 되돌릴 것이 없습니다." if language == "ko"
                  else f"The last change was never applied (approval: {context.approval_status}): nothing to roll back.")
        return RulesPlan(SpecChange(intent="query", task="rollback", answer=answer, rationale="not applied"), [], None)
    applied = {p: v for p, v in last.changes.items() if not staged or p.split(".")[1] in staged}
    missing = [p for p in applied if p not in last.before]
    reverse = {p: last.before[p] for p in applied if p in last.before}
    effective = {p: v for p, v in reverse.items() if value_at(spec, p) != v}
    notes = []
    if missing:
        notes.append(note("no earlier value recorded for " + ", ".join(missing) + ": left as it is", "warning"))
    if not effective:
        answer = ("스펙이 이미 변경 전 값입니다: 되돌릴 것이 없습니다." if language == "ko"
                  else "The spec already has the earlier values: nothing to roll back.")
        return RulesPlan(SpecChange(intent="modify", task="rollback", answer=answer, rationale="already so"), notes, None)
    try:
        apply_changes(spec, effective)
    except SpecError as exc:
        question = (f"변경 전 값으로 그대로 돌릴 수 없습니다: {exc}. 어떤 값으로 할까요?" if language == "ko"
                    else f"The earlier values cannot be restored as they were: {exc}. Which values should it be?")
        return RulesPlan(SpecChange(intent="modify", task="rollback", question=question, rationale="needs input"), notes, "invalid")
    from agents.planning.intents import _environment_field, _rationale

    envs = list((spec.get("environments") or {}).keys())
    notes.append(note(f"rollback of turn {context.turn - 1}: the values it replaced, as a change of its own"))
    return RulesPlan(SpecChange(intent="modify", task="rollback", environment=_environment_field(effective, envs, None),  # type: ignore[arg-type]
                                changes=effective, rationale="roll back: " + _rationale(effective, spec),
                                parts=[ChangePart(words=f"roll back turn {context.turn - 1}: {context.text}", changes=effective)]),
                     notes, None)


def apply_suggestions(spec: dict[str, Any], context: ConversationContext, text: str, language: Language) -> RulesPlan:
    """Suggestions of the last answer, named by id ("S2", "2번") or all of them, as one change."""
    suggestions = context.spec_change.suggestions if context.spec_change else []
    if not suggestions:
        answer = ("이 스레드에는 적용할 제안이 없습니다 (먼저 '비용 최적화 제안해줘'라고 물어보세요)." if language == "ko"
                  else "This thread has no suggestions to apply (ask for an optimisation first).")
        return RulesPlan(SpecChange(intent="query", task="change", answer=answer, rationale="no suggestions"), [], None)
    wanted = {int(next(g for g in m.groups() if g)) for m in SUGGESTION.finditer(text)}
    everything = "all" in classify_words(text)
    chosen = [s for s in suggestions if everything or int(s.id[1:]) in wanted]
    if not chosen:
        listed = ", ".join(s.id for s in suggestions)
        question = f"어느 제안을 적용할까요? ({listed}, 또는 '전부')" if language == "ko" else f"Which suggestion: {listed}, or 'all'?"
        return RulesPlan(SpecChange(intent="modify", task="change", question=question, rationale="needs input: which suggestion"),
                         [], "value")
    merged: dict[str, Any] = {}
    for s in chosen:
        merged.update(s.changes)
    effective = {p: v for p, v in merged.items() if value_at(spec, p) != v}
    try:
        apply_changes(spec, effective)
    except SpecError as exc:
        question = (f"제안들을 함께 적용할 수 없습니다: {exc}. 하나씩 골라 주세요." if language == "ko"
                    else f"These suggestions do not fit together: {exc}. Pick one at a time.")
        return RulesPlan(SpecChange(intent="modify", task="change", question=question, rationale="needs input"), [], "invalid")
    from agents.planning.intents import _environment_field, _rationale

    envs = list((spec.get("environments") or {}).keys())
    saving = sum(s.monthly_saving for s in chosen)
    return RulesPlan(SpecChange(intent="modify", task="change", environment=_environment_field(effective, envs, None),  # type: ignore[arg-type]
                                changes=effective, rationale=_rationale(effective, spec),
                                parts=[ChangePart(words=f"{s.id}: {s.title}", changes=s.changes) for s in chosen]),
                     [note(f"applying {', '.join(s.id for s in chosen)}: about ${saving:,.2f}/month less")], None)


def classify_words(text: str) -> list[str]:
    from agents.conversation.words import word_book

    return word_book("conversation").keys(text, "follow_up")


def cost_elsewhere(spec: dict[str, Any], context: ConversationContext, targets: list[str], language: Language) -> RulesPlan | None:
    """"What would that cost in prod?": the last change copied to the target, priced, changing nothing."""
    last = context.spec_change
    if last is None or not last.changes:
        return None
    source = source_environment(last.changes)
    if source is None:
        return None
    copied: dict[str, Any] = {}
    stepped = False
    for target in targets:
        values, reversed_paths = copy_changes(spec, last, source, target)
        if reversed_paths:  # the value would move the target the other way: price the same step instead
            values, stepped = copy_changes(spec, last, source, target, "step")[0], True
        copied.update(values)
    text, missing = answers.change_cost_answer(spec, copied, targets, language)
    if stepped:
        text += (" (값을 그대로 옮기면 반대로 바뀌어, 같은 만큼 바꾼 경우로 계산했습니다)" if language == "ko"
                 else " (copying the value would move it the other way, so this prices the same step)")
    notes = [note(missing, "limitation")] if missing else []
    return RulesPlan(SpecChange(intent="query", task="change", environment=targets[0] if len(targets) == 1 else None,  # type: ignore[arg-type]
                                answer=text, rationale=f"the change of turn {context.turn - 1}, priced in {', '.join(targets)}"),
                     notes, None)


def plan_follow_up(spec: dict[str, Any], context: ConversationContext, text: str, reading: Any, kinds: set[str],
                   language: Language, replies: list[str], config_dir: Any) -> RulesPlan | None:
    """A plan for a follow-up that points at the thread's last change, or None to plan the words as a new request."""
    kind = classify_follow_up(text, config_dir)
    targets = named_envs(" ".join([text, *replies]), config_dir)
    if kind == "rollback":
        return rollback(spec, context, language)
    if kind == "apply":
        return apply_suggestions(spec, context, text, language)
    last = context.spec_change
    has_change = last is not None and bool(last.changes)
    sequence = env_sequence(text, config_dir, "sequence" in kinds)
    own_content = bool(reading.ops) and any(getattr(op, "target", None) for op in reading.ops)
    if sequence and has_change and not own_content:
        assert last is not None
        return stage(spec, last, sequence, language, f"the change of turn {context.turn - 1}")
    if reading.cost and (reading.query or reading.question_mark or reading.conditional) and targets and has_change and not own_content:
        return cost_elsewhere(spec, context, targets, language)
    if (kind == "same" or "same" in kinds or ("deploy" in kinds and targets)) and not own_content:
        return promote(spec, last, targets, language, replies, text)
    return None


__all__ = ["apply_suggestions", "cost_elsewhere", "plan_follow_up", "rollback"]
