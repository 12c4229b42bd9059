"""Playbooks (config/playbooks/*.yaml): which catalogue reads to run for which kind of alert.

A playbook matches alert names (globs), words in the alert, the person's text
and label values (English and Korean), and lists steps: a catalogue read tool
(config/tools/) with parameters whose values may hold {unit}/{service}/{db}/...
placeholders, filled from the alert's labels (or, in a follow-up round, from
values learned from the first evidence: learn.py). A step whose placeholder
has no value is skipped, never guessed; a filled value still goes through the
parameter's type. Operators may write a step as a command string
(`command: "kubectl describe pod {pod} -n {namespace}"`): it loads only when it
reads back as a catalogue read with valid parameters, else the playbook fails
to load with a message naming the step.
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graphs.errors import ConfigError
from graphs.state import Request

SAFE_VALUE = re.compile(r"^[A-Za-z0-9@._:/=-]{1,200}$")
PLACEHOLDER = re.compile(r"(?<!\{)\{([a-z_][a-z0-9_]*)\}(?!\})")


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    command: str | None = None  # an operator's step written as a command; resolved to `tool` and `params` at load
    timeout: float | None = None  # None: the tool's own
    when: dict[str, list[str]] = Field(default_factory=dict)  # e.g. {engine: [mysql]}: run only when the value matches
    # values that must be known before the step runs (an unknown `when` value otherwise lets it run): the step waits
    # for a follow-up round that learns them, e.g. binary logs only once df says the MySQL mount is the full one
    needs: list[str] = Field(default_factory=list)
    # values that must still be unknown: a lookup that finds them is pointless once they are known
    unless: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_form(self) -> "Step":
        if (self.tool is None) == (self.command is None):
            raise ValueError("a step names a `tool` (with `params`) or a `command`, not both")
        return self

    def placeholders(self) -> set[str]:
        return set(PLACEHOLDER.findall(repr(self.params))) | set(self.needs)


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
    from tools.catalogue import default_catalogue
    from tools.command_rules import default_rules

    catalogue, rules = default_catalogue(), default_rules()
    out = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            playbook = Playbook.model_validate(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{path}: {where}: {first['msg']}") from None
        out.append(playbook.model_copy(update={"steps": [_resolve(step, i, path, catalogue, rules) for i, step in enumerate(playbook.steps)]}))
    return tuple(out)


def _resolve(step: Step, index: int, path: Path, catalogue: Any, rules: Any) -> Step:
    """A step as a catalogue read: a command string is read back into a tool call; the tool must be a read."""
    from tools.param_types import ParamTypeError, validate
    from tools.tool_match import TemplateError, template_to_call

    where = f"{path}: steps[{index}]"
    if step.command is not None:
        try:
            tool, params = template_to_call(step.command, catalogue, rules)
        except TemplateError as exc:
            raise ConfigError(f"{where} `{step.command}` {exc}") from None
        return step.model_copy(update={"tool": tool, "params": params, "command": None})
    try:
        spec = catalogue.get(step.tool)
    except KeyError:
        raise ConfigError(f"{where}: no tool named {step.tool!r} in config/tools") from None
    if spec.kind != "read":
        raise ConfigError(f"{where}: {step.tool} is an action; playbooks only read")
    for key, value in step.params.items():
        if key not in spec.params:
            raise ConfigError(f"{where}: {step.tool} has no parameter {key!r} (it takes {', '.join(spec.params) or 'none'})")
        if PLACEHOLDER.search(repr(value)) is None:
            try:
                validate(spec.params[key].type, value, catalogue._resolved_options(spec.params[key]))
            except ParamTypeError as exc:
                raise ConfigError(f"{where}: {step.tool}: parameter {key}: {exc}") from None
    return step


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


def fill_params(params: dict[str, Any], values: dict[str, str]) -> dict[str, Any] | None:
    """A step's parameters with placeholders filled; None when one has no value or an unsafe one (never guess)."""
    missing = False

    def fill(value: Any) -> Any:
        nonlocal missing
        if isinstance(value, list):
            return [fill(v) for v in value]
        if not isinstance(value, str):
            return value

        def one(m: re.Match[str]) -> str:
            nonlocal missing
            found = values.get(m.group(1))
            if not found or not SAFE_VALUE.match(found):
                missing = True
                return ""
            return found

        return PLACEHOLDER.sub(one, value)

    out = {k: fill(v) for k, v in params.items()}
    return None if missing else out


def render(template: str, values: dict[str, str]) -> str | None:
    """Fill placeholders in a name (a log source, a metric); None when one has no value or an unsafe one."""
    filled = fill_params({"v": template}, values)
    return None if filled is None else str(filled["v"])


def step_applies(step: Step, values: dict[str, str]) -> bool:
    """A step's `when` holds when each named value is absent (unknown) or matches one of its globs;
    its `needs` hold only when known, its `unless` only while unknown."""
    if any(values.get(key) is None for key in step.needs) or any(values.get(key) is not None for key in step.unless):
        return False
    for key, allowed in step.when.items():
        value = values.get(key)
        if value is not None and not any(fnmatch.fnmatch(value.lower(), a.lower()) for a in allowed):
            return False
    return True
