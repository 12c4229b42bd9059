"""A small stand-in for tools/catalogue.py and the executor's typed `call`, with the same shape.

The lead's typed tool catalogue is not on main yet; the investigator's
adapter (agents/investigator/catalogue.py) imports `tools.catalogue`, so
tests install this module under that name. Calls render their own argv and
run through the real guard and the recorded world (GuardedTools.run), so
what the loop reads is what a recording holds, and the guard still judges
every command. One action is listed to prove that actions are never offered.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.context import AgentContext
from graphs.errors import CloudDoctorError
from graphs.state import ActionRecord, CommandVerdict
from tools.executor import GuardedTools


class ToolParamError(CloudDoctorError):
    """A parameter the tool does not allow (one line naming it)."""


class ParamSpec(BaseModel):
    name: str = ""
    type: str = "string"
    role: Literal["identifying", "volume"] = "identifying"
    required: bool = False
    default: Any = None
    description: str = ""
    choices: list[str] | None = None
    pattern: str | None = None
    min: int | None = None
    max: int | None = None

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.type == "int" else "string", "description": self.description}
        for key, value in (("enum", self.choices), ("pattern", self.pattern), ("minimum", self.min), ("maximum", self.max)):
            if value is not None:
                schema[key] = value
        if self.default is not None:
            schema["default"] = self.default
        return schema


class ToolSpec(BaseModel):
    name: str
    kind: Literal["read", "action"] = "read"
    description: str
    scope: Literal["host", "cluster", "database", "account"] = "host"
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    argv: list[str]  # "{param}" slots

    def json_schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {k: p.json_schema() for k, p in self.params.items()},
                "required": [k for k, p in self.params.items() if p.required], "additionalProperties": False}


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    host: str | None = None


UNIT = ParamSpec(type="string", required=True, pattern=r"^[A-Za-z0-9@._-]{1,64}$", description="systemd unit, e.g. api")
TOOLS = [
    ToolSpec(name="host.memory", description="Memory and swap in MiB (free -m).", argv=["free", "-m"]),
    ToolSpec(name="host.processes", description="Processes by memory use (ps aux --sort=-%mem).", argv=["ps", "aux", "--sort=-%mem"]),
    ToolSpec(name="host.disk", description="File system usage (df -h).", argv=["df", "-h"]),
    ToolSpec(name="host.kernel_log", description="Kernel messages with times (dmesg -T).", argv=["dmesg", "-T"]),
    ToolSpec(name="systemd.status", description="A unit's state, main PID and memory.", params={"unit": UNIT},
             argv=["systemctl", "status", "{unit}"]),
    ToolSpec(name="journal.unit", description="A unit's recent journal lines.",
             params={"unit": UNIT, "lines": ParamSpec(type="int", role="volume", default=200, min=1, max=2000, description="how many lines")},
             argv=["journalctl", "-u", "{unit}", "-n", "{lines}", "--no-pager"]),
    ToolSpec(name="systemd.restart", kind="action", description="Restart a unit.", params={"unit": UNIT}, argv=["systemctl", "restart", "{unit}"]),
]


class Catalogue:
    def __init__(self, tools: list[ToolSpec]):
        self._tools = {t.name: t for t in tools}

    def tools(self, kind: str | None = None) -> list[ToolSpec]:
        return [t for t in self._tools.values() if kind is None or t.kind == kind]

    def get(self, name: str) -> ToolSpec:
        return self._tools[name]


CATALOGUE = Catalogue(TOOLS)


def default_catalogue() -> Catalogue:
    return CATALOGUE


def render(spec: ToolSpec, params: dict[str, Any]) -> list[str]:
    """Typed parameters checked, then the argv rendered from them (never from a string)."""
    import re

    unknown = set(params) - set(spec.params)
    if unknown:
        raise ToolParamError(f"{spec.name}: no parameter {sorted(unknown)[0]!r} (allowed: {', '.join(spec.params) or 'none'})")
    values: dict[str, Any] = {}
    for name, p in spec.params.items():
        value = params.get(name, p.default)
        if value is None:
            if p.required:
                raise ToolParamError(f"{spec.name}: parameter {name!r} is required")
            continue
        if p.type == "int" and (not isinstance(value, int) or (p.min is not None and value < p.min) or (p.max is not None and value > p.max)):
            raise ToolParamError(f"{spec.name}: parameter {name!r} must be an integer from {p.min} to {p.max}")
        if p.type == "string" and (not isinstance(value, str) or (p.pattern and not re.fullmatch(p.pattern, value))):
            raise ToolParamError(f"{spec.name}: parameter {name!r} must match {p.pattern}")
        values[name] = value
    return [str(values[a[1:-1]]) if a.startswith("{") and a.endswith("}") else a for a in spec.argv]


class FakeGuardedTools(GuardedTools):
    """GuardedTools plus a typed `call`, as tools/executor.py will have it."""

    calls: list[ToolCall]

    async def call(self, call: ToolCall, *, timeout: float | None = None) -> Any:
        try:
            spec = CATALOGUE.get(call.tool)
        except KeyError:
            raise ToolParamError(f"unknown tool {call.tool!r}") from None
        argv = render(spec, call.params)
        if spec.kind == "action":  # the executor holds actions for approval; the loop must never get here
            verdict = CommandVerdict(verdict="approve", rule=f"action {spec.name}", argv=argv)
            return SimpleNamespace(verdict=verdict, result=None, facts=None,
                                   action=ActionRecord(action=" ".join(argv), host=call.host, verdict="approve", rule=verdict.rule,
                                                       status="proposed", by=self.agent))
        outcome = await self.run(call.host or "", argv, timeout or 15.0)
        facts = {"lines": len(outcome.result.stdout.splitlines())} if outcome.result is not None else None
        return SimpleNamespace(verdict=outcome.verdict, result=outcome.result, facts=facts, action=outcome.action)


class CatalogueContext(AgentContext):
    """An AgentContext whose guarded tools have the typed call."""

    def tools(self, agent: str, environment: str) -> FakeGuardedTools:
        return FakeGuardedTools(self.world, environment, self.audit, agent)


def install(monkeypatch: Any) -> None:
    """Make `tools.catalogue` this module for the test (the adapter imports it by that name)."""
    monkeypatch.setitem(sys.modules, "tools.catalogue", sys.modules[__name__])
