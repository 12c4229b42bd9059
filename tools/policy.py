"""Approval policy: how many approvals from which roles, inside which windows.

Pure functions of the policy file, the change and the request's time, so a
blocked change can say exactly which rule blocked it and what would unblock it.
Rules live here and in config/policy.yaml, never in a prompt.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from graphs.errors import ConfigError, UserInputError
from graphs.state import ApprovalDecision, ApprovalRequest, ApprovalRule
from tools.change_windows import DAYS, ChangeWindows, Window, judge_moment, next_opening
from tools.delivery_policy import DeliveryPolicy

ChangeClass = Literal["infrastructure", "release", "remedy", "rollback"]
# Which class of change each proposal kind is; policy.yaml `change_kinds` may extend or override it.
DEFAULT_CHANGE_KINDS: dict[str, ChangeClass] = {
    "terraform": "infrastructure", "unlock": "infrastructure", "code_patch": "release", "release": "release",
    "command": "remedy", "remedy": "remedy", "rollback": "rollback",
}


class SmallChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_cost_increase: float = 0.0
    max_resources: int = 0
    kinds: list[str] = Field(default_factory=lambda: ["terraform"])


class EnvironmentPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approvals: list[ApprovalRule]  # for every kind of change without its own list in kind_approvals
    kind_approvals: dict[str, list[ApprovalRule]] = Field(default_factory=dict)  # proposal kind -> rules
    destroy_approvals: list[ApprovalRule] = Field(default_factory=list)
    small_change: SmallChange | None = None
    max_cost_increase: float | None = None
    max_resources: int | None = None
    changes: dict[ChangeClass, ChangeWindows] = Field(default_factory=dict)  # windows per class of change
    # Older form, for every class of change without an entry in `changes`.
    windows: list[Window] = Field(default_factory=list)
    blocked_dates: list[str] = Field(default_factory=list)

    @field_validator("blocked_dates")
    @classmethod
    def _date_ranges(cls, value: list[str]) -> list[str]:
        ChangeWindows(blocked=list(value))  # the same validation as `changes.*.blocked`
        return value

    def windows_for(self, change_class: str) -> tuple[ChangeWindows, str]:
        """The rules for a class of change and the policy.yaml path they come from."""
        if change_class in self.changes:
            return self.changes[change_class], f"changes.{change_class}"  # type: ignore[index]
        return ChangeWindows(windows=self.windows, blocked=list(self.blocked_dates)), "windows/blocked_dates"


class CostTier(BaseModel):
    model_config = ConfigDict(extra="forbid")
    up_to: float | None
    count: int
    justification: bool = False


class EmergencyOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approvals: list[ApprovalRule]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: str = "Asia/Seoul"
    approval_ttl_hours: float = 24
    self_approval: bool = False
    roles: list[str]
    environments: dict[str, EnvironmentPolicy]
    cost_approvals: list[CostTier] = Field(default_factory=list)
    emergency_override: EmergencyOverride | None = None
    destroy_confirmation: bool = True
    change_kinds: dict[str, ChangeClass] = Field(default_factory=dict)
    delivery: DeliveryPolicy = Field(default_factory=DeliveryPolicy)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def change_class(self, kind: str) -> str:
        """infrastructure | release | remedy | rollback for a proposal kind (unknown kinds are infrastructure: the strictest)."""
        return {**DEFAULT_CHANGE_KINDS, **self.change_kinds}.get(kind, "infrastructure")


class ChangeFacts(BaseModel):
    """What the policy needs to know about a proposed change."""

    environment: str
    kind: str  # terraform | command | code_patch | unlock | release | rollback
    cost_delta_monthly: float = 0.0
    resource_count: int = 0
    destructive: bool = False
    destroys_environment: bool = False
    whole_environment: bool = False  # create_all / destroy_all: judged by approvals, not per-change limits
    at: datetime | None = None
    emergency: bool = False


class PolicyDecision(BaseModel):
    required: bool
    rules: list[ApprovalRule] = Field(default_factory=list)
    blocked: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # allowed, but the policy prefers otherwise (avoid windows)
    unblock_hint: str = ""
    confirmation: str | None = None
    justification_required: bool = False
    reasons: list[str] = Field(default_factory=list)


class ApprovalError(UserInputError):
    """A decision that the policy does not accept (wrong role, twice, own change, expired)."""


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Policy.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"policy not found: {path} (restore config/policy.yaml or set CLOUD_DOCTOR_POLICY_FILE)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


@lru_cache(maxsize=4)
def _cached_policy(path: str, mtime: float) -> Policy:
    return load_policy(path)


def default_policy() -> Policy:
    from config.settings import get_settings

    path = get_settings().path("policy.yaml")
    return _cached_policy(str(path), path.stat().st_mtime if path.exists() else 0.0)


def environment_policy(policy: Policy, environment: str) -> EnvironmentPolicy:
    if environment not in policy.environments:
        known = ", ".join(policy.environments)
        raise UserInputError(f"unknown environment {environment!r} (policy.yaml knows: {known})")
    return policy.environments[environment]


def evaluate_change(policy: Policy, change: ChangeFacts) -> PolicyDecision:
    """Decide whether a change needs approval, from whom, and whether it is blocked now."""
    env = environment_policy(policy, change.environment)
    reasons: list[str] = []
    blocked: list[str] = []
    hints: list[str] = []
    cost = max(change.cost_delta_monthly, 0.0)

    if change.destructive and env.destroy_approvals:
        rules = [r.model_copy() for r in env.destroy_approvals]
        reasons.append(f"destructive change in {change.environment}: {rules[0].why or 'destroy approvals'}")
    else:
        rules = [r.model_copy() for r in env.kind_approvals.get(change.kind, env.approvals)]
        reasons.append(rules[0].why or f"{change.environment} approvals")

    small = env.small_change
    if (
        small is not None
        and not change.destructive
        and change.kind in small.kinds
        and cost <= small.max_cost_increase
        and change.resource_count <= small.max_resources
    ):
        return PolicyDecision(
            required=False,
            reasons=[f"small {change.kind} change in {change.environment} (≤ ${small.max_cost_increase:g}/month, "
                     f"≤ {small.max_resources} resources): policy applies it without approval"],
        )

    tier = _cost_tier(policy, cost)
    justification = False
    if tier is not None and cost > 0:
        justification = tier.justification
        if tier.count > rules[0].count:
            rules[0] = rules[0].model_copy(update={"count": tier.count, "why": f"{tier.count} approvals for +${cost:,.2f}/month"})
        reasons.append(f"cost +${cost:,.2f}/month needs {tier.count} approval(s)" + (" and a business justification" if tier.justification else ""))

    if change.whole_environment:
        reasons.append("a whole-environment change is judged by its approvals; the per-change cost and resource limits do not apply")
    elif env.max_cost_increase is not None and cost > env.max_cost_increase:
        blocked.append(f"cost increase ${cost:,.2f}/month exceeds {change.environment}'s limit of ${env.max_cost_increase:,.2f} per change (policy.yaml environments.{change.environment}.max_cost_increase)")
        hints.append(f"split the change so each part stays under ${env.max_cost_increase:,.0f}/month, or raise the limit in policy.yaml")
    if not change.whole_environment and env.max_resources is not None and change.resource_count > env.max_resources:
        blocked.append(f"{change.resource_count} resources in one change exceed {change.environment}'s limit of {env.max_resources} (policy.yaml environments.{change.environment}.max_resources)")
        hints.append("split the change into smaller ones")

    moment = judge_window(policy, change.environment, change.kind, change.at)
    if moment.blocked:
        if change.emergency and policy.emergency_override:
            rules += [r.model_copy() for r in policy.emergency_override.approvals]
            reasons.append(f"emergency override of: {moment.blocked[0]}")
        else:
            blocked += moment.blocked
            hints.append(_next_window_hint(policy, env, change.kind, change.at) + " or ask again as an emergency (--emergency), "
                         "which needs " + describe_rules(policy.emergency_override.approvals if policy.emergency_override else []))

    confirmation = change.environment if (change.destroys_environment and policy.destroy_confirmation) else None
    return PolicyDecision(
        required=True, rules=rules, blocked=blocked, warnings=moment.warnings, unblock_hint="; ".join(hints),
        confirmation=confirmation, justification_required=justification, reasons=[*reasons, *moment.warnings],
    )


def _cost_tier(policy: Policy, cost: float) -> CostTier | None:
    for tier in policy.cost_approvals:
        if tier.up_to is None or cost <= tier.up_to:
            return tier
    return None


def local_time(policy: Policy, at: datetime | None) -> datetime:
    at = at or datetime.now(timezone.utc)
    if at.tzinfo is None:
        at = at.replace(tzinfo=policy.tz)
    return at.astimezone(policy.tz)


def judge_window(policy: Policy, environment: str, kind: str, at: datetime | None):
    """The windows' verdict (blocked reasons and soft warnings) for a change of `kind` at `at`."""
    env = environment_policy(policy, environment)
    change_class = policy.change_class(kind)
    rules, where = env.windows_for(change_class)
    return judge_moment(rules, local_time(policy, at), where=f"environments.{environment}.{where}",
                        timezone_name=policy.timezone, kind=f"{environment} {change_class}")


