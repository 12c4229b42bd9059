"""The Slack door: `/doctor` and mentions start runs; buttons approve them; everything lands in the thread.

Slack wants an answer within 3 s, so the door acknowledges first and runs the
graph in the background (interfaces.web.runs.RunService, shared with the web
door). The run's thread id is Slack's thread: `slack-<channel>-<ts>`. Who may
approve as which role comes from config/slack.yaml (Slack user id -> roles);
the policy decides whether that is enough. Retried event deliveries are
recognised by their event_id and processed once.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request as HttpRequest
from pydantic import BaseModel, ConfigDict, Field
from slack_bolt import BoltResponse
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from config.settings import Settings
from graphs.errors import CloudDoctorError, ConfigError
from graphs.state import ENVIRONMENTS, ApprovalDecision, Environment, Request, UserRef
from interfaces import slack_blocks as blocks
from interfaces.web.config import load_yaml_config
from interfaces.web.events import ApprovalView, RunEvent, approval_view, pick_role
from interfaces.web.runs import RunService
from tools.redact import redact, redact_value

log = logging.getLogger(__name__)
SEEN_EVENTS = 5000


class SlackUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    roles: list[str] = Field(default_factory=list)


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str = "/doctor"
    users: dict[str, SlackUser] = Field(default_factory=dict)  # Slack user id -> name and roles
    channels: dict[str, Environment] = Field(default_factory=dict)  # channel id -> default environment
    default_environment: Environment = "dev"


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
    signing_secret: str
    client: AsyncWebClient

    @classmethod
    def from_env(cls, settings: Settings) -> "SlackSetup":
        token, secret = os.environ.get("SLACK_BOT_TOKEN"), os.environ.get("SLACK_SIGNING_SECRET")
        if not token or not secret:
            raise ConfigError("set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to serve the Slack door")
        return cls(load_slack_config(settings), secret, AsyncWebClient(token=token))


def thread_id_for(channel: str, ts: str) -> str:
    return f"slack-{channel}-{ts}"


def parse_thread_id(thread_id: str) -> tuple[str, str] | None:
    """(channel, thread ts) of a Slack run; None for other doors' runs."""
    match = re.fullmatch(r"slack-([A-Z0-9]+)-(\d+\.\d+)", thread_id)
    return (match.group(1), match.group(2)) if match else None


def split_environment(text: str, default: str) -> tuple[str, str]:
    """`web2 is slow prod` -> ("web2 is slow", "prod"): a trailing environment name picks the environment."""
    words = text.split()
    if words and words[-1].lower() in ENVIRONMENTS:
        return " ".join(words[:-1]), words[-1].lower()
    return text.strip(), default


