"""The typed state every door, agent and report shares.

One module holds every record that crosses a boundary (door -> graph,
agent -> agent, graph -> report) so the whole data model can be read in one
place. It imports nothing of ours: agents, tools and doors import it.
"""

from __future__ import annotations

import operator
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, model_validator

Environment = Literal["dev", "staging", "prod"]
ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
AgentName = Literal["planner", "diagnostician", "terraform_author", "code_healer", "deployer"]
AGENTS: tuple[str, ...] = ("planner", "diagnostician", "terraform_author", "code_healer", "deployer")
FixKind = Literal["terraform", "code_patch", "command", "none"]
Intent = Literal["create_all", "destroy_all", "modify", "query"]
Verdict = Literal["allow", "approve", "forbid"]
Risk = Literal["low", "medium", "high"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Record(BaseModel):
    """Base for state records: strict about unknown fields, JSON-friendly."""

    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------- request


class UserRef(Record):
    id: str = "cli"
    name: str = "operator"
    roles: list[str] = Field(default_factory=list)


class Alert(Record):
    """One alert, whatever system sent it (see tools/alerts.py for intake)."""

    source: Literal["alertmanager", "cloudwatch", "custom"] = "custom"
    name: str
    severity: Literal["critical", "warning", "info"] = "warning"
    summary: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    started_at: datetime | None = None


class Request(Record):
    """What arrived through a door: an alert, words, or both."""

    alert: Alert | None = None
    text: str | None = None
    user: UserRef = Field(default_factory=UserRef)
    environment: Environment = "dev"
    # True when a person chose the environment (a flag, a channel, the widget), so words that
    # name none may use it; a default or a replayed scenario's approval context is nobody's choice.
    # Left out, it is inferred: an environment passed to the constructor counts, except in replay.
    environment_explicit: bool | None = None
    at: datetime | None = None
    door: Literal["cli", "slack", "web", "replay", "api"] = "cli"
    emergency: bool = False

    @model_validator(mode="after")
    def _infer_environment_choice(self) -> "Request":
        if self.environment_explicit is None:
            self.environment_explicit = "environment" in self.model_fields_set and self.door != "replay"
        return self

    def effective_time(self) -> datetime:
        """The time policy windows are judged at: `at`, else the alert's start, else now."""
        if self.at is not None:
            return self.at
        if self.alert is not None and self.alert.started_at is not None:
            return self.alert.started_at
        return utc_now()


# -------------------------------------------------------------------- evidence


class Evidence(Record):
    """One observation a diagnosis may cite, already redacted and capped."""

    id: str  # stable within a run: "E1", "E2", ...
    kind: Literal["command", "log", "metric", "incident", "alert", "file", "terraform", "note"]
    source: str  # "web1: free -m", "cloudwatch:/ecs/api", "incident:INC-12"
    summary: str
    host: str | None = None
    command: str | None = None
    tool: str | None = None  # the catalogue read that produced it
    excerpt: str = ""
    facts: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True  # False when the command failed or the parser could not read it


class RootCauseCandidate(Record):
    category: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence_ids: list[str] = Field(default_factory=list)
    reasoning: str = ""


class SuggestedAction(Record):
    """A typed catalogue action a diagnosis suggests (config/tools/); proposals are built from these, never from text."""

    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    host: str | None = None
    why: str = ""  # what in the evidence it answers
    capture: dict[str, Any] | None = None  # a read kept just before the action runs ({tool, params})


class Diagnosis(Record):
    summary: str
    root_cause: str
    confidence: float = Field(ge=0.0, le=1.0)
    runners_up: list[RootCauseCandidate] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)  # Evidence ids
    fix_kind: FixKind = "none"
    next_checks: list[str] = Field(default_factory=list)
    suggested_commands: list[str] = Field(default_factory=list)  # for people: the argv of each suggested action
    suggested_actions: list[SuggestedAction] = Field(default_factory=list)
    decided_by: Literal["rules", "llm"] = "rules"
    target: dict[str, Any] = Field(default_factory=dict)  # e.g. {"host": "web1", "file": "src/db.js"}


# ---------------------------------------------------------------- plans, fixes


# ------------------------------------------------- what a request asks beyond one change


