"""What a node needs besides the state: the world, guarded tools, models, memory.

Doors build one `AgentContext` per run and pass it in the graph's config
(`configurable["ctx"]`); nothing in it is checkpointed, so a resumed thread
gets a fresh context from whichever door resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig

from config.settings import Settings, get_settings
from tools.audit import AuditLog
from tools.executor import GuardedTools
from tools.world import World


@dataclass
class AgentContext:
    world: World
    settings: Settings = field(default_factory=get_settings)
    audit: AuditLog | None = None
    models: Any = None  # agents.llm.ModelRouter; None means the embedded default (no LLM)
    memory: Any = None  # memory.incidents.IncidentStore, or None when memory is off

    def __post_init__(self) -> None:
        if self.audit is None:
            self.audit = AuditLog(self.settings.audit_log)

    def tools(self, agent: str, environment: str) -> GuardedTools:
        from agents.diagnosis.parsers import parse_output

        return GuardedTools(self.world, environment, self.audit, agent, parse=parse_output)


def context_from(config: RunnableConfig | None) -> AgentContext:
    ctx = ((config or {}).get("configurable") or {}).get("ctx")
    if not isinstance(ctx, AgentContext):
        raise RuntimeError("the graph was run without an AgentContext in config['configurable']['ctx']")
    return ctx
