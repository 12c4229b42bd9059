"""What a run says while a worker runs it: events in the shared log, status in the registry.

Every door reads the same log: the widget's SSE stream, the Slack outbox,
`GET /api/runs/{id}`. Text that came from a run passes through `redact`
before it is written, so no reader has to remember to.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from graphs.state import ApprovalDecision, Request
from interfaces.queue.models import RunEvent
from interfaces.queue.store import DoorStore
from tools.redact import redact, redact_value

log = logging.getLogger(__name__)
ECHO_CHARS = 200  # how much of the request the "started" line repeats


def progress_line(event: str, fields: dict[str, Any]) -> str:
    """One audit record as a person reads it in the progress list."""
    if event == "command":
        if fields.get("status") == "started":  # the audit's before-run record; the outcome line follows
            return ""
        where = f"{fields.get('host')}: " if fields.get("host") else ""
        return f"{where}`{fields.get('command')}` — {fields.get('status', fields.get('verdict', ''))}"
    if event == "terraform":
        return f"`{fields.get('command')}`" + (f" — {fields['status']}" if fields.get("status") else "")
    if event == "log_read":
        return f"read logs {fields.get('source', '')}" + (f" on {fields['host']}" if fields.get("host") else "")
    if event == "approval_requested":
        return f"approval {fields.get('status', 'requested')}: {fields.get('rules', '')}"
    if event == "approval_decision":
        verb = "approved" if fields.get("approved") else "rejected"
        return f"{fields.get('name', fields.get('user'))} ({fields.get('role')}) {verb}"
    if event == "approval_refused":
        return f"decision refused: {fields.get('reason', '')}"
    return event.replace("_", " ")


def ask_text(request: Request) -> str:
    text = request.alert.name + (f" — {request.text}" if request.text else "") if request.alert is not None else request.text or ""
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…"


class RunPublisher:
    def __init__(self, store: DoorStore, thread_id: str):
        self.store = store
        self.thread_id = thread_id
        self.listeners: list[Callable[[], None]] = []  # told (from any thread) after each event

    def emit(self, type_: str, data: dict[str, Any]) -> RunEvent:
        event = self.store.append_event(self.thread_id, type_, redact_value(data))  # every reader gets it masked
        for listener in self.listeners:
            listener()
        return event

    def progress(self, text: str) -> None:
        self.emit("progress", {"text": redact(text)})

    def progress_from_audit(self, event: str, fields: dict[str, Any]) -> None:
        line = progress_line(event, fields)
        if line:
            self.progress(line)

    def note(self, text: str) -> None:
        """Something that happened to the run from outside (an alert resolved, another alert of the group)."""
        self.emit("note", {"text": redact(text)})

    def started(self, request: Request) -> None:
        info = self.store.registry.get(self.thread_id)
        info.status, info.headline = "running", "working"
        self.store.registry.save(info)
        self.progress(f"started ({request.environment}): {ask_text(request)}")

    def replied(self, request: Request) -> None:
        """Someone's words in the thread (an answer, a follow-up): the run is working again."""
        info = self.store.registry.get(self.thread_id)
        if info.status not in ("awaiting_approval", "waiting"):  # a follow-up beside a waiting approval leaves it waiting
            info.status, info.headline = "running", "working"
            self.store.registry.save(info)
        self.emit("reply", {"user": request.user.name, "text": redact(ask_text(request)), "door": request.door})
        self.progress(f"{request.user.name} replied ({request.door}): {ask_text(request)}")

    def decision(self, decision: ApprovalDecision, request_id: str | None, still_needed: str) -> None:
        self.emit("decision", {"user": decision.user.name, "role": decision.role, "approved": decision.approved,
                               "reason": redact(decision.reason), "request_id": request_id, "still_needed": still_needed})

    def outcome(self, outcome: Any, previous_request: str | None, waiting: str | None = None) -> None:
        """Report, approval and end events; after a decision the report is repeated only when something new happened.

        `waiting`: the thread still waits for an approval or a gate in an earlier turn (a follow-up was answered
        beside it), so readers keep that approval open."""
        from interfaces.web.events import approval_view

        pending = outcome.pending_approval
        new_request = pending is not None and pending.id != previous_request
        if previous_request is None or pending is None or new_request:
            report = outcome.report
            self.emit("report", {"status": outcome.status, "headline": redact(outcome.headline),
                                 "markdown": report.markdown if report else "",
                                 "question": redact(getattr(outcome, "question", None) or "") or None,
                                 "turn": getattr(outcome, "turn", 1)})
        if pending is not None:
            self.emit("approval", {**approval_view(outcome.thread_id, pending).model_dump(), "update": not new_request})
        else:
            self.emit("done", {"status": outcome.status, "headline": redact(outcome.headline),
                               "question": redact(getattr(outcome, "question", None) or "") or None, "waiting": waiting})

    def fail(self, message: str) -> None:
        message = redact(message)
        info = self.store.registry.find(self.thread_id)
        if info is not None:
            info.status, info.headline, info.pending = "failed", message, None
            self.store.registry.save(info)
        self.emit("error", {"message": message})
        self.emit("done", {"status": "failed", "headline": message})