class ChangePart(Record):
    """One part of a compound request: the words it came from, and what it changes or asks."""

    words: str
    changes: dict[str, Any] = Field(default_factory=dict)  # dotted path -> new value
    question: str | None = None  # what this part needs answered before it can be planned
    ambiguity: str | None = None  # what is missing ("environment", "amount", ...)
    answer: str | None = None  # the words of the reply that completed it


class Condition(Record):
    """A condition the request puts on itself: "if it costs under $100", "only if CPU is above 70 %"."""

    subject: Literal["cost", "metric"]
    metric: str | None = None  # cpu, memory, connections, error_rate (subject metric)
    operator: Literal["<", "<=", ">", ">="]
    threshold: float
    words: str = ""
    met: bool | None = None  # None: not evaluated (no estimate, no data)
    observed: float | None = None
    detail: str = ""


class Schedule(Record):
    """A recurring request: when it recurs (cron fields, in `timezone`) and what runs each time."""

    kind: Literal["backup", "check"]
    cron: str  # five fields: minute hour day-of-month month day-of-week
    timezone: str = "Asia/Seoul"
    text: str = ""  # what runs at each occurrence (a check)
    environment: str | None = None
    words: str = ""
    id: str | None = None  # the registered schedule, once written


class Suggestion(Record):
    """A right-sizing suggestion: a spec change of its own, with its monthly saving and the metrics behind it."""

    id: str  # "S1", "S2", ... within the answer
    title: str
    environment: str
    changes: dict[str, Any] = Field(default_factory=dict)
    monthly_saving: float = 0.0
    evidence: str = ""  # what the metrics showed


class CostForecast(Record):
    """Next month's cost: from the spec (hours of that month) and, when configured, from Cost Explorer."""

    period: str  # "2026-05"
    hours: float
    by_environment: dict[str, float] = Field(default_factory=dict)
    total: float = 0.0
    source: str = ""
    cost_explorer: float | None = None  # AWS's own forecast for the period
    cost_explorer_note: str = ""  # why it is missing, or what it covers


class DriftAttribute(Record):
    name: str  # the attribute path in the resource ("scaling_config.0.desired_size")
    spec_value: Any = None  # what Terraform's state (from the spec) holds
    actual: Any = None  # what the provider reads now
    spec_path: str | None = None  # the spec path it maps to, when the spec holds it


class DriftItem(Record):
    address: str
    type: str
    action: str  # update | delete
    attributes: list[DriftAttribute] = Field(default_factory=list)


class DriftReport(Record):
    """What changed outside Terraform, read from a refresh-only plan."""

    environment: str
    items: list[DriftItem] = Field(default_factory=list)
    source: str = ""
    adoptable: dict[str, Any] = Field(default_factory=dict)  # spec path -> the value now in the cloud
    choice: Literal["adopt", "revert"] | None = None


class StageGate(Record):
    """The gate between two stages of a staged delivery: was the previous environment healthy long enough?"""

    environment: str  # the environment that was checked
    next_environment: str
    status: Literal["passed", "waiting", "failed"]
    detail: str = ""
    not_before: datetime | None = None  # waiting: when the required healthy time has passed
    checks: list[str] = Field(default_factory=list)


class Question(Record):
    """What a run waits for when it asks people: one or more questions, asked together; resumed by a reply."""

    kind: Literal["question"] = "question"
    id: str
    text: str
    questions: list[str] = Field(default_factory=list)
    choices: list[str] = Field(default_factory=list)
    environment: str | None = None


class Reply(Record):
    """Words a person sent into a run that waits for them (an answer), by any door."""

    text: str
    user: UserRef = Field(default_factory=UserRef)
    question_id: str | None = None
    at: datetime = Field(default_factory=utc_now)


