"""Text before meaning: normalisation, number words, values, amounts, clauses.

Everything here is about the surface of the words, not the spec: number
words become digits ("하나 더" -> "1 더", "double" -> "x2"), values that
look like themselves (t3.large, db.r6g.large, 10.30.0.0/16, "1.32") are
lifted out and masked so their digits are not read as counts, and each
remaining number is classified as absolute ("3개로", "to 5") or relative
("+2", "하나 더", "by 2", "두 배", "절반", "한 단계").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from agents.planning.lexicon import Lexicon, phrase_pattern

MASK = "\u2591"  # fills masked spans so positions keep their meaning

SIZE_WORDS = r"(?:nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal(?:-[0-9]+xl)?)"
INSTANCE_TYPE = re.compile(rf"(?<![a-z0-9.])((?:db\.|cache\.)?[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.{SIZE_WORDS})(?![a-z0-9])")
BARE_SIZE = re.compile(r"(?<![a-z0-9.])(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge)(?![a-z0-9])")
CIDR = re.compile(r"(?<![0-9.])((?:[0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2})(?![0-9])")
DOTTED = re.compile(r"(?<![0-9.a-z])v?([0-9]+\.[0-9]+(?:\.[0-9]+)?)(?![0-9.])")
HANGUL = re.compile(r"[\uac00-\ud7a3]")

AmountKind = Literal["set", "add", "sub", "delta", "mul", "div", "pct", "step"]


def has_hangul(text: str) -> bool:
    return bool(HANGUL.search(text or ""))


def normalize(text: str, lex: Lexicon) -> str:
    """Lowercase NFKC text with number words as digits and multipliers as x2 / /2."""
    out = unicodedata.normalize("NFKC", text or "").lower()
    out = out.replace("×", " x").replace("＋", "+").replace("−", "-").replace("–", "-")
    for head, particles in lex.phrasal_verbs.items():
        alternatives = "|".join(r"\s+".join(map(re.escape, p.split())) for p in sorted(particles, key=len, reverse=True))
        out = re.sub(rf"\b({re.escape(head)})\s+(?!(?:{alternatives})\b)((?:[\w.-]+\s+){{1,5}}?)({alternatives})\b", r"\1 \3 \2", out)
    nums = lex.numbers
    for word in nums.half:  # in the lexicon's order: 절반 before 반으로
        guard = r"(?<![\uac00-\ud7a3])" if word.startswith("반") else ""
        out = re.sub(guard + phrase_pattern(word), " /2 ", out)
    for word in sorted(nums.double, key=len, reverse=True):
        if not has_hangul(word):
            out = re.sub(phrase_pattern(word), " x2 ", out)
    for word in sorted(nums.triple, key=len, reverse=True):
        if not has_hangul(word):
            out = re.sub(phrase_pattern(word), " x3 ", out)
    nouns = "|".join(re.escape(n) for n in nums.en_article_nouns)
    for word in sorted(nums.en_one_more, key=len, reverse=True):
        out = re.sub(phrase_pattern(word) + rf"(?=\s+(?:[a-z-]+\s+)?(?:{nouns})\b)", " 1 more ", out)
    out = re.sub(rf"(?<![a-z0-9])(?:a|an)\s+(?=(?:{nouns})\b)", " 1 ", out)
    for word, value in sorted(nums.en.items(), key=lambda kv: -len(kv[0])):
        out = re.sub(phrase_pattern(word), f" {value} ", out)
    for word, value in sorted(nums.ko_days.items(), key=lambda kv: -len(kv[0])):
        unit = "일" if has_hangul(word) else "days"
        out = re.sub(phrase_pattern(word), f" {value}{unit} " if unit == "일" else f" {value} {unit} ", out)
    counters = "|".join(re.escape(c) for c in sorted(nums.counters, key=len, reverse=True))
    for word, value in sorted(nums.ko_counter.items(), key=lambda kv: -len(kv[0])):
        # "세대" (generation) is not "세 대" (three units): 세 counts only with a space before 대
        not_generation = r"(?!대)" if word == "세" else ""
        out = re.sub(rf"(?<![\uac00-\ud7a30-9]){re.escape(word)}(?:{not_generation}|\s+)(?=(?:{counters}))", f"{value} ", out)
    particles = r"(?!\s*다(?:\s|$))(?=$|[\s.,!?]|으로|로|만|를|을|씩|더|가|이|는|은|도|까지|에)"  # not "둘 다" (both)
    for word, value in sorted(nums.ko_alone.items(), key=lambda kv: -len(kv[0])):
        out = re.sub(rf"(?<![\uac00-\ud7a3]){re.escape(word)}{particles}", f"{value} ", out)
    return re.sub(r"[ \t]+", " ", out).strip()


# ------------------------------------------------------------------ values


@dataclass
class Value:
    kind: Literal["instance_type", "size", "cidr", "version"]
    text: str
    start: int
    end: int


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + MASK * (end - start) + text[end:]


def lift_values(text: str, version_context: bool) -> tuple[list[Value], str]:
    """Instance types, CIDRs and versions found in `text`, and the text with them masked."""
    values: list[Value] = []
    for m in INSTANCE_TYPE.finditer(text):
        values.append(Value("instance_type", m.group(1), m.start(1), m.end(1)))
        text = _mask(text, m.start(1), m.end(1))
    for m in CIDR.finditer(text):
        values.append(Value("cidr", m.group(1), m.start(1), m.end(1)))
        text = _mask(text, m.start(1), m.end(1))
    for m in DOTTED.finditer(text):
        raw = m.group(1)
        following = text[m.end():m.end() + 6]
        if re.match(r"\s*(배|x\b|times|%|gb|기가|tb)", following):
            continue  # "1.5배", "1.5 GB" are amounts
        looks_like_version = raw.count(".") == 2 or re.fullmatch(r"1\.[0-9]{2}", raw) is not None
        if version_context or looks_like_version:
            values.append(Value("version", raw, m.start(1), m.end(1)))
            text = _mask(text, m.start(), m.end())
    return sorted(values, key=lambda v: v.start), text


def bare_sizes(text: str) -> list[Value]:
    return [Value("size", m.group(1), m.start(1), m.end(1)) for m in BARE_SIZE.finditer(text)]


# ----------------------------------------------------------------- amounts


@dataclass
class Amount:
    """A number and how it relates to the current value."""

    kind: AmountKind
    number: float
    unit: str | None  # storage | storage_tb | days | weeks | count | connections | None
    start: int
    end: int
    text: str


def _alternatives(words: list[str], glued: bool = False) -> str:
    """Phrases as one alternation; `glued` drops the left word boundary (units follow digits: "100gb")."""
    out = []
    for w in sorted(words, key=len, reverse=True):
        pattern = phrase_pattern(w)
        if glued:
            pattern = pattern.removeprefix(r"(?<![a-z0-9])")
        out.append(pattern)
    return "|".join(out)


class AmountReader:
    """Classifies each number in a clause; built once per lexicon."""

    def __init__(self, lex: Lexicon):
        self.lex = lex
        units = lex.units
        unit_groups = {
            "storage_tb": units.storage_tb, "storage": units.storage, "weeks": units.weeks, "days": units.days,
            "connections": units.connections, "count": units.count,
        }
        self._unit_res = [(name, re.compile(r"\s*(?:" + _alternatives(words, glued=True) + r")(?:\s*(?:씩|만))?")) for name, words in unit_groups.items()]
        self._more = re.compile(r"\s*(?:" + _alternatives(lex.more_words) + r")")
        # "another 100 GB", "an extra 2 nodes", "add 3": the number is an increment
        before_more = ["add", "adding", "plus", "추가로", *lex.numbers.en_one_more, *(w for w in lex.more_words if not has_hangul(w))]
        self._more_before = re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(w) for w in sorted(before_more, key=len, reverse=True)) + r")\s*$")
        self._fewer = re.compile(r"\s*(?:" + _alternatives(lex.fewer_words) + r")")
        self._step = re.compile(r"\s*(?:" + _alternatives(lex.step_words) + r")")
        self._number = re.compile(r"(?<![0-9a-z.\u2591])([+\-/x*]?)\s*([0-9]+(?:\.[0-9]+)?)(?![0-9\u2591])")

    def _unit(self, text: str, pos: int) -> tuple[str | None, int]:
        for name, rx in self._unit_res:
            m = rx.match(text, pos)
            if m:
                return name, m.end()
        each = re.match(r"\s*(씩|만)", text[pos:])  # "하나씩 더" (per environment), "하나만 더"
        return None, pos + (each.end() if each else 0)

    def read(self, text: str) -> list[Amount]:
        amounts: list[Amount] = []
        for m in self._number.finditer(text):
            sign, raw = m.group(1), m.group(2)
            number = float(raw)
            before = text[max(0, m.start() - 14):m.start()]
            if sign == "-" and before and before[-1:].isalnum():
                sign = ""  # "t3-" or a range, not a minus
            unit, pos = self._unit(text, m.end())
            after = text[pos:pos + 14]
            kind: AmountKind = "set"
            if re.match(r"\s*(에서|부터|→|->|=>)", text[pos:]) or re.search(r"\bfrom\s*$", before):
                continue  # "4대에서 6대로", "from 4 to 6": the old value, not the new one
            if sign == "+":
                kind = "add"
            elif sign == "-":
                kind = "sub"
            elif sign in ("x", "*") or re.match(r"\s*(배|times\b|x\b|fold\b)", text[m.end():]):
                kind = "mul"
                if re.match(r"\s*(배|times|x|fold)", text[m.end():]):
                    pos = m.end() + re.match(r"\s*(배|times|x|fold)", text[m.end():]).end()  # type: ignore[union-attr]
                unit = None
            elif sign == "/":
                kind = "div"
            elif re.match(r"\s*(%|퍼센트|percent)", text[m.end():]):
                kind = "pct"
            elif self._step.match(text, m.end()):
                kind = "step"
                pos = self._step.match(text, m.end()).end()  # type: ignore[union-attr]
                direction = re.match(r"\s*(위|상위|높|큰|크게|업|up\b|higher|larger|bigger|아래|하위|낮|작은|작게|다운|down\b|lower|smaller)", text[pos:])
                if direction:
                    up = direction.group(1) in ("위", "상위", "높", "큰", "크게", "업", "up", "higher", "larger", "bigger")
                    amounts.append(Amount("step", number if up else -number, "direction", m.start(), pos + direction.end(), text[m.start():pos + direction.end()]))
                    continue
            elif self._more.match(text, pos) or self._more_before.search(before):
                kind = "add"
            elif self._fewer.match(text, pos) or re.search(r"(remove|removing|minus|drop|take away|subtract)\s*$", before):
                kind = "sub"
            elif re.search(r"\bby\s*$", before):
                kind = "delta"
            elif re.match(r"\s*(으로|로|까지)", after) or re.search(r"(\bto|=|:|→|->)\s*$", before):
                kind = "set"
            else:
                kind = "set"  # bare: verbs decide later whether "2개 추가" is relative
            amounts.append(Amount(kind, number, unit, m.start(), pos, text[m.start():pos]))
        return amounts


def particle_after(text: str, end: int) -> str:
    """The particle right after a span ("로", "으로", "까지"), or "" when none."""
    m = re.match(r"\s*(으로|로|까지)", text[end:])
    return m.group(1) if m else ""


# ------------------------------------------------------------------ clauses


def split_sentences(text: str, lex: Lexicon) -> list[str]:
    """Sentences, at the lexicon's sentence ends ("db.t3.large" has no space after its dots)."""
    if not lex.sentence_breaks:
        return [text]
    pattern = "|".join(re.escape(b) for b in sorted(lex.sentence_breaks, key=len, reverse=True))
    return [s for s in re.split(pattern, text) if s.strip(" ,.;!?")]


def split_clauses(text: str, lex: Lexicon) -> list[str]:
    """Multi-part requests become clauses: "노드 3개로 하고 RDS는 db.t3.medium으로" -> two."""
    breaks = sorted({b for b in lex.clause_breaks if b.strip()} | {b for b in lex.clause_breaks if b.startswith(" ")}, key=len, reverse=True)
    parts = [text]
    for b in breaks:
        pattern = re.escape(b) if b != b.strip() else phrase_pattern(b)
        next_parts = []
        for part in parts:
            next_parts += [p for p in re.split(pattern, part)]
        parts = next_parts
    endings = "|".join(re.escape(e) for e in sorted(lex.clause_endings, key=len, reverse=True))
    out: list[str] = []
    for part in parts:
        pieces = re.split(rf"({endings})\s+", part)
        current = pieces[0]
        for ending, rest in zip(pieces[1::2], pieces[2::2]):
            out.append(current + ending)
            current = rest
        out.append(current)
    return [p.strip(" ,.;!?") for p in out if p and p.strip(" ,.;!?")]
