"""Compound requests and the answers to their questions.

"EKS 노드 늘리고 RDS 성능 향상시켜줘" is two parts. Planned as one, the first
unclear part used to ask and the second was lost. Here each clause with an
order in it is a part: parts that are clear become spec changes (traced to
their words), parts that are not each get their question, and the questions
are asked together in one message. A reply is split among the parts that
asked ("(1) 4개로 (2) db.t3.large", "4개, db.t3.large", or one answer for all,
"prod") and read *inside* each part's own clause, so the answer fills exactly
what the part left open (an amount, a value, an environment) with the part's
own verbs and component. When every part is clear, the plan is one change of
all of them: one diff, one cost, one approval per environment.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from agents.planning import ec2_aliases
from agents.planning.clarify import Language
from agents.planning.interpret import EnvOp, Op, interpret
from agents.planning.intents import plan_from_reading
from agents.planning.lexicon import load_lexicon, matcher_for
from agents.planning.resolve import RulesPlan, note
from agents.planning.rules import Reading, _carry_environments, _clause, read_request
from agents.planning.text import AmountReader, normalize
from graphs.state import ChangePart, SpecChange
from tools.spec import SpecError, apply_changes

NUMBERED = re.compile(r"(?:^|[\s,;])[(\[]?([1-9])\s*[)\].:]\s*")
SEPARATORS = re.compile(r"\s*(?:[;\n]|,\s|,(?=\S)|\s그리고\s|\s and then\s)\s*")


def split_answer(text: str, asking: int) -> list[tuple[int | None, str]]:
    """A reply as (part number or None, words) segments: numbered ("(1) … (2) …") or separated ("4개, db.t3.large")."""
    text = text.strip()
    marks = list(NUMBERED.finditer(text))
    if len(marks) >= 1 and marks[0].start() <= 1:
        out: list[tuple[int | None, str]] = []
        for index, mark in enumerate(marks):
            end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
            words = text[mark.end():end].strip(" ,;")
            if words:
                out.append((int(mark.group(1)), words))
        if out:
            return out
    if asking > 1:
        pieces = [p for p in SEPARATORS.split(text) if p.strip()]
        if len(pieces) > 1:
            return [(None, p.strip()) for p in pieces]
    return [(None, text)]


def assign_answer(text: str, asking: list[int]) -> dict[int, str]:
    """Which part (clause index) gets which words of a reply."""
    segments = split_answer(text, len(asking))
    out: dict[int, str] = {}
    if any(label is not None for label, _ in segments):
        for label, words in segments:
            if label is not None and 1 <= label <= len(asking):
                out[asking[label - 1]] = (out.get(asking[label - 1], "") + " " + words).strip()
        return out
    if len(segments) == 1:
        return {index: segments[0][1] for index in asking}
    for position, index in enumerate(asking):
        if position < len(segments):
            out[index] = segments[position][1]
    if len(segments) > len(asking) and asking:
        out[asking[-1]] += " " + " ".join(words for _, words in segments[len(asking):])
    return out


class PartPlanner:
    """Plans one request with the answers folded into the parts that asked for them."""

    def __init__(self, text: str, spec: dict[str, Any], request_env: str, env_explicit: bool, config_dir: str | Path):
        self.spec, self.request_env, self.env_explicit = spec, request_env, env_explicit
        self.lex = load_lexicon(config_dir)
        self.matcher = matcher_for(config_dir, ec2_aliases(spec))
        self.amounts = AmountReader(self.lex)
        self.reading = read_request(text, self.lex, self.matcher)
        self.answers: dict[int, list[str]] = {}

    # ------------------------------------------------------------ reading

    def _reread(self) -> Reading:
        """The request read again, each clause with the answers given to it appended inside the clause."""
        fresh = []
        for index, clause in enumerate(self.reading.clauses):
            extra = " ".join(normalize(a, self.lex) for a in self.answers.get(index, []))
            again = _clause(f"{clause.text} {extra}".strip(), self.matcher, self.amounts)
            again.sentence = clause.sentence
            fresh.append(again)
        for sentence in sorted({c.sentence for c in fresh}):
            _carry_environments([c for c in fresh if c.sentence == sentence])
        ops = interpret(fresh)
        envs: list[str] = []
        for c in fresh:
            envs += [e for e in c.envs if e not in envs]
        return replace(self.reading, clauses=fresh, ops=ops, envs=envs, all_envs=any(c.all_envs for c in fresh),
                       components=[k for c in fresh for k in c.components], attributes=[k for c in fresh for k in c.attributes])

    # ----------------------------------------------------------- planning

    def plan(self) -> tuple[RulesPlan, list[int]]:
        """The plan now, and which clauses (parts) still ask."""
        reading = self._reread() if self.answers else self.reading
        whole = plan_from_reading(reading, self.spec, self.request_env, self.env_explicit)
        content = [i for i, c in enumerate(reading.clauses) if any(op.clause == c.text for op in reading.ops)]
        if whole.change.question is None or len(content) <= 1 or any(isinstance(op, EnvOp) for op in reading.ops):
            asking = [] if whole.change.question is None else self._single_asker(reading, content)
            return self._with_answers(whole, reading, content), asking
        parts: list[tuple[int, RulesPlan]] = []
        for index in content:
            text = reading.clauses[index].text
            own = [op for op in reading.ops if isinstance(op, Op) and op.clause == text]
            parts.append((index, plan_from_reading(replace(reading, ops=own), self.spec, self.request_env, self.env_explicit)))
        return self._combined(parts, reading), [i for i, p in parts if p.change.question]

    def _single_asker(self, reading: Reading, content: list[int]) -> list[int]:
        unclear = next((op for op in reading.ops if isinstance(op, Op) and op.unclear), None)
        if unclear is not None:
            for index, clause in enumerate(reading.clauses):
                if clause.text == unclear.clause:
                    return [index]
        return content[:1] or [0]

    def _words(self, index: int) -> str:
        return self.reading.clauses[index].text

    def _answer(self, index: int) -> str | None:
        return " / ".join(self.answers[index]) if index in self.answers else None

    def _with_answers(self, whole: RulesPlan, reading: Reading, content: list[int]) -> RulesPlan:
        """A plan planned as one: its parts (when several clauses made it) say which answer completed which."""
        if not self.answers:
            return whole
        change = whole.change
        parts = [p.model_copy(update={"answer": next((self._answer(i) for i in content if reading.clauses[i].text == p.words), None),
                                      "words": next((self._words(i) for i in content if reading.clauses[i].text == p.words), p.words)})
                 for p in change.parts]
        return replace(whole, change=change.model_copy(update={"parts": parts}))

    def _combined(self, parts: list[tuple[int, RulesPlan]], reading: Reading) -> RulesPlan:
        language: Language = reading.language
        notes = [n for _, p in parts for n in p.notes]
        records = [ChangePart(words=self._words(i), changes=dict(p.change.changes), question=p.change.question,
                              ambiguity=p.ambiguity, answer=self._answer(i)) for i, p in parts]
        asking = [(number, r) for number, r in enumerate(records, 1) if r.question]
        if asking:
            question = ask_parts(records, language)
            envs = {p.change.environment for _, p in parts if p.change.environment}
            return RulesPlan(SpecChange(intent="modify", environment=envs.pop() if len(envs) == 1 else None,  # type: ignore[arg-type]
                                        question=question, questions=[r.question or "" for _, r in asking], parts=records,
                                        rationale=f"needs input: {len(asking)} of {len(records)} parts"),
                             notes, "parts", reading)
        merged: dict[str, Any] = {}
        for record in records:
            merged.update(record.changes)
        if not merged:
            answer = " ".join(p.change.answer or "" for _, p in parts).strip() or None
            return RulesPlan(SpecChange(intent="modify", answer=answer, parts=records, rationale="already so"), notes, None, reading)
        try:
            apply_changes(self.spec, merged)
        except SpecError as exc:
            text = (f"요청의 부분들이 함께는 맞지 않습니다: {exc}. 어느 쪽으로 할까요?" if language == "ko"
                    else f"The parts of this request do not fit together: {exc}. Which should it be?")
            return RulesPlan(SpecChange(intent="modify", question=text, questions=[text], parts=records, rationale="needs input: conflict"),
                             notes, "invalid", reading)
        from agents.planning.intents import _environment_field, _rationale  # one rationale format for every plan

        envs = list((self.spec.get("environments") or {}).keys())
        notes.append(note(f"compound request: {len(records)} parts planned as one change"))
        return RulesPlan(SpecChange(intent="modify", environment=_environment_field(merged, envs, None), changes=merged,
                                    rationale=_rationale(merged, self.spec), parts=records), notes, None, reading)

    # ------------------------------------------------------------ answers

    def fold(self, reply: str, asking: list[int]) -> None:
        for index, words in assign_answer(reply, asking).items():
            self.answers.setdefault(index, []).append(words)


def ask_parts(parts: list[ChangePart], language: Language) -> str:
    """One message with each ambiguous part's question (and what is already clear)."""
    asked = [(n, p) for n, p in enumerate(parts, 1) if p.question]
    clear = [(n, p) for n, p in enumerate(parts, 1) if not p.question and p.changes]
    if language == "ko":
        text = f"요청을 {len(parts)}부분으로 나눠 처리합니다. " + " ".join(f"({n}) “{p.words}”: {p.question}" for n, p in asked)
        if clear:
            text += " 정해진 부분: " + "; ".join(f"({n}) " + ", ".join(f"{k} = {v}" for k, v in p.changes.items()) for n, p in clear) + "."
        example = " ".join(f"({n}) …" for n, _ in asked)
        return text + (f" 한 번에 답해 주세요 (예: '{example}')." if len(asked) > 1 else "")
    text = f"This request has {len(parts)} parts. " + " ".join(f"({n}) “{p.words}”: {p.question}" for n, p in asked)
    if clear:
        text += " Already clear: " + "; ".join(f"({n}) " + ", ".join(f"{k} = {v}" for k, v in p.changes.items()) for n, p in clear) + "."
    example = " ".join(f"({n}) …" for n, _ in asked)
    return text + (f" Answer them together (e.g. '{example}')." if len(asked) > 1 else "")


def plan_with_answers(text: str, spec: dict[str, Any], request_env: str, env_explicit: bool, config_dir: str | Path,
                      replies: list[str]) -> RulesPlan:
    """The rules' plan of a request and every reply so far, folded in order into the parts that asked."""
    planner = PartPlanner(text, spec, request_env, env_explicit, config_dir)
    plan, asking = planner.plan()
    for reply in replies:
        if plan.change.question is None:
            plan.notes.append(note(f"a reply came after the plan was complete and was not used: {reply[:80]!r}", "warning"))
            continue
        planner.fold(reply, asking or [0])
        plan, asking = planner.plan()
    return plan


__all__ = ["PartPlanner", "ask_parts", "assign_answer", "plan_with_answers", "split_answer"]
