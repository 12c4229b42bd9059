"""Run events for long-lived doors: what a run said, in order, replayable by id.

Slack and the widget both watch a run that works in the background; each run
keeps its events in memory so a client that connects late (or reconnects with
SSE's Last-Event-ID) sees everything from the start.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, AsyncIterator, Literal

from pydantic import BaseModel, Field

from graphs.state import ApprovalRequest
from tools.policy import describe_rules
from tools.redact import redact, redact_value

EventType = Literal["progress", "report", "approval", "decision", "error", "done"]
MAX_EVENTS_PER_RUN = 500
MAX_RUNS_KEPT = 200


class RunEvent(BaseModel):
    id: int
    thread_id: str
    type: EventType
    data: dict[str, Any] = Field(default_factory=dict)


class ApprovalView(BaseModel):
    """An approval request as a person reads it: what, why, risk, cost, rollback, who is still needed."""

    thread_id: str
    request_id: str
    action: str
    reason: str
    environment: str
    risk: str
    cost: str
    rollback: str
    still_needed: str
    roles: list[str] = Field(default_factory=list)  # roles that could still approve
    why: list[str] = Field(default_factory=list)
    confirmation: str | None = None
    blocked: list[str] = Field(default_factory=list)
    unblock_hint: str = ""
    requested_by: str = ""
    expires_at: str | None = None


def approval_view(thread_id: str, request: ApprovalRequest) -> ApprovalView:
    """Everything shown to an approver passes through redact: proposals quote logs and commands."""
    if request.cost_delta_monthly is None:
        cost = "no cost estimate (not an infrastructure change)"
    else:
        cost = f"{request.cost_delta_monthly:+,.2f} USD per month"
    return ApprovalView(
        thread_id=thread_id, request_id=request.id, action=redact(request.action), reason=redact(request.reason),
        environment=request.environment, risk=request.risk, cost=cost, rollback=redact(request.rollback or "none given"),
        still_needed=describe_rules(request.still_needed),
        roles=sorted({role for rule in request.still_needed for role in rule.roles}), why=[redact(r.why) for r in request.still_needed if r.why],
        confirmation=request.confirmation, blocked=[redact(b) for b in request.blocked], unblock_hint=redact(request.unblock_hint),
        requested_by=request.requested_by.name, expires_at=request.expires_at.isoformat() if request.expires_at else None,
    )


def pick_role(user_roles: list[str], request: ApprovalRequest) -> str | None:
    """The user's role that helps most: the one counted by the most rules still needed."""
    best, best_hits = None, 0
    for role in user_roles:
        hits = sum(1 for rule in request.still_needed if role in rule.roles)
        if hits > best_hits:
            best, best_hits = role, hits
    return best


class EventLog:
    """One run's events; followers get the past, then new events as they happen."""

    def __init__(self, thread_id: str):
        self.thread_id = thread_id
        self.events: list[RunEvent] = []
        self.closed = False
        self._next_id = 1
        self._followers: set[asyncio.Queue[RunEvent | None]] = set()

    def add(self, type_: EventType, data: dict[str, Any]) -> RunEvent:
        event = RunEvent(id=self._next_id, thread_id=self.thread_id, type=type_, data=redact_value(data))
        self._next_id += 1
        self.events.append(event)
        del self.events[:-MAX_EVENTS_PER_RUN]
        for queue in self._followers:
            queue.put_nowait(event)
        return event

    def close(self) -> None:
        """The run reached an end state: followers stop after the last event."""
        self.closed = True
        for queue in self._followers:
            queue.put_nowait(None)

    async def follow(self, after: int = 0) -> AsyncIterator[RunEvent]:
        queue: asyncio.Queue[RunEvent | None] = asyncio.Queue()
        past = [e for e in self.events if e.id > after]
        closed = self.closed
        self._followers.add(queue)
        try:
            last = after
            for event in past:
                last = event.id
                yield event
            if closed:
                return
            while True:
                item = await queue.get()
                if item is None:
                    return
                if item.id > last:
                    last = item.id
                    yield item
        finally:
            self._followers.discard(queue)


class EventStore:
    """The most recent runs' event logs (bounded: old runs are forgotten, their state stays in checkpoints)."""

    def __init__(self, limit: int = MAX_RUNS_KEPT):
        self.limit = limit
        self._logs: OrderedDict[str, EventLog] = OrderedDict()

    def get(self, thread_id: str) -> EventLog | None:
        return self._logs.get(thread_id)

    def open(self, thread_id: str) -> EventLog:
        log = self._logs.get(thread_id)
        if log is None:
            log = self._logs[thread_id] = EventLog(thread_id)
            while len(self._logs) > self.limit:
                self._logs.popitem(last=False)
        self._logs.move_to_end(thread_id)
        return log