class SpecChange(Record):
    """What the planner made of words about infrastructure."""

    intent: Intent
    environment: Environment | Literal["all"] | None = None
    changes: dict[str, Any] = Field(default_factory=dict)  # dotted path -> new value
    question: str | None = None  # a clarifying question instead of a guess
    answer: str | None = None  # for intent == query
    rationale: str = ""
    decided_by: Literal["rules", "llm"] = "rules"
    # issue 16: compound, conditional, staged, scheduled, forecast and drift requests
    task: Literal["change", "promote", "staged", "schedule", "forecast", "drift", "explain", "rollback"] | None = None
    parts: list[ChangePart] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)  # one per ambiguous part, asked together in `question`
    choices: list[str] = Field(default_factory=list)  # the answers a question offers (drift: adopt, revert)
    condition: Condition | None = None
    stages: list[str] = Field(default_factory=list)  # staged delivery: environments in order
    schedule: Schedule | None = None
    forecast: CostForecast | None = None
    suggestions: list[Suggestion] = Field(default_factory=list)
    drift: DriftReport | None = None
    promoted_from: str | None = None  # the environment a promotion copies from
    before: dict[str, Any] = Field(default_factory=dict)  # what each changed path held when it was planned


class CostLine(Record):
    resource: str
    monthly_before: float = 0.0
    monthly_after: float = 0.0


class CostEstimate(Record):
    monthly_before: float = 0.0
    monthly_after: float = 0.0
    currency: str = "USD"
    lines: list[CostLine] = Field(default_factory=list)
    source: str = "config/prices"

    @property
    def monthly_delta(self) -> float:
        return round(self.monthly_after - self.monthly_before, 2)


class PlanSummary(Record):
    add: int = 0
    change: int = 0
    destroy: int = 0
    replace: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)  # "aws_eks_node_group.main: update"
    plan_hash: str | None = None
    text: str = ""


class ValidationResult(Record):
    """One check on a proposal. `status` says what happened: a check that did not run is
    "skipped" (with `enable` saying how to run it), never "passed".

    `passed` is kept for old checkpoints and callers and means "does not block the change"
    (true for passed and skipped); renderers show `status`. Either field alone is accepted."""

    check: str  # "hcl2", "checkov", "lint:naming", "tests"
    passed: bool = True
    details: str = ""
    status: Literal["passed", "failed", "skipped"] | None = None
    enable: str = ""  # how to make a skipped check run, e.g. "run `make checkov`"

    @model_validator(mode="after")
    def _status_and_passed_agree(self) -> "ValidationResult":
        fields = self.model_fields_set
        if "passed" not in fields and "status" not in fields:
            raise ValueError("a ValidationResult needs a status (passed, failed or skipped) or passed")
        if self.status is None:
            object.__setattr__(self, "status", "passed" if self.passed else "failed")
        elif "passed" not in fields:
            object.__setattr__(self, "passed", self.status != "failed")
        return self

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"


class PlannedAction(Record):
    """One typed catalogue action in a proposal: what the approval shows and what the deployer runs, byte for byte.

    `argv_hash` covers the host and the argv (tools/catalogue.py `argv_hash`); the executor refuses any argv
    whose hash differs from the approved one.
    """

    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    host: str | None = None
    argv: list[str] = Field(default_factory=list)
    argv_hash: str
    changes: str = ""
    verification: str = ""  # what the verification read must show, said plainly ("" when the action has none)
    rollback: str = ""  # the rollback action, or "irreversible: why"
    rollback_tool: str | None = None  # the rollback as a typed call, approved with the action (run only if verification fails)
    rollback_params: dict[str, Any] = Field(default_factory=dict)
    rollback_argv: list[str] = Field(default_factory=list)
    rollback_hash: str | None = None
    capture_tool: str | None = None  # a read run and kept just before the action (a leaking process's memory map)
    capture_params: dict[str, Any] = Field(default_factory=dict)
    why: str = ""  # the evidence it answers, with quoted untrusted text


class Proposal(Record):
    """A change someone must be able to review: what, diff, cost, plan, rollback."""

    id: str
    kind: Literal["terraform", "code_patch", "command", "unlock", "rollback"]
    title: str
    description: str = ""
    environment: Environment = "dev"
    diff: str = ""
    files: dict[str, str] = Field(default_factory=dict)  # path -> new content
    commands: list[str] = Field(default_factory=list)
    actions: list[PlannedAction] = Field(default_factory=list)  # typed actions (command remedies, unlocks): run only as approved
    cost: CostEstimate | None = None
    plan: PlanSummary | None = None
    rollback: str = ""
    validation: list[ValidationResult] = Field(default_factory=list)
    risk: Risk = "medium"
    destructive: bool = False
    resource_count: int = 0
    author: str = ""  # agent that wrote it
    workspace: str | None = None  # Terraform working directory the change applies to
    host: str | None = None  # where command remedies run
    repository: str | None = None  # code patches: the checkout (or registry name) the patch was made and tested in
    base_commit: str | None = None  # code patches: the commit the patch applies to
    draft: str | None = None  # why it is not for automatic deployment (e.g. "no tests: not for automatic deployment")
    deployment_id: str | None = None  # the deployment a rollback proposal restores (agents/delivery/desk.py)

    @property
    def valid(self) -> bool:
        return all(v.passed for v in self.validation)


