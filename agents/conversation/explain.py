"""Answers from a thread's own context: "why?" and "show me E3".

Nothing is read from the world again: the answer quotes what the last turn
found (its diagnosis and cited evidence, its plan's rationale and the agents'
notes, the policy's reasons), so it is the same evidence the report showed.
"""

from __future__ import annotations

import re

from graphs.state import ConversationContext, Evidence
from tools.redact import redact

EVIDENCE_ID = re.compile(r"\b[eE]\s?(\d{1,3})\b")
EXCERPT_LINES = 25
NOT_REASONS = ("intent ", "planned again with", "spec change:", "follow-up in turn")  # bookkeeping, not reasons


def _t(language: str, ko: str, en: str) -> str:
    return ko if language == "ko" else en


def evidence_ids(text: str) -> list[str]:
    return [f"E{int(m.group(1))}" for m in EVIDENCE_ID.finditer(text)]


def _evidence_line(e: Evidence) -> str:
    return f"[{e.id}] {e.source}: {e.summary}"


def explain(context: ConversationContext, language: str) -> str:
    """Why the last turn concluded what it did, from its own evidence, rationale and notes."""
    parts: list[str] = []
    diagnosis = context.diagnosis
    if diagnosis is not None:
        by_id = {e.id: e for e in context.evidence}
        cited = [by_id[i] for i in diagnosis.citations if i in by_id]
        parts.append(_t(language, f"원인 판단: {diagnosis.root_cause} (확신도 {diagnosis.confidence:.0%}). {diagnosis.summary}",
                        f"Root cause: {diagnosis.root_cause} ({diagnosis.confidence:.0%} confidence). {diagnosis.summary}"))
        if cited:
            parts.append(_t(language, "근거: ", "Evidence: ") + "; ".join(_evidence_line(e) for e in cited))
        if diagnosis.runners_up:
            parts.append(_t(language, "다른 후보: ", "Other candidates: ")
                         + ", ".join(f"{c.category} ({c.confidence:.0%})" for c in diagnosis.runners_up))
        if diagnosis.next_checks:
            parts.append(_t(language, "다음 확인: ", "Next checks: ") + "; ".join(diagnosis.next_checks))
    change = context.spec_change
    if change is not None and diagnosis is None:
        if change.parts and len(change.parts) > 1:
            parts.append(_t(language, "요청을 나눈 방법: ", "How the request was split: ")
                         + "; ".join(f"“{p.words}” → " + (", ".join(f"{k} = {v}" for k, v in p.changes.items()) or (p.question or "-"))
                                     for p in change.parts))
        if change.rationale:
            parts.append(_t(language, "변경 내용: ", "What changes: ") + change.rationale)
        if change.condition is not None and change.condition.detail:
            parts.append(_t(language, "조건: ", "Condition: ") + change.condition.detail)
        if change.answer and not change.changes:
            parts.append(_t(language, "답: ", "Answer: ") + change.answer)
    reasons = list(dict.fromkeys(n.text.splitlines()[0] for n in context.notes
                                 if n.agent in ("planner", "terraform_author", "policy", "deployer") and n.text
                                 and not n.text.startswith(NOT_REASONS)))
    if reasons:
        parts.append(_t(language, "에이전트 메모: ", "What the agents noted: ") + " | ".join(reasons[:8]))
    blocked = [b for a in context.approvals for b in a.blocked]
    if blocked:
        parts.append(_t(language, "정책이 막은 이유: ", "Why the policy blocked it: ") + "; ".join(blocked))
    if not parts:
        return _t(language, "이 스레드에는 아직 설명할 판단이 없습니다.", "There is nothing to explain yet in this thread.")
    return redact(" ".join(parts))


def show_evidence(context: ConversationContext, ids: list[str], language: str) -> str:
    """The evidence items asked for, quoted with their excerpts; unknown ids are said to be unknown."""
    by_id = {e.id: e for e in context.evidence}
    out: list[str] = []
    for eid in ids or [e.id for e in context.evidence[:3]]:
        e = by_id.get(eid)
        if e is None:
            known = ", ".join(by_id) or _t(language, "없음", "none")
            out.append(_t(language, f"{eid}: 이 스레드에 없는 증거입니다 (있는 것: {known}).",
                          f"{eid}: no such evidence in this thread (it has: {known})."))
            continue
        where = f" ({e.command})" if e.command else ""
        excerpt = "\n".join(e.excerpt.splitlines()[:EXCERPT_LINES])
        out.append(f"{_evidence_line(e)}{where}" + (f"\n```\n{excerpt}\n```" if excerpt else ""))
    return redact("\n".join(out))


__all__ = ["evidence_ids", "explain", "show_evidence"]
