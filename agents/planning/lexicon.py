"""The planner's lexicon (config/planner.yaml) and the phrase matcher that reads text with it.

Words live in YAML so an operator can teach the planner a team's own words
("검증계", "ops box") without touching code. The matcher finds phrases the
way Korean and English need: Latin words on word boundaries, Korean inside
words (particles attach: 노드를, 운영은), any spacing where the phrase has a
space, longest phrase first, and every category a span belongs to kept
(내려 is both "decrease" and "destroy"; the parser decides by context).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphs.errors import ConfigError

LEXICON_FILE = "planner.yaml"


class RefuseRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: list[str]
    reason: str


class NumberWords(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ko_counter: dict[str, int]
    ko_alone: dict[str, int]
    counters: list[str]
    en: dict[str, int]
    en_one_more: list[str]
    en_article_nouns: list[str]
    double: list[str]
    triple: list[str]
    half: list[str]
    ko_days: dict[str, int] = Field(default_factory=dict)


class Units(BaseModel):
    model_config = ConfigDict(extra="forbid")
    storage: list[str]
    storage_tb: list[str]
    days: list[str]
    weeks: list[str]
    count: list[str]
    connections: list[str]


class Lexicon(BaseModel):
    model_config = ConfigDict(extra="forbid")
    environments: dict[str, list[str]]
    all_environments: list[str]
    whole: list[str]
    components: dict[str, list[str]]
    ec2_names: dict[str, list[str]] = Field(default_factory=dict)
    attributes: dict[str, list[str]]
    verbs: dict[str, list[str]]
    query: list[str]
    cost: list[str]
    conditional: list[str]
    skip_approval: list[str]
    ignore: list[str] = Field(default_factory=list)
    phrasal_verbs: dict[str, list[str]] = Field(default_factory=dict)
    refuse: list[RefuseRule] = Field(default_factory=list)
    numbers: NumberWords
    more_words: list[str]
    fewer_words: list[str]
    step_words: list[str]
    units: Units
    sentence_breaks: list[str] = []
    clause_breaks: list[str]
    clause_endings: list[str]


@lru_cache(maxsize=8)
def _load(path: str) -> Lexicon:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return Lexicon.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"planner lexicon not found: {path}") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid planner lexicon: {str(exc).splitlines()[0]}") from None


def load_lexicon(config_dir: str | Path | None = None) -> Lexicon:
    if config_dir is None:
        from config.settings import get_settings

        config_dir = get_settings().config_dir
    return _load(str(Path(config_dir) / LEXICON_FILE))


# ----------------------------------------------------------------- matching


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def phrase_pattern(phrase: str) -> str:
    """Regex for one lexicon phrase: spaces match any spacing, Latin ends need word boundaries."""
    phrase = phrase.strip().lower()
    body = r"\s*".join(re.escape(part) for part in phrase.split())
    left = r"(?<![a-z0-9])" if phrase and _is_latin(phrase[0]) else ""
    right = r"(?![a-z0-9])" if phrase and _is_latin(phrase[-1]) else ""
    return left + body + right


@dataclass
class Hit:
    """A span of text and every (category, key) whose phrase matched exactly that span."""

    start: int
    end: int
    text: str
    tags: set[tuple[str, str]] = field(default_factory=set)

    def has(self, category: str, key: str | None = None) -> bool:
        return any(c == category and (key is None or k == key) for c, k in self.tags)

    def keys(self, category: str) -> list[str]:
        return sorted(k for c, k in self.tags if c == category)


class PhraseMatcher:
    """Finds the lexicon's phrases in text; overlapping matches resolve to the longest."""

    def __init__(self, entries: list[tuple[str, str, str]]):
        # entries: (phrase, category, key)
        self._compiled: list[tuple[re.Pattern[str], str, str]] = []
        seen: set[tuple[str, str, str]] = set()
        for phrase, category, key in entries:
            phrase = phrase.strip().lower()
            if not phrase or (phrase, category, key) in seen:
                continue
            seen.add((phrase, category, key))
            self._compiled.append((re.compile(phrase_pattern(phrase)), category, key))

    def scan(self, text: str) -> list[Hit]:
        spans: dict[tuple[int, int], Hit] = {}
        for pattern, category, key in self._compiled:
            for m in pattern.finditer(text):
                if m.end() == m.start():
                    continue
                hit = spans.setdefault((m.start(), m.end()), Hit(m.start(), m.end(), m.group(0)))
                hit.tags.add((category, key))
        chosen: list[Hit] = []
        taken = [False] * (len(text) + 1)
        for hit in sorted(spans.values(), key=lambda h: (-(h.end - h.start), h.start)):
            if any(taken[i] for i in range(hit.start, hit.end)):
                continue
            for i in range(hit.start, hit.end):
                taken[i] = True
            chosen.append(hit)
        return sorted(chosen, key=lambda h: h.start)


def build_matcher(lex: Lexicon, ec2_names: dict[str, list[str]] | None = None) -> PhraseMatcher:
    """One matcher over every category the clause reader needs."""
    entries: list[tuple[str, str, str]] = []
    for env, words in lex.environments.items():
        entries += [(w, "env", env) for w in [env, *words]]
    entries += [(w, "all_envs", "all") for w in lex.all_environments]
    entries += [(w, "whole", "whole") for w in lex.whole]
    for comp, words in lex.components.items():
        entries += [(w, "component", comp) for w in words]
    names = {k: list(v) for k, v in lex.ec2_names.items()}
    for name, words in (ec2_names or {}).items():
        names.setdefault(name, []).extend(words)
    for name, words in names.items():
        entries += [(w, "ec2_name", name) for w in [name, name.replace("-", " "), *words]]
    for attr, words in lex.attributes.items():
        entries += [(w, "attribute", attr) for w in words]
    for verb, words in lex.verbs.items():
        entries += [(w, "verb", verb) for w in words]
    entries += [(w, "query", "query") for w in lex.query]
    entries += [(w, "cost", "cost") for w in lex.cost]
    entries += [(w, "conditional", "conditional") for w in lex.conditional]
    entries += [(w, "skip_approval", "skip") for w in lex.skip_approval]
    entries += [(w, "ignore", "ignore") for w in lex.ignore]
    for index, rule in enumerate(lex.refuse):
        entries += [(w, "refuse", str(index)) for w in rule.words]
    return PhraseMatcher(entries)


@lru_cache(maxsize=32)
def _cached_matcher(config_dir: str, names_key: tuple[tuple[str, tuple[str, ...]], ...]) -> PhraseMatcher:
    return build_matcher(load_lexicon(config_dir), {k: list(v) for k, v in names_key})


def matcher_for(config_dir: str | Path, ec2_names: dict[str, list[str]] | None = None) -> PhraseMatcher:
    key = tuple(sorted((k, tuple(v)) for k, v in (ec2_names or {}).items()))
    return _cached_matcher(str(config_dir), key)
