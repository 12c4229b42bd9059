"""The deployments desk over HTTP: what was delivered, how it went, and a rollback asked for from the widget.

Same store and same functions as `cloud-doctor deployments|rollback` and
Slack's `/doctor deployments|rollback` (agents/delivery/desk.py). A rollback
request is checked here (unknown deployment, already rolled back, still
running, no reason: one-line 4xx) and queued as a run; a worker starts it at
its rollback proposal, which waits for the policy's approvals (in prod the
DevOps lead and the CTO) like any other run, through the runs API.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from graphs.state import Environment, UserRef
from graphs.threads import new_thread_id
from interfaces.web.auth import WebUser
from interfaces.web.runs import RunService


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="why: shown to the approvers and kept with the deployment")


class RollbackStarted(BaseModel):
    thread_id: str
    deployment_id: str
    environment: str
    status: str = "queued"
    events_url: str
    run_url: str


def mount_deployments(app: FastAPI, service: RunService, current_user: Callable[..., WebUser]) -> None:
    from agents.delivery.desk import get_deployment, list_deployments

    @app.get("/api/deployments")
    async def deployments(user: WebUser = Depends(current_user), env: Environment | None = None,
                          limit: int = Query(default=30, ge=1, le=200)) -> dict[str, Any]:
        listing = await service.call(list_deployments, service.settings, limit=limit, environment=env)
        return listing.model_dump(mode="json")

    @app.get("/api/deployments/{deployment_id}")
    async def deployment(deployment_id: str, user: WebUser = Depends(current_user)) -> dict[str, Any]:
        record = await service.call(get_deployment, service.settings, deployment_id)
        return record.model_dump(mode="json")

    @app.post("/api/deployments/{deployment_id}/rollback", status_code=202)
    async def rollback(deployment_id: str, body: RollbackIn, user: WebUser = Depends(current_user)) -> RollbackStarted:
        thread_id = new_thread_id("web")
        request = await service.start_rollback(deployment_id, body.reason, UserRef(id=user.id, name=user.name, roles=user.roles),
                                               "web", thread_id)
        return RollbackStarted(thread_id=thread_id, deployment_id=deployment_id, environment=request.environment,
                               events_url=f"/api/runs/{thread_id}/events", run_url=f"/api/runs/{thread_id}")
