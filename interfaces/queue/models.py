"""What crosses the queue: jobs for workers, events for doors, where a run answers in Slack.

A job names a thread and says what to do with it: `start` it with a request,
resume it with an input (`decide`: a person's decision; `reply`: a person's
words in the thread, which answer its question or follow up in it,
graphs/conversation.py). A thread's jobs run one at a time, in order, on
whichever worker claims them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graphs.state import ApprovalDecision, Request

JobKind = Literal["start", "decide", "note", "reply"]
EventType = Literal["progress", "report", "approval", "decision", "error", "note", "done", "reply"]


class SlackOrigin(BaseModel):
    """Who asked in Slack and where, so a worker can answer them privately (refusals, /invite hints)."""

    model_config = ConfigDict(extra="forbid")
    channel: str
    user: str
    thread_ts: str | None = None
    response_url: str | None = None


class RollbackAsk(BaseModel):
    """A start job whose run begins with a rollback proposal for this deployment (agents/delivery/desk.py)."""

    model_config = ConfigDict(extra="forbid")
    deployment_id: str
    reason: str


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thread_id: str
    kind: JobKind
    request: Request | None = None  # start; reply (the words, who sent them, from which door)
    decision: ApprovalDecision | None = None  # decide
    text: str | None = None  # note: something to add to the thread (an alert resolved)
    world: str = "live"
    scenario_path: str | None = None
    reply_to: SlackOrigin | None = None
    rollback: RollbackAsk | None = None  # start: a manual rollback of a deployment instead of the request's words


class Job(JobSpec):
    id: int
    attempts: int = 1
    worker: str = ""
    exhausted: bool = False  # claimed more often than job_max_attempts: reported failed, not run again


class JobOutcome(BaseModel):
    """What a finished job tells the door that queued it (a web decision waits for this)."""

    status: Literal["done", "refused", "failed"]
    run_status: str = ""
    message: str = ""


class RunEvent(BaseModel):
    id: int
    thread_id: str
    type: EventType
    data: dict[str, Any] = Field(default_factory=dict)


class SlackPlace(BaseModel):
    """Where a run posts in Slack and what has been delivered there (the worker's outbox state)."""

    thread_id: str
    channel: str
    thread_ts: str | None = None  # None until the root message is posted (slash commands, alerts)
    root_text: str = ""  # what the root message says, posted by the worker
    environment: str = "dev"
    delivered: int = 0  # the last event id posted to Slack
    delivering: int | None = None  # an event being posted when a worker stopped (checked before posting again)
    progress_ts: str | None = None
    progress_lines: list[str] = Field(default_factory=list)
    progress_count: int = 0
    progress_edited_at: float = 0.0  # epoch seconds of the last progress post or edit (edits are throttled per thread)
    approvals: dict[str, str] = Field(default_factory=dict)  # approval request id -> message ts
    approval_views: dict[str, dict[str, Any]] = Field(default_factory=dict)
    closed: bool = False