# ------------------------------------------------------------------- approvals


class ApprovalRule(Record):
    """`count` approvals from people holding any of `roles`."""

    count: int = 1
    roles: list[str] = Field(default_factory=list)
    why: str = ""


class ApprovalRequest(Record):
    id: str
    proposal_id: str
    action: str  # what will run if approved
    actions: list[PlannedAction] = Field(default_factory=list)  # the exact argv of each typed action and its hash
    reason: str  # why it is proposed
    environment: Environment
    risk: Risk = "medium"
    cost_delta_monthly: float | None = None
    rollback: str = ""
    rules: list[ApprovalRule] = Field(default_factory=list)
    still_needed: list[ApprovalRule] = Field(default_factory=list)
    confirmation: str | None = None  # text the approver must type back (destroying an environment)
    blocked: list[str] = Field(default_factory=list)  # policy gates that refuse it outright
    unblock_hint: str = ""
    requested_by: UserRef = Field(default_factory=UserRef)
    created_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime | None = None


class ApprovalDecision(Record):
    request_id: str
    user: UserRef
    role: str
    approved: bool
    reason: str = ""
    confirmation: str | None = None
    at: datetime = Field(default_factory=utc_now)


# --------------------------------------------------------------------- actions


class CommandVerdict(Record):
    """The guard's judgement of one command or action, with the rule that decided."""

    verdict: Verdict
    rule: str
    reason: str = ""
    argv: list[str] = Field(default_factory=list)
    program: str | None = None
    # When the command is a catalogue entry: which one, its typed parameters, and the argv that runs (its own rendering).
    tool: str | None = None
    tool_kind: Literal["read", "action"] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    rendered: list[str] = Field(default_factory=list)


class ActionRecord(Record):
    action: str
    host: str | None = None
    verdict: Verdict
    rule: str
    status: Literal["executed", "refused", "failed", "proposed", "skipped", "rolled_back"]
    output: str = ""
    by: str = ""  # agent or tool
    at: datetime = Field(default_factory=utc_now)
    tool: str | None = None  # the catalogue entry that ran, with its typed parameters and the argv it rendered
    params: dict[str, Any] = Field(default_factory=dict)
    argv: list[str] = Field(default_factory=list)


class RoleUsage(Record):
    calls: int = 0  # answered (billed) calls, rejected answers included
    input_tokens: int = 0
    output_tokens: int = 0  # billed output, thinking included
    cost_usd: float = 0.0
    provider: str = ""  # who served these calls ("bedrock", "vertex", ...)
    model: str = ""
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    failed_calls: int = 0  # timed out or refused before an answer: cost unknown

    def label(self) -> str:
        """"bedrock anthropic.claude-..." or "" when no model is named."""
        return f"{self.provider} {self.model}".strip()


class AgentNote(Record):
    """Something an agent wants the report to say plainly (limits included)."""

    agent: str
    text: str
    level: Literal["info", "warning", "limitation"] = "info"


class Report(Record):
    status: Literal["completed", "awaiting_approval", "rejected", "blocked", "needs_input", "failed", "waiting"]
    headline: str
    markdown: str = ""


# ---------------------------------------------------------------- conversation


class TurnSummary(Record):
    """One earlier turn of a thread, as the next turn sees it."""

    turn: int
    text: str = ""
    status: str = ""
    headline: str = ""
    environment: str | None = None


