"""The web door: queue runs, stream their events (SSE), take decisions; serves the widget and alert webhooks.

    POST /api/runs                       {text, env, alert?}        -> 202 {thread_id, events_url}
    GET  /api/runs                       the runs this token may see, newest first
    GET  /api/runs/{thread}              status, headline, pending approval, last report
    GET  /api/runs/{thread}/events       text/event-stream: progress, report, approval, decision, note, error, done
    POST /api/runs/{thread}/decisions    {approved, role?, reason, confirmation?}
    POST /api/runs/{thread}/messages     {text, env?}: the answer to the run's question, or a follow-up in the thread
    POST /api/runs/{thread}/shares       {user}: let another token see the run
    GET  /api/me                         the token's user and roles
    POST /api/alerts/alertmanager        Alertmanager webhook (bearer CLOUD_DOCTOR_ALERTMANAGER_TOKEN)
    POST /api/alerts/sns                 CloudWatch alarms through SNS (signed messages from allowed topics)

Every /api call but the alert webhooks needs `Authorization: Bearer <token>`
(tokens file from config/web.yaml). A token sees the runs it started, runs
in environments its roles may approve, and runs shared with it. Errors are
JSON `{"error": "<one line>"}`, never a traceback. The door only validates,
persists and acknowledges: workers run the graph (interfaces/worker.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
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
from graphs.threads import ThreadInfo, new_thread_id
from interfaces.web.auth import AuthError, RoleError, TokenStore, WebUser, require_role
from interfaces.doors import DoorReport
from interfaces.web.config import WebConfig, load_web_config
from interfaces.web.events import ApprovalView, RunEvent, approval_view, pick_role
from interfaces.web.limits import BodyLimit, TooLarge, check_strings
from interfaces.web.runs import Clock, ConfirmationNeeded, RunService
from interfaces.web.visibility import approvable_environments, can_see
from tools.alerts import parse_alert
from tools.policy import ApprovalError, default_policy
from tools.redact import redact_value

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
DECISION_WAIT_S = 30.0  # a decision's answer waits this long for the worker, then says "queued"


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    env: Environment = "dev"
    alert: dict[str, Any] | None = Field(default=None, description="Alertmanager, CloudWatch/SNS or plain alert JSON")
    emergency: bool = False


class RunStarted(BaseModel):
    thread_id: str
    status: str = "queued"
    events_url: str
    run_url: str


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approved: bool
    role: str | None = Field(default=None, max_length=64, description="one of the token's roles; the most useful one when left out")
    reason: str = Field(default="", max_length=2000)
    confirmation: str | None = Field(default=None, max_length=100)


class MessageIn(BaseModel):
    """Words in a thread: the answer to its question, or a follow-up ("why?", "do the same in prod")."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    env: Environment | None = None


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=100)


class RunView(BaseModel):
    thread_id: str
    door: str
    environment: str
    status: str
    headline: str
    waiting_for: str = ""
    requested_by: str = ""
    pending: ApprovalView | None = None
    report: Report | None = None
    question: str | None = None  # what a needs_input run asks; answer with POST /api/runs/{thread}/messages
    turns: int = 1


