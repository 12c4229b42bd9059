"""The Slack outbox: the worker that runs a thread posts its events into the thread's Slack conversation.

Posting happens where the run happens, so a replica never posts a run it does
not hold, and two replicas never post one run twice. What was delivered is
kept in the shared database (`SlackPlace`): a worker that takes a run over
continues from the last delivered event. Before posting an event it marks it
`delivering` and posts it with message metadata naming the event; a worker
that finds a `delivering` mark first looks for that metadata in the thread
(conversations.replies), so a post cut short by a crash is neither lost nor
doubled.

Slack rate-limits `chat.update` per channel: progress goes into one message,
edited at most once every `slack_progress_interval_s`; 429s are retried after
Retry-After (slack_sdk's RateLimitErrorRetryHandler), connection errors a few
times. Every post names the run's environment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from config.settings import Settings
from interfaces import slack_blocks as blocks
from interfaces.queue.models import Job, JobOutcome, RunEvent, SlackPlace
from interfaces.queue.store import DoorStore
from interfaces.web.events import ApprovalView
from tools.redact import redact, redact_value

log = logging.getLogger(__name__)
METADATA_TYPE = "cloud_doctor_event"
NOT_THERE = ("not_in_channel", "channel_not_found", "is_archived")


def slack_retry_handlers() -> list[Any]:
    return [AsyncConnectionErrorRetryHandler(max_retry_count=2), AsyncRateLimitErrorRetryHandler(max_retry_count=5)]


def make_web_client(token: str, base_url: str | None = None) -> AsyncWebClient:
    """A Web API client that waits out 429s (Retry-After) and retries dropped connections; SLACK_API_URL for proxies."""
    base = base_url or os.environ.get("SLACK_API_URL") or AsyncWebClient.BASE_URL
    return AsyncWebClient(token=token, base_url=base if base.endswith("/") else base + "/", retry_handlers=slack_retry_handlers())


class SlackOutbox:
    def __init__(self, store: DoorStore, client: AsyncWebClient, place: SlackPlace, interval_s: float):
        self.store, self.client, self.place, self.interval_s = store, client, place, interval_s
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[Any] | None = None
        self._dirty = False
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        """A new event was written (called from any thread)."""
        self._loop.call_soon_threadsafe(self._wake.set)

    # -------------------------------------------------------------- job

    async def open(self, job: Job) -> bool:
        """Make sure the thread exists in Slack, then deliver in the background; False when Slack will not take it."""
        if self.place.delivering is not None:
            await self._recover()
        if job.kind == "reply" and self.place.closed:  # a new turn of the thread: a progress message of its own
            self.place.progress_ts, self.place.progress_lines, self.place.progress_count = None, [], 0
            self.place.closed = False
            await self._save()
        if self.place.thread_ts is None:
            try:
                response = await self.client.chat_postMessage(channel=self.place.channel, text=redact(self.place.root_text),
                                                              metadata=self._metadata(0))
            except SlackApiError as exc:
                error = exc.response.get("error")
                hint = ("invite the app with /invite, then ask again" if error in NOT_THERE else "ask again in a while")
                await self._tell_asker(job, f"I cannot post in this channel ({error}): {hint}.")
                log.warning("cannot post the root message of %s in %s: %s", self.place.thread_id, self.place.channel, error)
                return False
            self.place.thread_ts = response["ts"]
            await self._save()
        self._task = asyncio.create_task(self._run(), name=f"slack-{self.place.thread_id}")
        return True

    async def flush(self, job: Job, outcome: JobOutcome) -> None:
        """Everything the job wrote is posted before the job counts as done."""
        if self._task is not None:
            async with self._lock:  # never cancel a post half-way: it would be posted again below
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self._deliver(final=True)
        except SlackApiError as exc:
            log.warning("posting the end of %s to Slack failed: %s", self.place.thread_id, exc.response.get("error"))
        if outcome.status == "refused" and job.reply_to is not None:
            await self._tell_asker(job, f"not recorded: {outcome.message}")

    async def _run(self) -> None:
        while True:
            timeout = None
            if self._dirty:
                timeout = max(0.0, self.place_edit_due() - time.time())
            try:
                async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancellation
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._deliver(final=False)
            except SlackApiError as exc:
                log.warning("posting %s to Slack failed: %s", self.place.thread_id, exc.response.get("error"))

    def place_edit_due(self) -> float:
        return self.place.progress_edited_at + self.interval_s

    def _mark_edited(self) -> None:
        self.place.progress_edited_at = time.time()

    # --------------------------------------------------------- delivery

    async def _deliver(self, final: bool) -> None:
        async with self._lock:
            events = await asyncio.to_thread(self.store.events_after, self.place.thread_id, self.place.delivered)
            for event in events:
                if event.type == "progress":
                    self.place.progress_lines = [*self.place.progress_lines, event.data.get("text", "")][-blocks.PROGRESS_KEEP:]
                    self.place.progress_count += 1
                    self.place.delivered = event.id
                    self._dirty = True
                    continue
                if self._dirty:
                    await self._edit_progress(force=self.place.progress_ts is None)
                await self._post_event(event)
            if self._dirty:
                await self._edit_progress(force=final or self.place.progress_ts is None)
            await self._save()

    async def _edit_progress(self, force: bool, finished: str | None = None) -> None:
        if not force and time.time() < self.place_edit_due():
            return
        message = blocks.progress_message(self.place.progress_lines, self.place.environment, finished=finished,
                                          total=self.place.progress_count)
        if self.place.progress_ts is None:
            response = await self._post(message, None)
            self.place.progress_ts = response.get("ts") if response else None
        else:
            await self._update(self.place.progress_ts, message)
        self._mark_edited()
        self._dirty = False

    async def _post_event(self, event: RunEvent) -> None:
        data, env = event.data, self.place.environment
        self.place.delivering = event.id
        await self._save()
        if event.type == "report":
            offer = await self._offers_emergency(data.get("status", ""))
            for index, message in enumerate(blocks.report_messages(data.get("status", ""), data.get("headline", ""),
                                                                   data.get("markdown", ""), env)):
                if offer and index == 0:
                    message = blocks.with_emergency_button(message, self.place.thread_id)
                await self._post(message, event.id if index == 0 else None)
        elif event.type == "approval":
            view = ApprovalView.model_validate({k: v for k, v in data.items() if k != "update"})
            self.place.approval_views[view.request_id] = view.model_dump()
            old_ts = self.place.approvals.get(view.request_id)
            if old_ts:
                await self._update(old_ts, blocks.approval_message(view))
            else:
                response = await self._post(blocks.approval_message(view), event.id)
                self.place.approvals[view.request_id] = (response or {}).get("ts", "")
            if self.place.progress_ts:
                await self._finish_progress("awaiting_approval")
        elif event.type == "decision":
            await self._post({"text": blocks.decision_text(data, env)}, event.id)
        elif event.type == "error":
            await self._post({"text": blocks.tagged(env, f"⚠️ {blocks.safe(data.get('message'))}")}, event.id)
        elif event.type == "note":
            await self._post({"text": blocks.tagged(env, blocks.safe(data.get("text")))}, event.id)
        elif event.type == "reply":
            pass  # the person's own words are already in the thread
        elif event.type == "done" and data.get("waiting"):  # a follow-up answered beside a waiting approval
            await self._finish_progress(data.get("status", "completed"))
        elif event.type == "done":
            await self._close(data.get("status", "completed"))
        self.place.delivered = event.id
        self.place.delivering = None

    async def _finish_progress(self, status: str) -> None:
        if self.place.progress_ts:
            message = blocks.progress_message(self.place.progress_lines, self.place.environment, finished=status,
                                              total=self.place.progress_count)
            await self._update(self.place.progress_ts, message)
            self._mark_edited()
            self._dirty = False

    async def _close(self, status: str) -> None:
        await self._finish_progress(status)
        for request_id, ts in self.place.approvals.items():
            view = self.place.approval_views.get(request_id)
            if ts and view:
                await self._update(ts, blocks.approval_message(ApprovalView.model_validate(view), closed=status))
        self.place.closed = True

    async def _offers_emergency(self, status: str) -> bool:
        if status != "blocked":
            return False
        from tools.policy import default_policy

        info = await asyncio.to_thread(self.store.registry.find, self.place.thread_id)
        return bool(info and info.request and not info.request.emergency and default_policy().emergency_override)

    # ------------------------------------------------------------ helpers

    def _metadata(self, event_id: int) -> dict[str, Any]:
        return {"event_type": METADATA_TYPE, "event_payload": {"thread_id": self.place.thread_id, "event_id": event_id}}

    async def _post(self, message: dict[str, Any], event_id: int | None) -> Any:
        message = redact_value({**message, "text": message.get("text") or ""})
        if event_id is not None:
            message["metadata"] = self._metadata(event_id)
        return await self.client.chat_postMessage(channel=self.place.channel, thread_ts=self.place.thread_ts, **message)

    async def _update(self, ts: str, message: dict[str, Any]) -> None:
        await self.client.chat_update(channel=self.place.channel, ts=ts, **redact_value(message))

    async def _recover(self) -> None:
        """A worker stopped while posting event N: if Slack has it (our metadata), it counts as delivered."""
        event_id = self.place.delivering
        if self.place.thread_ts is not None and event_id is not None:
            try:
                replies = await self.client.conversations_replies(channel=self.place.channel, ts=self.place.thread_ts,
                                                                  include_all_metadata=True, limit=200)
                for message in replies.get("messages") or []:
                    payload = ((message.get("metadata") or {}).get("event_payload") or {})
                    if payload.get("thread_id") == self.place.thread_id and payload.get("event_id") == event_id:
                        self.place.delivered = max(self.place.delivered, event_id)
                        log.info("event %s of %s was already in Slack; not posting it again", event_id, self.place.thread_id)
                        break
            except SlackApiError as exc:
                log.warning("could not check the Slack thread of %s: %s", self.place.thread_id, exc.response.get("error"))
        self.place.delivering = None

    async def _tell_asker(self, job: Job, text: str) -> None:
        origin = job.reply_to
        if origin is None:
            return
        try:
            if origin.response_url:
                await AsyncWebhookClient(origin.response_url, retry_handlers=slack_retry_handlers()).send(
                    text=redact(text), response_type="ephemeral")
            else:
                extra = {"thread_ts": origin.thread_ts or self.place.thread_ts} if (origin.thread_ts or self.place.thread_ts) else {}
                await self.client.chat_postEphemeral(channel=origin.channel, user=origin.user, text=redact(text), **extra)
        except SlackApiError as exc:
            log.warning("could not answer %s privately: %s", origin.user, exc.response.get("error"))

    async def _save(self) -> None:
        await asyncio.to_thread(self.store.save_slack_place, self.place)


def outbox_factory_from_env(settings: Settings) -> Any:
    """The worker's Slack outbox maker: None when SLACK_BOT_TOKEN is not set (runs still run; Slack hears nothing)."""
    token = os.environ.get("SLACK_BOT_TOKEN")
    if not token:
        return None
    client: AsyncWebClient | None = None

    async def make(store: DoorStore, thread_id: str) -> SlackOutbox | None:
        nonlocal client
        place = await asyncio.to_thread(store.slack_place, thread_id)
        if place is None:
            return None
        if client is None:
            client = make_web_client(token)
        return SlackOutbox(store, client, place, settings.slack_progress_interval_s)

    return make
