"""The Slack door: `/doctor`, mentions and buttons are validated, persisted and acknowledged; workers do the rest.

Slack wants an answer within 3 s. The door registers the run and queues its
job in one transaction (with the request's dedupe key: Slack's event_id or
the command's trigger_id, so a retried or doubly delivered request makes one
run on any replica), then acknowledges. The worker that runs the job posts
into the thread (interfaces/slack_outbox.py). Requests arrive over HTTP
(POST /slack/events, signed with SLACK_SIGNING_SECRET) or Socket Mode
(SLACK_APP_TOKEN), through the same bolt app. Who may approve, as which
roles, and which channel is which environment come from config/slack.yaml.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from config.settings import Settings
from graphs.errors import CloudDoctorError, ConfigError
from graphs.state import ENVIRONMENTS, ApprovalDecision, Environment, Request, UserRef
from graphs.threads import new_thread_id
from interfaces import slack_blocks as blocks
from interfaces.doors import DoorReport
from interfaces.queue.models import SlackOrigin, SlackPlace
from interfaces.slack_deployments import deployments_command, rollback_command
from interfaces.slack_intake import check_slack_body
from interfaces.slack_outbox import make_web_client
from interfaces.web.config import load_yaml_config
from interfaces.web.events import approval_view, pick_role
from interfaces.web.runs import ConfirmationNeeded, RunService
from tools.redact import redact

log = logging.getLogger(__name__)
# Words people use for an environment that this deployment does not have: answered, never run in dev by default.
ENVIRONMENT_LIKE = {"production", "prd", "qa", "test", "testing", "uat", "stage", "stg", "development", "develop", "preprod",
                    "pre-prod", "sandbox", "live", "perf", "demo", "local"}


class SlackUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    roles: list[str] = Field(default_factory=list)


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str = "/doctor"
    users: dict[str, SlackUser] = Field(default_factory=dict)  # Slack user id -> name and roles
    channels: dict[str, Environment] = Field(default_factory=dict)  # channel id -> default environment
    alert_channels: dict[Environment, str] = Field(default_factory=dict)  # environment -> channel for alert runs
    default_environment: Environment = "dev"
    max_text_chars: int = 4000

    def channel_for_environment(self, environment: str) -> str | None:
        if environment in self.alert_channels:
            return self.alert_channels[environment]  # type: ignore[index]
        return next((channel for channel, env in self.channels.items() if env == environment), None)


def load_slack_config(settings: Settings, path: str | Path | None = None) -> SlackConfig:
    """config/slack.yaml (or CLOUD_DOCTOR_SLACK_CONFIG); roles must be policy roles."""
    from tools.policy import default_policy

    path = Path(path or os.environ.get("CLOUD_DOCTOR_SLACK_CONFIG") or settings.config_dir / "slack.yaml")
    config = load_yaml_config(path, SlackConfig, "slack")
    assert isinstance(config, SlackConfig)
    known = default_policy().roles
    for user_id, user in config.users.items():
        unknown = [r for r in user.roles if r not in known]
        if unknown:
            raise ConfigError(f"{path}: users.{user_id}: unknown role(s) {', '.join(unknown)} (policy.yaml roles: {', '.join(known)})")
    return config


@dataclass
class SlackSetup:
    """What the Slack door needs besides the shared run service."""

    config: SlackConfig
    signing_secret: str | None
    client: AsyncWebClient
    app_token: str | None = None  # Socket Mode
    socket_client: Callable[[], AsyncWebClient] | None = field(default=None)  # tests: the web client Socket Mode uses


def slack_setup_from_env(settings: Settings, report: DoorReport) -> SlackSetup | None:
    """The Slack door from SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET (HTTP) and/or SLACK_APP_TOKEN (Socket Mode)."""
    token, secret, app_token = (os.environ.get(n) or None for n in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"))
    if not token:
        others = [n for n, v in (("SLACK_SIGNING_SECRET", secret), ("SLACK_APP_TOKEN", app_token)) if v]
        report.off("slack", "SLACK_BOT_TOKEN is not set" + (f" ({', '.join(others)} is)" if others else
                                                             " (nor SLACK_SIGNING_SECRET or SLACK_APP_TOKEN)"))
        return None
    if not secret and not app_token:
        report.off("slack", "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP at /slack/events) "
                            "nor SLACK_APP_TOKEN (Socket Mode)")
        return None
    return SlackSetup(load_slack_config(settings), secret, make_web_client(token), app_token)


def parse_request_words(text: str, default: str) -> tuple[str, str, bool, str | None]:
    """(words, environment, emergency, problem) of a command's text.

    `emergency web2 restart api prod` -> ("web2 restart api", "prod", True, None); a trailing word that names an
    environment this deployment does not have ("production", "qa") is a problem to answer, not a dev run."""
    words = text.split()
    emergency = bool(words) and words[0].lower().rstrip(":") == "emergency"
    if emergency:
        words = words[1:]
    if words and words[-1].lower() in ENVIRONMENTS:
        return " ".join(words[:-1]), words[-1].lower(), emergency, None
    if words and words[-1].lower().strip(".,!?") in ENVIRONMENT_LIKE:
        word = words[-1].strip(".,!?")
        return " ".join(words), default, emergency, (
            f"`{word}` is not an environment here. End the request with one of {', '.join(ENVIRONMENTS)}, "
            f"e.g. `/doctor web2 is slow prod`.")
    return " ".join(words), default, emergency, None


def split_environment(text: str, default: str) -> tuple[str, str]:
    """`web2 is slow prod` -> ("web2 is slow", "prod"): a trailing environment name picks the environment."""
    words, env, _, _ = parse_request_words(text, default)
    return words, env


class SlackDoor:
    def __init__(self, setup: SlackSetup, service: RunService):
        self.config = setup.config
        self.service = service
        self.client = setup.client
        self.setup = setup
        token = setup.client.token or ""

        async def authorize(enterprise_id: str | None = None, team_id: str | None = None, user_id: str | None = None,
                            **_: Any) -> AuthorizeResult:
            # No auth.test per request: the door answers even while Slack's API is unreachable.
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token)

        # process_before_response: a listener persists, then acks, and returns; bolt's other mode polls for the
        # ack every 10 ms, which under load costs more than the work. Signatures are checked in check_slack_body.
        self.app = AsyncApp(client=setup.client, signing_secret=setup.signing_secret or "verified-before-bolt",
                            authorize=authorize, name="cloud-doctor", request_verification_enabled=False,
                            ignoring_self_events_enabled=False, process_before_response=True)
        self.handler = AsyncSlackRequestHandler(self.app)
        self.socket: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # `/doctor <word> …` commands that act on runs rather than ask something; add a word and a handler to extend
        # (interfaces/slack_deployments.py registers deployments and rollback). Each handler gets (args, user id, channel id).
        self.commands: dict[str, Callable[[list[str], str, str], Any]] = {
            "approve": lambda args, user, channel: self._on_text_decision("approve", args, user, channel),
            "reject": lambda args, user, channel: self._on_text_decision("reject", args, user, channel),
            "status": lambda args, user, channel: self._on_text_decision("status", args, user, channel),
            "deployments": lambda args, user, channel: deployments_command(self, args, user, channel),
            "rollback": lambda args, user, channel: rollback_command(self, args, user, channel),
        }
        self.app.command(self.config.command)(self._on_command)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.action(blocks.APPROVE)(self._on_approve)
        self.app.action(blocks.REJECT)(self._on_reject)
        self.app.action(blocks.EMERGENCY)(self._on_emergency)
        self.app.view(blocks.CONFIRM_VIEW)(self._on_confirm)

    def channel_for_environment(self, environment: str) -> str | None:
        return self.config.channel_for_environment(environment)

    # ---------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self.setup.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            web = self.setup.socket_client() if self.setup.socket_client else self.client
            self.socket = AsyncSocketModeHandler(self.app, self.setup.app_token, web_client=web)
            self._background(self._connect_socket(), "slack-socket-mode")

    async def _connect_socket(self) -> None:
        try:
            await self.socket.connect_async()
            log.warning("door slack: Socket Mode connected")
        except Exception as exc:  # Slack unreachable at start: say so once; HTTP requests still work
            log.error("door slack: Socket Mode could not connect (%s: %s); it keeps retrying", type(exc).__name__, exc)

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close_async()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _background(self, work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        while self._tasks - {t for t in self._tasks if t.get_name() == "slack-socket-mode"}:
            await asyncio.gather(*[t for t in self._tasks if t.get_name() != "slack-socket-mode"], return_exceptions=True)

    # ------------------------------------------------------------- intake

    def _user_ref(self, user_id: str, fallback_name: str | None = None) -> UserRef:
        member = self.config.users.get(user_id)
        name = (member.name if member and member.name else None) or fallback_name or user_id
        return UserRef(id=user_id, name=name, roles=list(member.roles) if member else [])

    def _default_env(self, channel: str) -> str:
        return self.config.channels.get(channel, self.config.default_environment)

    async def _on_command(self, ack: Any, body: dict[str, Any]) -> None:
        text = (body.get("text") or "").strip()
        if len(text) > self.config.max_text_chars:
            await ack(f"Your request is {len(text):,} characters; I take up to {self.config.max_text_chars:,}. "
                      "Say what is wrong in a few lines (I read the logs myself).")
            return
        word = text.split()[0].lower() if text else "help"
        if word == "help":
            await ack(blocks.HELP)
            return
        user, channel = body["user_id"], body["channel_id"]
        handler = self.commands.get(word)
        if handler is not None:
            await ack()
            self._background(handler(text.split()[1:], user, channel), f"slack-{word}")
            return
        words, env, emergency, problem = parse_request_words(text, self._default_env(channel))
        if problem or not words:
            await ack(problem or blocks.HELP)
            return
        thread_id = new_thread_id("slack")
        place = SlackPlace(thread_id=thread_id, channel=channel, environment=env,
                           root_text=blocks.tagged(env, f"🩺 <@{user}> asked{' (emergency)' if emergency else ''}: {blocks.safe(words)}"))
        origin = SlackOrigin(channel=channel, user=user, response_url=body.get("response_url"))
        request = Request(text=words, environment=env, environment_explicit=words != text or channel in self.config.channels,  # type: ignore[arg-type]
                          user=self._user_ref(user, body.get("user_name")), door="slack", emergency=emergency,
                          at=self.service.request_time())
        keys = [f"slack-trigger:{body['trigger_id']}"] if body.get("trigger_id") else []
        started = await self.service.start(request, thread_id, keys=keys, slack=place, reply_to=origin)
        await ack(f"On it ({env}{', emergency' if emergency else ''}): I will answer in a thread in <#{channel}>." if started
                  else "I already have this request.")

    async def _on_message(self, ack: Any, body: dict[str, Any], event: dict[str, Any]) -> None:
        """A reply in a thread one of our runs posts in: the answer to its question, or a follow-up; other messages
        (the channel's own talk, bots, our own posts, edits) are left alone."""
        await ack()
        if event.get("bot_id") or event.get("subtype") or not event.get("user"):
            return
        channel, ts, thread_ts = event.get("channel") or "", event.get("ts") or "", event.get("thread_ts")
        if not thread_ts or thread_ts == ts:
            return
        thread_id = await self.service.call(self.service._store().slack_thread_run, channel, thread_ts)
        if thread_id is None:
            return
        text = re.sub(r"<@[A-Z0-9]+>", "", event.get("text") or "").strip()
        await self._continue(thread_id, text, event["user"], channel, thread_ts, ts)

    async def _continue(self, thread_id: str, text: str, user: str, channel: str, thread_ts: str, ts: str) -> None:
        """Queue words said in a run's Slack thread; one message counts once (it may arrive as a mention and a message)."""
        if not text:
            return
        if len(text) > self.config.max_text_chars:
            self._background(self._ephemeral(channel, user, thread_ts, f"That is {len(text):,} characters; I take up to "
                                             f"{self.config.max_text_chars:,}."), "slack-too-long")
            return
        info = await self.service.find(thread_id)
        if info is None:
            return
        request = Request(text=text, environment=info.environment, environment_explicit=False,  # type: ignore[arg-type]
                          user=self._user_ref(user), door="slack", at=self.service.request_time())
        try:
            await self.service.reply(thread_id, request, keys=[f"slack-msg:{channel}:{ts}"],
                                     reply_to=SlackOrigin(channel=channel, user=user, thread_ts=thread_ts))
        except CloudDoctorError as exc:
            self._background(self._ephemeral(channel, user, thread_ts, f"not taken: {blocks.safe(str(exc))}"), "slack-reply-refused")

    async def _on_mention(self, ack: Any, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        text = re.sub(r"<@[A-Z0-9]+>", "", event.get("text") or "").strip()
        channel, ts = event["channel"], event.get("thread_ts") or event["ts"]
        if event.get("thread_ts") and event.get("thread_ts") != event.get("ts"):
            thread_id = await self.service.call(self.service._store().slack_thread_run, channel, event["thread_ts"])
            if thread_id is not None:  # a mention inside one of our threads continues it
                await self._continue(thread_id, text, event["user"], channel, event["thread_ts"], event["ts"])
                return
        keys = [f"slack-event:{body['event_id']}"] if body.get("event_id") else []
        if not text or text.lower() == "help" or len(text) > self.config.max_text_chars:
            if not keys or await self.service.call(self.service._store().claim_key, keys[0]):
                reply = blocks.HELP if len(text) <= self.config.max_text_chars else (
                    f"That is {len(text):,} characters; I take up to {self.config.max_text_chars:,}.")
                self._background(self._reply(channel, ts, reply), "slack-help")
            return
        words, env, emergency, problem = parse_request_words(text, self._default_env(channel))
        if problem:
            if not keys or await self.service.call(self.service._store().claim_key, keys[0]):
                self._background(self._reply(channel, ts, problem), "slack-env-problem")
            return
        thread_id = new_thread_id("slack")
        place = SlackPlace(thread_id=thread_id, channel=channel, thread_ts=ts, environment=env)
        request = Request(text=words, environment=env, environment_explicit=words != text or channel in self.config.channels,  # type: ignore[arg-type]
                          user=self._user_ref(event["user"]), door="slack", emergency=emergency, at=self.service.request_time())
        started = await self.service.start(request, thread_id, keys=keys, slack=place,
                                           reply_to=SlackOrigin(channel=channel, user=event["user"], thread_ts=ts))
        if not started:
            log.info("ignoring a repeated delivery of %s", body.get("event_id"))

    # ---------------------------------------------------------- decisions

    async def _on_approve(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self._background(self._on_button(body, approved=True), "slack-approve")

    async def _on_reject(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self._background(self._on_button(body, approved=False), "slack-reject")

    def _where(self, body: dict[str, Any]) -> tuple[str, str | None]:
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
        message = body.get("message") or {}
        return channel, message.get("thread_ts") or (body.get("container") or {}).get("thread_ts")

    async def _on_button(self, body: dict[str, Any], approved: bool) -> None:
        user = body["user"]["id"]
        channel, thread_ts = self._where(body)
        try:
            value = json.loads(body["actions"][0]["value"])
            thread_id, request_id = value["t"], value["r"]
        except (KeyError, IndexError, TypeError, ValueError):
            await self._ephemeral(channel, user, thread_ts, "this button is not one of mine")
            return
        thread_ts = thread_ts or await self._thread_ts(thread_id)
        role = await self._role_for(thread_id, request_id, user, channel, thread_ts, approved)
        if role is None:
            return
        decision = self._decision(thread_id, user, role, approved, reason="" if approved else "rejected in Slack")
        try:
            await self.service.decide(thread_id, decision, reply_to=SlackOrigin(channel=channel, user=user, thread_ts=thread_ts))
        except ConfirmationNeeded:
            pending = await self.service.pending(thread_id)
            assert pending is not None
            meta = {"t": thread_id, "r": request_id, "c": channel, "ts": thread_ts, "role": role}
            await self.client.views_open(trigger_id=body["trigger_id"], view=blocks.confirm_modal(approval_view(thread_id, pending), meta))
        except CloudDoctorError as exc:
            await self._ephemeral(channel, user, thread_ts, f"not recorded: {blocks.safe(str(exc))}")

    async def _role_for(self, thread_id: str, request_id: str | None, user: str, channel: str, thread_ts: str | None,
                        approved: bool) -> str | None:
        """The role this user decides as, or None after telling them (privately) why not."""
        member = self.config.users.get(user)
        if member is None or not member.roles:
            await self._ephemeral(channel, user, thread_ts, f"<@{user}> has no roles in config/slack.yaml (users:), so this "
                                  "decision was not recorded. Ask an admin to map your Slack user id to your roles.")
            return None
        try:
            info = await self.service.thread(thread_id)
        except CloudDoctorError as exc:
            await self._ephemeral(channel, user, thread_ts, blocks.safe(str(exc)))
            return None
        pending = info.pending if info.status == "awaiting_approval" else None
        if pending is None or (request_id is not None and pending.id != request_id):
            await self._ephemeral(channel, user, thread_ts, f"this approval is no longer open (run status: {info.status.replace('_', ' ')})")
            return None
        role = pick_role(member.roles, pending) if approved else member.roles[0]
        if role is None:
            await self._ephemeral(channel, user, thread_ts, f"your roles ({', '.join(member.roles)}) cannot approve this: still "
                                  f"needed {approval_view(thread_id, pending).still_needed}")
        return role

    async def _thread_ts(self, thread_id: str) -> str | None:
        place = await self.service.call(self.service._store().slack_place, thread_id)
        return place.thread_ts if place else None

    def _decision(self, thread_id: str, user: str, role: str, approved: bool, *, reason: str = "",
                  confirmation: str | None = None) -> ApprovalDecision:
        return ApprovalDecision(request_id="pending", user=self._user_ref(user), role=role, approved=approved, reason=reason,
                                confirmation=confirmation)

    async def _on_confirm(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        values = (view.get("state") or {}).get("values") or {}
        typed = (((values.get("confirm") or {}).get("value") or {}).get("value") or "").strip()
        reason = ((values.get("reason") or {}).get("value") or {}).get("value") or ""
        if "t" not in meta:
            await ack(response_action="errors", errors={"confirm": "this form is not one of mine"})
            return
        pending = await self.service.pending(meta["t"])
        if pending is None or pending.id != meta.get("r"):
            await ack(response_action="errors", errors={"confirm": "this approval is no longer open"})
            return
        if typed != (pending.confirmation or ""):
            await ack(response_action="errors", errors={"confirm": f"type {pending.confirmation} exactly to confirm"})
            return
        user = body["user"]["id"]
        decision = self._decision(meta["t"], user, meta["role"], True, reason=reason, confirmation=typed)
        try:
            await self.service.decide(meta["t"], decision, reply_to=SlackOrigin(channel=meta["c"], user=user, thread_ts=meta.get("ts")))
        except CloudDoctorError as exc:
            await ack(response_action="errors", errors={"confirm": str(exc).splitlines()[0][:150]})
            return
        await ack()

    async def _on_text_decision(self, word: str, args: list[str], user: str, channel: str) -> None:
        """`/doctor approve <run> [confirm <env>]`, `/doctor reject <run> [reason]`, `/doctor status <run>`."""
        if not args:
            await self._ephemeral(channel, user, None, f"usage: {self.config.command} {word} <run id>")
            return
        thread_id, rest = args[0], args[1:]
        if word == "status":
            try:
                info = await self.service.thread(thread_id)
                await self._ephemeral(channel, user, None, blocks.safe(f"{thread_id} ({info.environment}): {info.status} — {info.headline}"
                                                                        + (f" (waiting for {info.waiting_for})" if info.waiting_for else "")))
            except CloudDoctorError as exc:
                await self._ephemeral(channel, user, None, blocks.safe(str(exc)))
            return
        approved = word == "approve"
        role = await self._role_for(thread_id, None, user, channel, await self._thread_ts(thread_id), approved)
        if role is None:
            return
        confirmation = rest[1] if approved and len(rest) >= 2 and rest[0].lower() == "confirm" else None
        reason = "" if approved else " ".join(rest) or "rejected in Slack"
        decision = self._decision(thread_id, user, role, approved, reason=reason, confirmation=confirmation)
        try:
            await self.service.decide(thread_id, decision, reply_to=SlackOrigin(channel=channel, user=user))
        except ConfirmationNeeded as exc:
            await self._ephemeral(channel, user, None, f"this destroys {exc.expected}: approve with "
                                  f"`{self.config.command} approve {thread_id} confirm {exc.expected}`, or use the button")
        except CloudDoctorError as exc:
            await self._ephemeral(channel, user, None, f"not recorded: {blocks.safe(str(exc))}")

    async def _on_emergency(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self._background(self._emergency(body), "slack-emergency")

    async def _emergency(self, body: dict[str, Any]) -> None:
        """Ask a blocked request again as an emergency, in the same Slack thread, as the person who clicked."""
        user = body["user"]["id"]
        channel, thread_ts = self._where(body)
        try:
            thread_id = json.loads(body["actions"][0]["value"])["t"]
            info = await self.service.thread(thread_id)
        except (KeyError, IndexError, TypeError, ValueError, CloudDoctorError):
            await self._ephemeral(channel, user, thread_ts, "this run is gone; ask again with `/doctor emergency …`")
            return
        place = await self.service.call(self.service._store().slack_place, thread_id)
        if info.request is None or place is None:
            await self._ephemeral(channel, user, thread_ts, "I do not have this request any more; ask again with `/doctor emergency …`")
            return
        request = info.request.model_copy(update={"emergency": True, "user": self._user_ref(user), "at": self.service.request_time()})
        new_id = new_thread_id("slack")
        again = SlackPlace(thread_id=new_id, channel=place.channel, thread_ts=place.thread_ts, environment=place.environment)
        await self.service.start(request, new_id, keys=[f"slack-trigger:{body.get('trigger_id')}"] if body.get("trigger_id") else [],
                                 slack=again, reply_to=SlackOrigin(channel=place.channel, user=user, thread_ts=place.thread_ts))

    # -------------------------------------------------------------- output

    async def _reply(self, channel: str, thread_ts: str, text: str) -> None:
        try:
            await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=redact(text))
        except SlackApiError as exc:
            log.warning("could not reply in %s: %s", channel, exc.response.get("error"))

    async def _ephemeral(self, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=redact(text), **extra)
        except SlackApiError as exc:
            log.warning("could not answer %s privately: %s", user, exc.response.get("error"))


def mount_slack(app: Any, service: RunService, setup: SlackSetup | bool, report: DoorReport) -> SlackDoor:
    """Serve the Slack door at POST /slack/events (and over Socket Mode when an app token is set)."""
    if setup is True:
        found = slack_setup_from_env(service.settings, report)
        if found is None:
            raise ConfigError("the Slack door needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET or SLACK_APP_TOKEN")
        setup = found
    assert isinstance(setup, SlackSetup)
    door = SlackDoor(setup, service)
    modes = [m for m, on in (("HTTP at POST /slack/events", setup.signing_secret), ("Socket Mode", setup.app_token)) if on]
    api = os.environ.get("SLACK_API_URL")
    report.on("slack", " and ".join(modes) + f", {setup.config.command}, config {os.environ.get('CLOUD_DOCTOR_SLACK_CONFIG') or 'config/slack.yaml'}"
              + (f", Web API at {api}" if api else ""))

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: HttpRequest) -> Any:
        if not setup.signing_secret:
            return JSONResponse({"error": "this server takes Slack over Socket Mode only (no SLACK_SIGNING_SECRET)"}, status_code=404)
        body = (await request.body()).decode("utf-8", errors="replace")
        problem = check_slack_body(setup.signing_secret, dict(request.headers), body)
        if problem is not None:
            status, message = problem
            return JSONResponse({"error": message}, status_code=status)
        return await door.handler.handle(request)

    app.state.slack = door
    return door