class SlackDoor:
    def __init__(self, setup: SlackSetup, service: RunService):
        self.config = setup.config
        self.service = service
        self.client = setup.client
        self.app = AsyncApp(client=setup.client, signing_secret=setup.signing_secret, name="cloud-doctor")
        self.handler = AsyncSlackRequestHandler(self.app)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._progress: dict[str, tuple[str | None, list[str]]] = {}
        self._approvals: dict[str, dict[str, tuple[str, ApprovalView]]] = {}
        self.app.middleware(self._dedupe)
        self.app.command(self.config.command)(self._on_command)
        self.app.event("app_mention")(self._on_mention)
        self.app.action(blocks.APPROVE)(self._on_approve)
        self.app.action(blocks.REJECT)(self._on_reject)
        self.app.view(blocks.CONFIRM_VIEW)(self._on_confirm)
        service.subscribe(self.on_event)

    # ------------------------------------------------------------ intake

    async def _dedupe(self, body: dict[str, Any], next: Any) -> BoltResponse | None:
        """Slack re-delivers an event it thinks we missed (X-Slack-Retry-Num); run each event_id once."""
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if event_id:
            if event_id in self._seen:
                log.info("ignoring a repeated delivery of %s", event_id)
                return BoltResponse(status=200, body="")
            self._seen[event_id] = None
            while len(self._seen) > SEEN_EVENTS:
                self._seen.popitem(last=False)
        await next()
        return None

    def _member(self, user_id: str) -> SlackUser | None:
        return self.config.users.get(user_id)

    def _user_ref(self, user_id: str, fallback_name: str | None = None) -> UserRef:
        member = self._member(user_id)
        name = (member.name if member and member.name else None) or fallback_name or user_id
        return UserRef(id=user_id, name=name, roles=list(member.roles) if member else [])

    async def _on_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        text = (body.get("text") or "").strip()
        word = text.split()[0].lower() if text else "help"
        if word == "help":
            await ack(blocks.HELP)
            return
        user, channel = body["user_id"], body["channel_id"]
        if word in ("approve", "reject", "status"):
            await ack()
            await self._on_text_decision(word, text.split()[1:], user, channel)
            return
        await ack(f"On it: follow the thread in <#{channel}>.")
        words, env = split_environment(text, self.config.channels.get(channel, self.config.default_environment))
        try:
            root = await self.client.chat_postMessage(channel=channel, text=f"🩺 <@{user}> asked ({env}): {blocks.safe(words)}")
        except SlackApiError as exc:
            await respond(f"I cannot post in this channel ({exc.response.get('error')}): invite the app with /invite, then ask again.")
            return
        await self._start(words, env, user, body.get("user_name"), channel, root["ts"],
                          explicit=words != text or channel in self.config.channels)

    async def _on_mention(self, event: dict[str, Any]) -> None:
        text = re.sub(r"<@[A-Z0-9]+>", "", event.get("text") or "").strip()
        channel, ts = event["channel"], event.get("thread_ts") or event["ts"]
        if not text or text.lower() == "help":
            await self._post(channel, ts, text=blocks.HELP)
            return
        words, env = split_environment(text, self.config.channels.get(channel, self.config.default_environment))
        await self._start(words, env, event["user"], None, channel, ts, explicit=words != text or channel in self.config.channels)

    async def _start(self, text: str, env: str, user: str, user_name: str | None, channel: str, ts: str,
                     *, explicit: bool) -> None:
        thread_id = thread_id_for(channel, ts)
        request = Request(text=text, environment=env, environment_explicit=explicit, user=self._user_ref(user, user_name),
                          door="slack", at=self.service.request_time())
        try:
            self.service.start(request, thread_id)
        except CloudDoctorError as exc:
            await self._post(channel, ts, text=f"⚠️ {blocks.safe(str(exc))}")

    # ---------------------------------------------------------- decisions

    async def _on_approve(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await self._on_button(body, approved=True)

    async def _on_reject(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await self._on_button(body, approved=False)

    async def _on_button(self, body: dict[str, Any], approved: bool) -> None:
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
        value = json.loads(body["actions"][0]["value"])
        thread_id, request_id = value["t"], value["r"]
        role = await self._role_for(thread_id, request_id, user, channel, approved)
        if role is None:
            return
        pending = await self.service.pending(thread_id)
        if approved and pending is not None and pending.confirmation:
            meta = {"t": thread_id, "r": request_id, "c": channel, "role": role}
            await self.client.views_open(trigger_id=body["trigger_id"], view=blocks.confirm_modal(approval_view(thread_id, pending), meta))
            return
        await self._decide(thread_id, user, role, approved, channel, reason="" if approved else "rejected in Slack")

    async def _role_for(self, thread_id: str, request_id: str | None, user: str, channel: str, approved: bool) -> str | None:
        """The role this user decides as, or None after telling them (privately) why not."""
        where = parse_thread_id(thread_id)
        thread_ts = where[1] if where else None
        member = self._member(user)
        if member is None or not member.roles:
            await self._ephemeral(channel, user, thread_ts, f"<@{user}> has no roles in config/slack.yaml (users:), so this decision "
                                  "was not recorded. Ask an admin to map your Slack user id to your roles.")
            return None
        try:
            pending = await self.service.pending(thread_id)
        except CloudDoctorError as exc:
            await self._ephemeral(channel, user, thread_ts, blocks.safe(str(exc)))
            return None
        if pending is None or (request_id is not None and pending.id != request_id):
            status = self.service.thread(thread_id).status
            await self._ephemeral(channel, user, thread_ts, f"this approval is no longer open (run status: {status.replace('_', ' ')})")
            return None
        role = pick_role(member.roles, pending) if approved else member.roles[0]
        if role is None:
            await self._ephemeral(channel, user, thread_ts, f"your roles ({', '.join(member.roles)}) cannot approve this: still needed "
                                  f"{approval_view(thread_id, pending).still_needed}")
        return role

    async def _on_confirm(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        values = view["state"]["values"]
        typed = ((values.get("confirm") or {}).get("value") or {}).get("value") or ""
        reason = ((values.get("reason") or {}).get("value") or {}).get("value") or ""
        pending = await self.service.pending(meta["t"])
        if pending is None or pending.id != meta["r"]:
            await ack(response_action="errors", errors={"confirm": "this approval is no longer open"})
            return
        if typed.strip() != (pending.confirmation or ""):
            await ack(response_action="errors", errors={"confirm": f"type {pending.confirmation} exactly to confirm"})
            return
        await ack()
        await self._decide(meta["t"], body["user"]["id"], meta["role"], True, meta["c"], reason=reason, confirmation=typed.strip())

    async def _on_text_decision(self, word: str, args: list[str], user: str, channel: str) -> None:
        """`/doctor approve <run> [confirm <env>]`, `/doctor reject <run> [reason]`, `/doctor status <run>`."""
        if not args:
            await self._ephemeral(channel, user, None, f"usage: {self.config.command} {word} <run id>")
            return
        thread_id, rest = args[0], args[1:]
        if word == "status":
            try:
                info = self.service.thread(thread_id)
                await self._ephemeral(channel, user, None, blocks.safe(f"{thread_id}: {info.status} — {info.headline}"
                                                                        + (f" (waiting for {info.waiting_for})" if info.waiting_for else "")))
            except CloudDoctorError as exc:
                await self._ephemeral(channel, user, None, blocks.safe(str(exc)))
            return
        approved = word == "approve"
        role = await self._role_for(thread_id, None, user, channel, approved)
        if role is None:
            return
        confirmation = rest[1] if approved and len(rest) >= 2 and rest[0].lower() == "confirm" else None
        reason = "" if approved else " ".join(rest) or "rejected in Slack"
        await self._decide(thread_id, user, role, approved, channel, reason=reason, confirmation=confirmation)

    async def _decide(self, thread_id: str, user: str, role: str, approved: bool, channel: str, *,
                      reason: str = "", confirmation: str | None = None) -> None:
        decision = ApprovalDecision(request_id="pending", user=self._user_ref(user), role=role, approved=approved,
                                    reason=reason, confirmation=confirmation)
        try:
            await self.service.decide(thread_id, decision)
        except CloudDoctorError as exc:
            where = parse_thread_id(thread_id)
            await self._ephemeral(channel, user, where[1] if where else None, f"not recorded: {blocks.safe(str(exc))}")

    # ------------------------------------------------------------ output

    async def on_event(self, event: RunEvent) -> None:
        """Post a run's events into its Slack thread (runs from other doors are not ours to post)."""
        where = parse_thread_id(event.thread_id)
        if where is None:
            return
        channel, ts = where
        data = event.data
        if event.type == "progress":
            msg_ts, lines = self._progress.get(event.thread_id, (None, []))
            lines.append(data.get("text", ""))
            msg_ts = await self._upsert(channel, ts, msg_ts, blocks.progress_message(lines))
            self._progress[event.thread_id] = (msg_ts, lines)
        elif event.type == "report":
            for message in blocks.report_messages(data.get("status", ""), data.get("headline", ""), data.get("markdown", "")):
                await self._post(channel, ts, **message)
        elif event.type == "approval":
            view = ApprovalView.model_validate({k: v for k, v in data.items() if k != "update"})
            known = self._approvals.setdefault(event.thread_id, {})
            old_ts = known[view.request_id][0] if view.request_id in known else None
            new_ts = await self._upsert(channel, ts, old_ts, blocks.approval_message(view))
            known[view.request_id] = (new_ts or "", view)
            msg_ts, lines = self._progress.get(event.thread_id, (None, []))
            if msg_ts:
                await self._upsert(channel, ts, msg_ts, blocks.progress_message(lines, finished="awaiting_approval"))
        elif event.type == "decision":
            verb = "✔️ approved" if data.get("approved") else "✖️ rejected"
            needed = f" — still needed: {data['still_needed']}" if data.get("still_needed") else ""
            await self._post(channel, ts, text=f"{verb} by {blocks.safe(data.get('user'))} ({blocks.safe(data.get('role'))}){blocks.safe(needed)}")
        elif event.type == "error":
            await self._post(channel, ts, text=f"⚠️ {blocks.safe(data.get('message'))}")
        elif event.type == "done":
            await self._close(event.thread_id, channel, ts, data.get("status", "completed"))

    async def _close(self, thread_id: str, channel: str, ts: str, status: str) -> None:
        msg_ts, lines = self._progress.pop(thread_id, (None, []))
        if msg_ts:
            await self._upsert(channel, ts, msg_ts, blocks.progress_message(lines, finished=status))
        for approval_ts, view in self._approvals.pop(thread_id, {}).values():
            if approval_ts:
                await self._upsert(channel, ts, approval_ts, blocks.approval_message(view, closed=status))

    async def _upsert(self, channel: str, thread_ts: str, msg_ts: str | None, message: dict[str, Any]) -> str | None:
        if msg_ts:
            await self.client.chat_update(channel=channel, ts=msg_ts, **redact_value(message))
            return msg_ts
        response = await self._post(channel, thread_ts, **message)
        return response.get("ts") if response else None

    async def _post(self, channel: str, thread_ts: str, **message: Any) -> Any:
        message["text"] = message.get("text") or ""
        return await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, **redact_value(message))

    async def _ephemeral(self, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        await self.client.chat_postEphemeral(channel=channel, user=user, text=redact(text), **extra)


def mount_slack(app: Any, service: RunService, setup: SlackSetup | None = None) -> SlackDoor:
    """Serve the Slack door at POST /slack/events of a FastAPI app, sharing its run service."""
    door = SlackDoor(setup or SlackSetup.from_env(service.settings), service)

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: HttpRequest) -> Any:
        return await door.handler.handle(request)

    app.state.slack = door
    return door