class RunSummary(BaseModel):
    thread_id: str
    door: str
    environment: str
    status: str
    headline: str
    updated_at: str


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    statuses: list[tuple[type[Exception], int]] = [
        (AuthError, 401), (RoleError, 403), (NotFoundError, 404), (TooLarge, 413), (ApprovalError, 409),
        (UserInputError, 400), (ConfigError, 500), (CloudDoctorError, 500),
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
               clock: Clock | None = None, slack: Any = None) -> FastAPI:
    """The ASGI app of the doors (`cloud-doctor serve` runs it beside its workers).

    `slack`: None serves the Slack door when its env vars are set, False never,
    True always (from env), or an `interfaces.slack_app.SlackSetup`. A broken
    tokens file or Slack config raises ConfigError here, so the server refuses
    to start with one line instead of failing every request.
    """
    from interfaces.slack_app import slack_setup_from_env

    settings = settings or get_settings()
    config = config or load_web_config(settings)
    service = RunService(settings, config.world, clock=clock)
    policy = default_policy()
    tokens = TokenStore(config.tokens_path(settings), known_roles=policy.roles)
    report = DoorReport()
    count = tokens.check()
    if count:
        report.on("web", f"API and widget, {count} token(s) in {tokens.path}")
    else:
        report.off("web", f"no tokens file at {tokens.path}: every API request is refused (401); see config/web.yaml")
    if slack is None:
        slack = slack_setup_from_env(settings, report)
    elif slack is False:
        report.off("slack", "not served by this app")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.open()
        door = getattr(app.state, "slack", None)
        if door is not None:
            await door.start()
        report.log()
        try:
            yield
        finally:
            if door is not None:
                await door.stop()
            await service.close()

    app = FastAPI(title="Cloud Doctor", lifespan=lifespan, docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.runs = service
    app.state.config = config
    app.state.doors = report
    _install_error_handlers(app)
    if config.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.allowed_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID"], max_age=600)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes, per_prefix={"/api/alerts/": config.max_alert_body_bytes,
                                                                                "/slack/": config.max_slack_body_bytes})

    def current_user(authorization: str | None = Header(default=None)) -> WebUser:
        return tokens.authenticate(authorization)

    async def visible(thread_id: str, user: WebUser) -> ThreadInfo:
        info = await service.thread(thread_id)
        shared = await service.call(service._store().is_shared, thread_id, user.id)
        if not can_see(user.id, user.roles, info, default_policy(), shared):
            raise NotFoundError(f"no run with thread id {thread_id!r} that this token may see")
        return info

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/static/demo.html")

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "doors": report.states}

    @app.get("/api/me")
    async def me(user: WebUser = Depends(current_user)) -> WebUser:
        return user

    @app.post("/api/runs", status_code=202)
    async def create_run(body: RunCreate, user: WebUser = Depends(current_user)) -> RunStarted:
        text = (body.text or "").strip() or None
        if text is None and body.alert is None:
            raise UserInputError("say what is wrong or what you want (text), or send an alert")
        if text is not None and len(text) > config.max_text_chars:
            raise UserInputError(f"text is {len(text):,} characters; keep it under {config.max_text_chars:,}")
        if body.alert is not None:
            if len(json.dumps(body.alert)) > config.max_alert_bytes:
                raise TooLarge(f"the alert is larger than {config.max_alert_bytes:,} bytes; send the alert, not its logs")
            check_strings(body.alert, config.max_field_chars)
        request = Request(
            text=text, alert=parse_alert(body.alert) if body.alert is not None else None, environment=body.env,
            environment_explicit="env" in body.model_fields_set,
            user=UserRef(id=user.id, name=user.name, roles=user.roles), door="web", emergency=body.emergency,
            at=service.request_time(),
        )
        thread_id = new_thread_id("web")
        await service.start(request, thread_id)
        return RunStarted(thread_id=thread_id, events_url=f"/api/runs/{thread_id}/events", run_url=f"/api/runs/{thread_id}")

    @app.get("/api/runs")
    async def list_runs(user: WebUser = Depends(current_user), limit: int = 30) -> list[RunSummary]:
        envs = approvable_environments(default_policy(), user.roles)
        runs = await service.call(service._store().visible_runs, user.id, envs, max(1, min(limit, 200)))
        return [RunSummary(thread_id=r.thread_id, door=r.door, environment=r.environment, status=r.status,
                           headline=r.headline, updated_at=r.updated_at.isoformat()) for r in runs]

    @app.get("/api/runs/{thread_id}")
    async def get_run(thread_id: str, user: WebUser = Depends(current_user)) -> RunView:
        return _view(await visible(thread_id, user))

    @app.post("/api/runs/{thread_id}/shares")
    async def share_run(thread_id: str, body: ShareIn, user: WebUser = Depends(current_user)) -> dict[str, str]:
        await visible(thread_id, user)
        if body.user not in tokens.users():
            raise UserInputError(f"no token belongs to user {body.user!r}")
        await service.call(service._store().share, thread_id, body.user)
        return {"thread_id": thread_id, "shared_with": body.user}

    @app.post("/api/runs/{thread_id}/decisions")
    async def post_decision(thread_id: str, body: DecisionIn, user: WebUser = Depends(current_user)) -> JSONResponse:
        info = await visible(thread_id, user)
        pending = info.pending if info.status == "awaiting_approval" else None
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
        decision = ApprovalDecision(request_id=pending.id, user=UserRef(id=user.id, name=user.name, roles=user.roles), role=role,
                                    approved=body.approved, reason=body.reason, confirmation=body.confirmation)
        try:
            outcome = await service.decide(thread_id, decision, wait_s=DECISION_WAIT_S)
        except ConfirmationNeeded as exc:
            raise ApprovalError(f"type {exc.expected} in the confirmation box to approve: this destroys {exc.expected}") from None
        if outcome is None:
            return JSONResponse(_view(await service.thread(thread_id)).model_dump(mode="json") | {"status": "queued"}, status_code=202)
        if outcome.status == "refused":
            raise ApprovalError(outcome.message)
        return JSONResponse(_view(await service.thread(thread_id)).model_dump(mode="json"))

    @app.post("/api/runs/{thread_id}/messages", status_code=202)
    async def post_message(thread_id: str, body: MessageIn, user: WebUser = Depends(current_user)) -> RunStarted:
        """Continue a thread: the answer its run waits for, or a follow-up in the same conversation."""
        info = await visible(thread_id, user)
        text = body.text.strip()
        if len(text) > config.max_text_chars:
            raise UserInputError(f"text is {len(text):,} characters; keep it under {config.max_text_chars:,}")
        request = Request(text=text, environment=body.env or info.environment, environment_explicit=body.env is not None,  # type: ignore[arg-type]
                          user=UserRef(id=user.id, name=user.name, roles=user.roles), door="web", at=service.request_time())
        await service.reply(thread_id, request)
        return RunStarted(thread_id=thread_id, status="queued", events_url=f"/api/runs/{thread_id}/events", run_url=f"/api/runs/{thread_id}")

    @app.get("/api/runs/{thread_id}/events")
    async def run_events(thread_id: str, user: WebUser = Depends(current_user),
                         last_event_id: str | None = Header(default=None)) -> StreamingResponse:
        await visible(thread_id, user)
        after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
        return StreamingResponse(_sse(service.follow(thread_id, after), config.keepalive_s), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    from interfaces.web.alerts import mount_alerts
    from interfaces.web.deployments import mount_deployments

    mount_alerts(app, service, config, settings, report)
    mount_deployments(app, service, current_user)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if slack is not False and slack is not None:
        from interfaces.slack_app import mount_slack

        mount_slack(app, service, slack, report)
    return app


def _view(info: ThreadInfo) -> RunView:
    pending = info.pending if info.status == "awaiting_approval" else None
    return redact_value(RunView(thread_id=info.thread_id, door=info.door, environment=info.environment, status=info.status,
                                headline=info.headline, waiting_for=info.waiting_for, requested_by=info.requested_by,
                                pending=approval_view(info.thread_id, pending) if pending else None, report=info.report,
                                question=info.question if info.status == "needs_input" else None, turns=info.turns))


async def _sse(events: AsyncIterator[RunEvent], keepalive_s: float) -> AsyncIterator[str]:
    """Server-sent events; a comment line every `keepalive_s` keeps idle connections open."""
    waiting: asyncio.Future[Any] | None = None
    yield "retry: 3000\n\n"
    try:
        while True:
            if waiting is None:
                waiting = asyncio.ensure_future(events.__anext__())
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
        await events.aclose()  # type: ignore[attr-defined]
