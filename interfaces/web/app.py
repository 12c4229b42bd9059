"""The web door: start runs, stream their events (SSE), decide approvals; serves the widget.

    POST /api/runs                       {text, env, alert?}        -> {thread_id, events_url}
    GET  /api/runs/{thread}/events       text/event-stream: progress, report, approval, decision, error, done
    POST /api/runs/{thread}/decisions    {approved, role?, reason, confirmation?}
    GET  /api/runs/{thread}              status, headline, pending approval, last report
    GET  /api/me                         the token's user and roles

Every /api call needs `Authorization: Bearer <token>` (tokens file from
config/web.yaml). Errors are JSON `{"error": "<one line>"}`, never a traceback.
When SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set, the Slack door is
served from the same process at POST /slack/events and shares the runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, Header
from fastapi import Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from config.settings import Settings, get_settings
from graphs.errors import CloudDoctorError, ConfigError, NotFoundError, UserInputError
from graphs.state import ApprovalDecision, Environment, Report, Request, UserRef
from interfaces.web.auth import AuthError, RoleError, TokenStore, WebUser, require_role
from interfaces.web.config import WebConfig, load_web_config
from interfaces.web.events import ApprovalView, EventLog, approval_view, pick_role
from interfaces.web.runs import Clock, ContextFactory, RunService
from tools.policy import ApprovalError, default_policy
from tools.redact import redact_value

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    env: Environment = "dev"
    alert: dict[str, Any] | None = Field(default=None, description="Alertmanager, CloudWatch/SNS or plain alert JSON")
    emergency: bool = False


class RunStarted(BaseModel):
    thread_id: str
    status: str = "running"
    events_url: str
    run_url: str


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approved: bool
    role: str | None = Field(default=None, description="one of the token's roles; the most useful one when left out")
    reason: str = Field(default="", max_length=2000)
    confirmation: str | None = Field(default=None, max_length=100)


class RunView(BaseModel):
    thread_id: str
    door: str
    environment: str
    status: str
    headline: str
    waiting_for: str = ""
    pending: ApprovalView | None = None
    report: Report | None = None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    statuses: list[tuple[type[Exception], int]] = [
        (AuthError, 401), (RoleError, 403), (NotFoundError, 404), (ApprovalError, 409), (UserInputError, 400),
        (ConfigError, 500), (CloudDoctorError, 500),
    ]

    async def known(request: HttpRequest, exc: Exception) -> JSONResponse:
        status = next(code for kind, code in statuses if isinstance(exc, kind))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _error(status, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, headers)

    async def invalid(request: HttpRequest, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"{where}: {first.get('msg')}" if where else str(first.get("msg")))

    async def http(request: HttpRequest, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    async def unexpected(request: HttpRequest, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal error (see the server log)")

    for kind, _ in statuses:
        app.add_exception_handler(kind, known)
    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)


def create_app(config: WebConfig | None = None, settings: Settings | None = None, *,
               context_factory: ContextFactory | None = None, clock: Clock | None = None,
               slack: Any = None) -> FastAPI:
    """The ASGI app `cloud-doctor serve` runs; tests pass a config, settings and a recorded-world factory.

    `slack`: None serves the Slack door when its env vars are set, False never,
    True always (from env), or an `interfaces.slack_app.SlackSetup`.
    """
    settings = settings or get_settings()
    config = config or load_web_config(settings)
    service = RunService(settings, config.world, context_factory=context_factory, clock=clock)
    tokens = TokenStore(config.tokens_path(settings), known_roles=default_policy().roles)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.open()
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(title="Cloud Doctor", lifespan=lifespan, docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.runs = service
    app.state.config = config
    _install_error_handlers(app)
    if config.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.allowed_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID"], max_age=600)

    def current_user(authorization: str | None = Header(default=None)) -> WebUser:
        return tokens.authenticate(authorization)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/static/demo.html")

    @app.get("/api/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/me")
    async def me(user: WebUser = Depends(current_user)) -> WebUser:
        return user

    @app.post("/api/runs", status_code=202)
    async def create_run(body: RunCreate, user: WebUser = Depends(current_user)) -> RunStarted:
        from graphs.runner import new_thread_id
        from tools.alerts import parse_alert

        text = (body.text or "").strip() or None
        if text is None and body.alert is None:
            raise UserInputError("say what is wrong or what you want (text), or send an alert")
        if text is not None and len(text) > config.max_text_chars:
            raise UserInputError(f"text is {len(text)} characters; keep it under {config.max_text_chars}")
        request = Request(
            text=text, alert=parse_alert(body.alert) if body.alert is not None else None, environment=body.env,
            environment_explicit="env" in body.model_fields_set,
            user=UserRef(id=user.id, name=user.name, roles=user.roles), door="web", emergency=body.emergency,
            at=service.request_time(),
        )
        thread_id = new_thread_id("web")
        service.start(request, thread_id)
        return RunStarted(thread_id=thread_id, events_url=f"/api/runs/{thread_id}/events", run_url=f"/api/runs/{thread_id}")

    @app.get("/api/runs/{thread_id}")
    async def get_run(thread_id: str, user: WebUser = Depends(current_user)) -> RunView:
        return await _view(service, thread_id)

    @app.post("/api/runs/{thread_id}/decisions")
    async def post_decision(thread_id: str, body: DecisionIn, user: WebUser = Depends(current_user)) -> RunView:
        info = service.thread(thread_id)  # 404 before anything else
        pending = await service.pending(thread_id)
        if pending is None:
            raise ApprovalError(f"run {thread_id} is not waiting for an approval (status: {info.status})")
        role = body.role
        if role is not None:
            require_role(user, role)
        else:
            role = pick_role(user.roles, pending) if body.approved else (user.roles[0] if user.roles else None)
            if role is None:
                raise RoleError(f"none of your roles ({', '.join(user.roles) or 'none'}) can approve this: "
                                f"still needed {approval_view(thread_id, pending).still_needed}")
        decision = ApprovalDecision(request_id="pending", user=UserRef(id=user.id, name=user.name, roles=user.roles), role=role,
                                    approved=body.approved, reason=body.reason, confirmation=body.confirmation)
        await service.decide(thread_id, decision)
        return await _view(service, thread_id)

    @app.get("/api/runs/{thread_id}/events")
    async def run_events(thread_id: str, user: WebUser = Depends(current_user),
                         last_event_id: str | None = Header(default=None)) -> StreamingResponse:
        events = await service.follow_log(thread_id)
        after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
        return StreamingResponse(_sse(events, after, config.keepalive_s), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if slack is None:
        slack = bool(os.environ.get("SLACK_BOT_TOKEN") and os.environ.get("SLACK_SIGNING_SECRET"))
    if slack is not False:
        from interfaces.slack_app import mount_slack

        mount_slack(app, service, None if slack is True else slack)
    return app


async def _view(service: RunService, thread_id: str) -> RunView:
    info = service.thread(thread_id)
    pending = await service.pending(thread_id) if info.status == "awaiting_approval" else None
    outcome = service.last_outcome(thread_id)
    return redact_value(RunView(thread_id=thread_id, door=info.door, environment=info.environment, status=info.status,
                                headline=info.headline, waiting_for=info.waiting_for,
                                pending=approval_view(thread_id, pending) if pending else None,
                                report=outcome.report if outcome is not None else None))


async def _sse(events: EventLog, after: int, keepalive_s: float) -> AsyncIterator[str]:
    """Server-sent events; a comment line every `keepalive_s` keeps idle connections open."""
    stream = events.follow(after)
    waiting: asyncio.Future[Any] | None = None
    yield "retry: 3000\n\n"
    try:
        while True:
            if waiting is None:
                waiting = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait({waiting}, timeout=keepalive_s)
            if not done:
                yield ": keepalive\n\n"
                continue
            current, waiting = waiting, None
            try:
                event = current.result()
            except StopAsyncIteration:
                return
            yield f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data, ensure_ascii=False)}\n\n"
    finally:
        if waiting is not None:
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
        await stream.aclose()
