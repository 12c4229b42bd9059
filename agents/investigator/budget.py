"""Budgets of a tool-calling loop (config/investigation.yaml) and the tracker that enforces them."""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphs.errors import ConfigError
from graphs.state import RoleUsage


class LoopBudget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_steps: int = Field(default=6, ge=1, le=50)
    max_tool_calls: int = Field(default=8, ge=0, le=100)
    max_tokens: int = Field(default=60_000, ge=1000)
    max_cost_usd: float = Field(default=0.05, gt=0)
    max_wall_s: float = Field(default=120.0, gt=0)
    max_result_chars: int = Field(default=8000, ge=500)
    answer_retries: int = Field(default=1, ge=0, le=3)


class BenchTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price_model: str = "anthropic.claude-sonnet-4-20250514-v1:0"
    target_cost_usd: float = 0.05
    target_calls: int = 8


class ToolChoice(BaseModel):
    """Which catalogue families the diagnostician's model is offered, by the playbooks the incident selected."""

    model_config = ConfigDict(extra="forbid")
    always: list[str] = Field(default_factory=lambda: ["host", "systemd", "journal"])
    by_playbook: dict[str, list[str]] = Field(default_factory=dict)
    max_tools: int = Field(default=48, ge=1, le=200)

    def families(self, playbooks: list[str]) -> list[str]:
        """The incident's own families first, then the ones always offered: `max_tools` cuts from the end, so a
        database incident keeps its database reads and loses the least likely host reads."""
        out: list[str] = []
        for name in playbooks:
            out += [f for f in self.by_playbook.get(name, []) if f not in out]
        return out + [f for f in self.always if f not in out]


class InvestigationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    loops: dict[str, LoopBudget] = Field(default_factory=dict)
    tools: ToolChoice = Field(default_factory=ToolChoice)
    bench: BenchTarget = Field(default_factory=BenchTarget)

    def budget(self, loop: str) -> LoopBudget:
        return self.loops.get(loop) or LoopBudget()


@lru_cache(maxsize=8)
def load_investigation_config(config_dir: str) -> InvestigationConfig:
    """config/investigation.yaml; defaults when the file is absent (a custom config folder)."""
    path = Path(config_dir) / "investigation.yaml"
    if not path.is_file():
        path = Path(__file__).resolve().parents[2] / "config" / "investigation.yaml"
    try:
        return InvestigationConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except FileNotFoundError:
        return InvestigationConfig()
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid investigation config: {str(exc).splitlines()[0]}") from None


class BudgetTracker:
    """What a loop has spent; says which budget is spent, in words a report can carry."""

    def __init__(self, budget: LoopBudget):
        self.budget = budget
        self.started = time.monotonic()
        self.steps = 0
        self.tool_calls = 0
        self.tokens = 0
        self.cost_usd = 0.0

    def spend(self, usage: RoleUsage) -> None:
        self.steps += usage.calls
        self.tokens += usage.input_tokens + usage.output_tokens
        self.cost_usd += usage.cost_usd

    def wall_left(self) -> float:
        return self.budget.max_wall_s - (time.monotonic() - self.started)

    def spent(self) -> str | None:
        """The first spent budget (other than steps, which the loop shapes itself), or None."""
        b = self.budget
        if self.tokens >= b.max_tokens:
            return f"token budget ({b.max_tokens:,}) reached"
        if self.cost_usd >= b.max_cost_usd:
            return f"cost budget (${b.max_cost_usd:.2f}) reached"
        if self.wall_left() <= 0:
            return f"time budget ({b.max_wall_s:.0f} s) reached"
        return None

    def tools_left(self) -> int:
        return self.budget.max_tool_calls - self.tool_calls

    def describe(self) -> str:
        return f"{self.steps} model call(s), {self.tool_calls} tool call(s), {self.tokens:,} tokens, ${self.cost_usd:.4f}"
