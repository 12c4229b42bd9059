"""Building what a run needs, the same way for every door: world, models, memory.

Memory is opened lazily: the embedding model takes seconds to load, and a
planner request or an empty store never needs it.
"""

from __future__ import annotations

import logging
from typing import Any

from agents.context import AgentContext
from agents.llm import ModelRouter
from config.settings import Settings
from evals.scenario import load_scenario
from tools.world import RecordedWorld, World

log = logging.getLogger(__name__)


class LazyMemory:
    """Opens the incident store on the first search; unavailable memory means no similar incidents."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._store: Any = None
        self.error: str | None = None

    def _open(self) -> Any:
        if self._store is None and self.error is None:
            try:
                from memory.incidents import open_incident_store

                self._store = open_incident_store(self.settings)
            except Exception as exc:  # memory is an aid, never a reason to fail a diagnosis
                self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.warning("incident memory unavailable: %s", self.error)
        return self._store

    def search(self, text: str, k: int = 3) -> list[Any]:
        store = self._open()
        if store is None:
            return []
        try:
            if store.count() == 0:
                return []
        except AttributeError:
            pass
        return store.search(text, k=k)

    def remember(self, outcome: Any, thread_id: str | None = None) -> None:
        """Write a finished, approved run back as a resolved incident (the store decides if it qualifies)."""
        store = self._open()
        if store is not None:
            try:
                store.remember_run(outcome, thread_id=thread_id)
            except Exception as exc:  # never fail a finished run because memory could not be written
                log.warning("could not write the incident back to memory: %s", exc)


def models_for(settings: Settings) -> ModelRouter | None:
    router = ModelRouter.from_settings(settings)
    return router if any(router.available(role) for role in router.config.roles) else None


def live_world(settings: Settings, environment: str, log_host: str | None = None) -> World:
    """SSH, CloudWatch and the Terraform directory; create it inside the event loop that uses it.

    journald and file logs are read on `log_host` (the alert's host)."""
    from tools.audit import AuditLog
    from tools.cloud_metrics import load_metrics_config
    from tools.live_world import LiveWorld

    return LiveWorld(environment=environment, audit=AuditLog(settings.audit_log), terraform_dir=settings.terraform_dir,
                     repo_path=settings.code_repo, log_host=log_host, metrics=load_metrics_config(settings.config_dir), aws_api=settings.aws_reads == "api")


async def close_context(ctx: AgentContext) -> None:
    """Close what the world holds open (SSH connections)."""
    close = getattr(ctx.world, "close", None)
    if close is not None:
        await close()


def build_context(settings: Settings, *, world: str = "live", scenario_path: str | None = None,
                  use_memory: bool | None = None, environment: str = "dev", log_host: str | None = None) -> AgentContext:
    if world == "recorded" and scenario_path:
        the_world: World = RecordedWorld(load_scenario(scenario_path).world)
    else:
        the_world = live_world(settings, environment, log_host)
    memory_on = settings.memory_enabled if use_memory is None else use_memory
    return AgentContext(
        world=the_world, settings=settings, models=models_for(settings),
        memory=LazyMemory(settings) if memory_on else None,
    )
