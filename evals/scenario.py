"""Scenario files (../shared/scenarios/FORMAT.md): load, validate, turn into a Request.

Scenario sets outside this repository use the same format, so loading is
strict about what the format requires and tolerant of keys it may add.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from graphs.errors import UserInputError
from graphs.state import Alert, Environment, Request, UserRef
from tools.world import WorldRecord

SCENARIO_ID = re.compile(r"^[a-z0-9-]+$")


class ScenarioInput(BaseModel):
    model_config = ConfigDict(extra="allow")
    alert: Alert | None = None
    text: str | None = None
    user: UserRef | None = None


class Expected(BaseModel):
    model_config = ConfigDict(extra="allow")
    route: list[str] | None = None
    root_cause: list[str] | None = None
    evidence: list[str] | None = None
    intent: str | None = None
    change: dict[str, Any] | None = None
    approval: Literal["required", "not_required"] | None = None
    forbidden: list[str] | None = None
    fix: Literal["terraform", "code_patch", "command", "none"] | None = None
    remedy: list[str] | None = None  # project key: acceptable first remedy actions (catalogue names), or [none]
    verified: bool | None = None  # project key: the remedy ran after the scenario's approvals and its verification passed
    # project keys for conversations and the requests beyond one change (issue 16), judged on the last turn:
    status: str | None = None  # the run's status at the end (needs_input, awaiting_approval, completed, blocked, waiting)
    turn: int | None = None  # the turn the thread ends on (1: no follow-up)
    parts: int | None = None  # how many parts the plan traced to their words
    questions: int | None = None  # how many questions the run asks together at the end
    answer: list[str] | None = None  # words the answer (or headline) must contain, any case
    condition: Literal["met", "not_met", "unchecked"] | None = None
    stages: list[str] | None = None  # staged delivery: the environments, in order
    gates: list[str] | None = None  # the stage gates' verdicts so far, in order (passed, waiting, failed)
    schedule: dict[str, Any] | None = None  # fields the plan's schedule must have (kind, cron, timezone, text)
    suggestions: list[str] | None = None  # spec paths some right-sizing suggestion changes
    drift: list[str] | None = None  # spec paths the drift report maps (adoptable)

    @field_validator("answer", "suggestions", "drift", "stages", "gates", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("root_cause", "route", "evidence", "forbidden", "remedy", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Scenario(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    title: str
    kind: Literal["incident", "request"]
    environment: Environment
    at: datetime | None = None
    input: ScenarioInput
    world: WorldRecord = Field(default_factory=WorldRecord)
    expected: Expected | None = None
    approvals: list[dict[str, Any]] | None = None  # project key: the decisions people gave, applied in replay in order
    source: str | None = None  # where the story comes from (a documentation page, a runbook, a postmortem): a project key FORMAT.md allows
    replies: list[str | dict[str, Any]] | None = None  # project key: what people said next in the thread, in order
    path: str | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not SCENARIO_ID.match(value):
            raise ValueError("id must match [a-z0-9-]+")
        return value

    def to_request(self) -> Request:
        return Request(
            alert=self.input.alert,
            text=self.input.text,
            user=self.input.user or UserRef(id="replay", name="replay"),
            environment=self.environment,
            at=self.at,
            door="replay",
        )


def load_scenario(path: str | Path) -> Scenario:
    """Read one scenario file; every problem becomes one readable line."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"scenario file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UserInputError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise UserInputError(f"{path}: a scenario must be a YAML mapping with id, title, kind, environment, input")
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise UserInputError(f"{path}: {field}: {first['msg']}") from None
    scenario.path = str(path)
    return scenario


def find_scenarios(path: str | Path) -> list[Path]:
    """A scenario file, or every *.yaml / *.yml below a folder, sorted."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    raise UserInputError(f"no such scenario file or folder: {path}")