def _next_window_hint(policy: Policy, env: EnvironmentPolicy, kind: str, at: datetime | None) -> str:
    rules, _ = env.windows_for(policy.change_class(kind))
    opening = next_opening(rules, local_time(policy, at))
    if opening is None:
        return "wait for the next deployment window"
    return f"wait for the next window ({DAYS[opening.weekday()]} {opening:%Y-%m-%d %H:%M} {policy.timezone})"


def describe_rules(rules: list[ApprovalRule]) -> str:
    parts = [f"{r.count} approval{'s' if r.count != 1 else ''} from {' or '.join(r.roles)}" for r in rules]
    return "; ".join(parts) if parts else "no approvals"


# ----------------------------------------------------------------- decisions


def still_needed(rules: list[ApprovalRule], decisions: list[ApprovalDecision]) -> list[ApprovalRule]:
    """Rules not yet satisfied by the approving decisions (one person counts once per rule)."""
    approvers = {}
    for decision in decisions:
        if decision.approved:
            approvers.setdefault(decision.user.id, set()).add(decision.role)
    missing: list[ApprovalRule] = []
    for rule in rules:
        have = sum(1 for roles in approvers.values() if roles.intersection(rule.roles))
        if have < rule.count:
            missing.append(rule.model_copy(update={"count": rule.count - have}))
    return missing


