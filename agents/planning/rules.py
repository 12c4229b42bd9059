"""Reading a request: normalised text, clauses, and what each clause names, before the spec is consulted.

A request is split into clauses ("노드 3개로 하고 RDS는 db.t3.medium으로"); each
clause is read for environments, components, attributes, verbs, values and
amounts (lexicon.py, text.py), and interpret.py turns the clauses into
operations. What a clause leaves out is inherited from the clause before it
(the environment, the component: "RDS를 db.t3.large로 올리고 스토리지도
100GB로"), which is how people write multi-part requests. The whole request
is also read for what kind of ask it is: a question, a cost question, a
hypothetical ("...하면"), a request to skip approval, something refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agents.planning.interpret import Clause, EnvOp, Op, interpret
from agents.planning.lexicon import Lexicon, PhraseMatcher
from agents.planning.text import (
    MASK, AmountReader, bare_sizes, has_hangul, lift_values, normalize, split_clauses, split_sentences,
)

KO_CONDITIONAL = re.compile(r"(?<=[\uac00-\ud7a3])면(?=$|[\s?.,!])")


@dataclass
class Reading:
    """Everything the words say, before the spec is consulted."""

    text: str
    normalized: str
    language: Literal["ko", "en"]
    clauses: list[Clause]
    ops: list[Op | EnvOp]
    envs: list[str]
    all_envs: bool
    query: bool  # question words: 뭐야, 몇, 얼마, what, how many, show ...
    question_mark: bool  # "늘려줄래?", "can we get 2 more nodes?" are polite orders: a mark alone is weaker
    cost: bool
    conditional: bool
    change_words: bool
    skip_approval: bool
    refusals: list[str]
    components: list[str]
    attributes: list[str]


# ------------------------------------------------------------------ reading


def _clause(text: str, matcher: PhraseMatcher, amounts: AmountReader) -> Clause:
    version_context = bool(re.search(r"(버전|version|업그레이드|upgrade)", text))
    values, masked = lift_values(text, version_context)
    hits = matcher.scan(masked)
    if any(h.has("attribute", "type") for h in hits) or any(h.has("component") for h in hits):
        for size in bare_sizes(masked):
            values.append(size)
            masked = masked[:size.start] + MASK * (size.end - size.start) + masked[size.end:]
        hits = matcher.scan(masked)
    numbers_text = masked
    for h in hits:  # env names and the like must not lend their digits ("3개 환경" is all environments)
        if h.has("all_envs") or h.has("env"):
            numbers_text = numbers_text[:h.start] + MASK * (h.end - h.start) + numbers_text[h.end:]
    clause = Clause(text=text, masked=masked, hits=hits, values=values, amounts=amounts.read(numbers_text))
    clause.envs = clause.keys("env")
    clause.all_envs = bool(clause.tagged("all_envs"))
    return clause


def read_request(text: str, lex: Lexicon, matcher: PhraseMatcher) -> Reading:
    normalized = normalize(text, lex)
    whole_hits = matcher.scan(normalized)
    refusals = [lex.refuse[int(k)].reason for h in whole_hits for k in h.keys("refuse")]
    skip = any(h.has("skip_approval") for h in whole_hits)
    reader = AmountReader(lex)
    clauses: list[Clause] = []
    for number, sentence in enumerate(split_sentences(normalized, lex)):
        in_sentence = [_clause(part, matcher, reader) for part in split_clauses(sentence, lex)]
        for clause in in_sentence:
            clause.sentence = number
        _carry_environments(in_sentence)
        clauses += in_sentence
    if not clauses:
        clauses = [_clause(normalized, matcher, reader)]
    ops = interpret(clauses)
    envs: list[str] = []
    for c in clauses:
        envs += [e for e in c.envs if e not in envs]
    tags = {t for h in whole_hits for t in h.tags}
    change_words = any(c == "verb" for c, _ in tags)
    query = any(c == "query" for c, _ in tags) or bool(re.match(r"^(is|are|does|do|what|how|which|show|list|describe)\b", normalized))
    return Reading(
        text=text, normalized=normalized, language="ko" if has_hangul(text) else "en", clauses=clauses, ops=ops,
        envs=envs, all_envs=any(c.all_envs for c in clauses), query=query,
        question_mark=normalized.rstrip().endswith("?"), cost=any(c == "cost" for c, _ in tags),
        conditional=any(c == "conditional" for c, _ in tags) or bool(KO_CONDITIONAL.search(normalized)),
        change_words=change_words, skip_approval=skip, refusals=list(dict.fromkeys(refusals)),
        components=[k for c in clauses for k in c.components], attributes=[k for c in clauses for k in c.attributes],
    )


def _carry_environments(clauses: list[Clause]) -> None:
    """Environments named in a clause of their own ("dev and staging nodes to 3") join the clause they belong to."""
    pending: list[str] = []
    pending_all = False
    last_content: Clause | None = None
    for clause in clauses:
        only_env = (clause.envs or clause.all_envs) and not clause.has_content
        if only_env:
            pending += [e for e in clause.envs if e not in pending]
            pending_all = pending_all or clause.all_envs
            continue
        if pending or pending_all:
            clause.envs = [*pending, *(e for e in clause.envs if e not in pending)]
            clause.all_envs = clause.all_envs or pending_all
            pending, pending_all = [], False
        last_content = clause
    if (pending or pending_all) and last_content is not None:
        last_content.envs += [e for e in pending if e not in last_content.envs]
        last_content.all_envs = last_content.all_envs or pending_all
    elif pending or pending_all:
        clauses[-1].envs = pending
        clauses[-1].all_envs = pending_all

