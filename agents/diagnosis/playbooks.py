"""Playbooks (config/playbooks/*.yaml): which read-only commands to run for which kind of alert.

A playbook matches alert names (globs), words in the alert, the person's text
and label values (English and Korean), and lists steps: a command template
with {unit}/{service}/{db}/... placeholders filled from the alert's labels (or,
in a follow-up round, from values learned from the first evidence: learn.py), a
timeout and the parser that reads the output. A step whose placeholder has no
safe value is skipped, never guessed. Every rendered command still goes
through the guard when it runs.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphs.errors import ConfigError
from graphs.state import Request

SAFE_VALUE = re.compile(r"^[A-Za-z0-9@._:/-]{1,200}$")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str
    timeout: float = 15.0
    parser: str | None = None  # None: chosen from the command (parsers.parser_for_command)
    scope: Literal["host", "cluster"] = "host"  # cluster steps (kubectl, database clients) run once, not per host
    when: dict[str, list[str]] = Field(default_factory=dict)  # e.g. {engine: [mysql]}: run only when the value matches


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid")
    always: bool = False
    alerts: list[str] = Field(default_factory=list)  # alert names or globs, case-insensitive
    keywords: list[str] = Field(default_factory=list)  # words in English and Korean
    labels: dict[str, list[str]] = Field(default_factory=dict)  # label -> values (globs)


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    match: Match = Field(default_factory=Match)
    steps: list[Step] = Field(default_factory=list)
    logs: list[str] = Field(default_factory=list)  # log source names to read besides the world's own (templates allowed)
    metrics: list[str] = Field(default_factory=list)  # metric names to read (templates allowed)
    fallback: bool = False  # used when no other playbook matches


@lru_cache(maxsize=8)
def _load(directory: str) -> tuple[Playbook, ...]:
    out = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            out.append(Playbook.model_validate(raw))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    return tuple(out)


def load_playbooks(directory: str | Path) -> list[Playbook]:
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"playbook folder not found: {directory} (set CLOUD_DOCTOR_CONFIG_DIR or restore config/playbooks)")
    return list(_load(str(directory.resolve())))


def request_words(request: Request) -> str:
    """Alert name (CamelCase split), summary, annotations, label values and the person's text, lower case."""
    parts: list[str] = []
    if request.alert is not None:
        name = request.alert.name
        parts += [name, re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name), request.alert.summary]
        parts += list(request.alert.annotations.values()) + list(request.alert.labels.values())
    if request.text:
        parts.append(request.text)
    return " ".join(parts).lower()


def score_playbook(playbook: Playbook, request: Request) -> float:
    words = request_words(request)
    score = 0.0
    if request.alert is not None:
        name = request.alert.name.lower()
        for pattern in playbook.match.alerts:
            pattern = pattern.lower()
            if name == pattern:
                score += 3.0
                break
            if fnmatch.fnmatch(name, pattern):
                score += 2.0
                break
        for label, patterns in playbook.match.labels.items():
            value = request.alert.labels.get(label, "").lower()
            if value and any(fnmatch.fnmatch(value, p.lower()) for p in patterns):
                score += 1.5
    hits = sum(1 for kw in playbook.match.keywords if _has_word(words, kw.lower()))
    return score + min(hits, 3)


def _has_word(words: str, keyword: str) -> bool:
    if re.search(r"[\uac00-\ud7a3]", keyword):  # Korean: substring (particles attach to words)
        return keyword in words
    return re.search(r"(?<![a-z0-9])" + re.escape(keyword) + r"(?![a-z0-9])", words) is not None


def select_playbooks(playbooks: list[Playbook], request: Request, limit: int = 3) -> list[Playbook]:
    """The always-on playbooks, plus the best `limit` matches (or the fallback when nothing matches)."""
    always = [p for p in playbooks if p.match.always]
    scored = sorted(((score_playbook(p, request), p) for p in playbooks if not p.match.always), key=lambda sp: -sp[0])
    best = scored[0][0] if scored else 0.0
    chosen = [p for s, p in scored if s >= max(1.0, 0.5 * best)][:limit]
    if not chosen:
        chosen = [p for p in playbooks if p.fallback and not p.match.always]
    return always + [p for p in chosen if p not in always]


def render(template: str, values: dict[str, str]) -> str | None:
    """Fill placeholders; None when one has no value or an unsafe one (never guess, never inject)."""
    missing = False

    def fill(m: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(m.group(1))
        if not value or not SAFE_VALUE.match(value):
            missing = True
            return ""
        return shlex.quote(value)

    escaped = template.replace("{{", "\x00").replace("}}", "\x01")  # literal braces: curl's -w '%{{http_code}}'
    out = PLACEHOLDER.sub(fill, escaped).replace("\x00", "{").replace("\x01", "}")
    return None if missing else out


def step_applies(step: Step, values: dict[str, str]) -> bool:
    for key, allowed in step.when.items():
        value = values.get(key)
        if value is not None and value.lower() not in [a.lower() for a in allowed]:
            return False
    return True