def check_decision(policy: Policy, request: ApprovalRequest, decision: ApprovalDecision,
                   prior: list[ApprovalDecision], now: datetime | None = None) -> None:
    """Refuse decisions the policy does not accept; a valid rejection is always accepted."""
    if decision.role not in policy.roles:
        raise ApprovalError(f"unknown role {decision.role!r} (policy.yaml roles: {', '.join(policy.roles)})")
    now = now or datetime.now(timezone.utc)
    if request.expires_at is not None and now > request.expires_at:
        raise ApprovalError(f"approval request {request.id} expired at {request.expires_at:%Y-%m-%d %H:%M} UTC; ask again")
    if not decision.approved:
        return
    if request.blocked:
        raise ApprovalError("this change is blocked by policy and cannot be approved: " + "; ".join(request.blocked))
    if not policy.self_approval and decision.user.id == request.requested_by.id:
        raise ApprovalError(f"{decision.user.name} asked for this change and cannot approve it (policy.yaml self_approval: false)")
    if any(d.approved and d.user.id == decision.user.id for d in prior if d.request_id == request.id):
        raise ApprovalError(f"{decision.user.name} has already approved {request.id}")
    useful_roles = {role for rule in request.still_needed for role in rule.roles}
    if decision.role not in useful_roles:
        raise ApprovalError(
            f"role {decision.role} cannot approve this: still needed {describe_rules(request.still_needed)}"
        )
    if request.confirmation and (decision.confirmation or "").strip() != request.confirmation:
        raise ApprovalError(f"type the environment name to confirm: --confirm {request.confirmation}")


def approval_expiry(policy: Policy, created: datetime) -> datetime:
    return created + timedelta(hours=policy.approval_ttl_hours)