class ConversationContext(Record):
    """What a follow-up in a thread knows of the turns before it: the last turn's plan, diagnosis and evidence.

    A follow-up ("why?", "show me E3", "do the same in prod", "roll it back") is a new turn of the same thread
    (graphs/conversation.py); it starts with this context instead of a blank state."""

    thread_id: str
    turn: int  # this turn's number (the first turn is 1)
    previous: list[TurnSummary] = Field(default_factory=list)
    text: str = ""  # the last turn's words
    environment: str | None = None  # the environment the last turn was about
    spec_change: SpecChange | None = None
    diagnosis: Diagnosis | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    proposals: list[Proposal] = Field(default_factory=list)
    approval_status: str = "none"
    deployed: bool = False
    waiting: str | None = None  # "approval" when an earlier turn still waits for one (this turn only reads)
    notes: list[AgentNote] = Field(default_factory=list)  # what the agents said (why a value, why blocked)
    approvals: list[ApprovalRequest] = Field(default_factory=list)
    stage_gates: list[StageGate] = Field(default_factory=list)  # a staged delivery's gates: which stages were delivered


# ----------------------------------------------------------------- graph state


def merge_usage(left: dict[str, RoleUsage] | None, right: dict[str, RoleUsage] | None) -> dict[str, RoleUsage]:
    """Reducer: per-role usage adds up across nodes."""
    out = dict(left or {})
    for role, usage in (right or {}).items():
        prev = out.get(role, RoleUsage())
        same = not prev.provider or not usage.provider or (prev.provider, prev.model) == (usage.provider, usage.model)
        out[role] = RoleUsage(
            calls=prev.calls + usage.calls,
            input_tokens=prev.input_tokens + usage.input_tokens,
            output_tokens=prev.output_tokens + usage.output_tokens,
            cost_usd=round(prev.cost_usd + usage.cost_usd, 6),
            provider=(usage.provider or prev.provider) if same else "mixed",
            model=(usage.model or prev.model) if same else "",
            cache_read_tokens=prev.cache_read_tokens + usage.cache_read_tokens,
            cache_write_tokens=prev.cache_write_tokens + usage.cache_write_tokens,
            reasoning_tokens=prev.reasoning_tokens + usage.reasoning_tokens,
            failed_calls=prev.failed_calls + usage.failed_calls,
        )
    return out


def replace_by_id(left: list | None, right: list | None) -> list:
    """Reducer for records with an `id`: a new record replaces the old one with the same id."""
    out = list(left or [])
    index = {item.id: i for i, item in enumerate(out)}
    for item in right or []:
        if item.id in index:
            out[index[item.id]] = item
        else:
            index[item.id] = len(out)
            out.append(item)
    return out


class OpsState(TypedDict, total=False):
    request: Request
    route: Annotated[list[str], operator.add]  # agents visited, in order
    next: str  # the supervisor's last routing decision
    evidence: Annotated[list[Evidence], replace_by_id]
    diagnosis: Diagnosis | None
    spec_change: SpecChange | None
    proposals: Annotated[list[Proposal], replace_by_id]
    approval_requests: Annotated[list[ApprovalRequest], replace_by_id]
    decisions: Annotated[list[ApprovalDecision], operator.add]
    approval_status: Literal["none", "pending", "approved", "rejected", "blocked", "not_required"]
    actions: Annotated[list[ActionRecord], operator.add]
    notes: Annotated[list[AgentNote], operator.add]
    usage: Annotated[dict[str, RoleUsage], merge_usage]
    deployed: bool
    report: Report | None
    conversation: ConversationContext | None  # a follow-up turn's context (issue 16)
    replies: Annotated[list[Reply], operator.add]  # answers to the run's questions, in order
    stage_gates: Annotated[list[StageGate], operator.add]  # staged delivery: each gate's verdict


STATE_RECORD_TYPES: tuple[type[BaseModel], ...] = (
    UserRef, Alert, Request, Evidence, RootCauseCandidate, SuggestedAction, Diagnosis, SpecChange, CostLine,
    CostEstimate, PlanSummary, ValidationResult, PlannedAction, Proposal, ApprovalRule, ApprovalRequest,
    ApprovalDecision, CommandVerdict, ActionRecord, RoleUsage, AgentNote, Report,
    ChangePart, Condition, Schedule, Suggestion, CostForecast, DriftAttribute, DriftItem, DriftReport, StageGate,
    Question, Reply, TurnSummary, ConversationContext,
)
