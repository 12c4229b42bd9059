"""When a kind of change may happen: windows, hours to avoid, and blocked periods.

Each kind of change (infrastructure, release, remedy, rollback) has its own
rules per environment in config/policy.yaml, because a Terraform apply, a
code hotfix and an incident remedy are not equally urgent nor equally risky
at the same hour. Pure functions of the rules and a local time, so a blocked
change can name the rule that blocked it and the next time it could run.
"""

from __future__ import annotations

import calendar
from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
Day = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
Occurrence = Literal["first", "second", "third", "fourth", "last"]
ORDINALS: dict[str, int] = {"first": 1, "second": 2, "third": 3, "fourth": 4}


class Window(BaseModel):
    """Hours on some weekdays, in the policy's time zone; `end` is exclusive."""

    model_config = ConfigDict(extra="forbid")
    days: list[Day]
    start: time
    end: time
    why: str = ""

    def describe(self) -> str:
        days = f"{self.days[0]}–{self.days[-1]}" if len(self.days) > 2 else "/".join(self.days)
        return f"{days} {self.start:%H:%M}–{self.end:%H:%M}"

    def contains(self, local: datetime) -> bool:
        return DAYS[local.weekday()] in self.days and self.start <= local.time() < self.end


class BlockedWeekday(BaseModel):
    """A recurring blocked day: `{weekday: Fri, occurrence: last}` is the last Friday of every month."""

    model_config = ConfigDict(extra="forbid")
    weekday: Day
    occurrence: Occurrence
    why: str = ""

    def describe(self) -> str:
        return f"the {self.occurrence} {self.weekday} of every month" + (f" ({self.why})" if self.why else "")

    def matches(self, local: datetime) -> bool:
        if DAYS[local.weekday()] != self.weekday:
            return False
        if self.occurrence == "last":
            last_day = calendar.monthrange(local.year, local.month)[1]
            return local.day + 7 > last_day
        return (local.day - 1) // 7 + 1 == ORDINALS[self.occurrence]


BlockedPeriod = str | BlockedWeekday  # "MM-DD" / "MM-DD..MM-DD" (wrapping the new year), or a recurring weekday


def _check_dates(item: str) -> str:
    for part in item.split(".."):
        try:
            month, day = (int(x) for x in part.split("-"))
        except ValueError:
            raise ValueError(f"blocked period {item!r} must be MM-DD, MM-DD..MM-DD or {{weekday: Fri, occurrence: last}}") from None
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise ValueError(f"blocked period {item!r} must be MM-DD or MM-DD..MM-DD")
    return item


def _in_date_range(item: str, local: datetime) -> bool:
    start_s, _, end_s = item.partition("..")
    start = tuple(int(x) for x in start_s.split("-"))
    end = tuple(int(x) for x in (end_s or start_s).split("-"))
    key = (local.month, local.day)
    return start <= key <= end if start <= end else (key >= start or key <= end)  # wraps the new year


def describe_period(period: BlockedPeriod) -> str:
    return period if isinstance(period, str) else period.describe()


def blocked_by(periods: list[BlockedPeriod], local: datetime) -> BlockedPeriod | None:
    """The first blocked period that contains `local`, or None."""
    for period in periods:
        inside = _in_date_range(period, local) if isinstance(period, str) else period.matches(local)
        if inside:
            return period
    return None


class ChangeWindows(BaseModel):
    """The rules for one kind of change in one environment.

    `windows`: when empty, any time; otherwise only inside one of them.
    `avoid`: soft: inside one of them the change is allowed, with a warning that says why to prefer other hours.
    `blocked`: never (unless an emergency override is approved).
    """

    model_config = ConfigDict(extra="forbid")
    windows: list[Window] = Field(default_factory=list)
    avoid: list[Window] = Field(default_factory=list)
    blocked: list[BlockedPeriod] = Field(default_factory=list)

    @field_validator("blocked", mode="before")
    @classmethod
    def _valid_periods(cls, value: Any) -> list[BlockedPeriod]:
        if not isinstance(value, list):
            raise ValueError("blocked must be a list of MM-DD..MM-DD ranges or {weekday, occurrence} rules")
        periods: list[BlockedPeriod] = []
        for item in value:
            if isinstance(item, str):
                periods.append(_check_dates(item))
            elif isinstance(item, BlockedWeekday):
                periods.append(item)
            elif isinstance(item, dict):
                try:
                    periods.append(BlockedWeekday.model_validate(item))
                except ValidationError as exc:
                    first = exc.errors()[0]
                    raise ValueError(f"{item}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
            else:
                raise ValueError(f"blocked period {item!r} must be MM-DD..MM-DD or {{weekday: Fri, occurrence: last}}")
        return periods

    @model_validator(mode="after")
    def _windows_are_not_empty(self) -> "ChangeWindows":
        for window in [*self.windows, *self.avoid]:
            if not window.days or window.start >= window.end:
                raise ValueError(f"window {window.describe()} is empty: it needs days and start < end")
        return self


class WindowVerdict(BaseModel):
    """What the windows say about one moment: blocked reasons, warnings, and where they come from."""

    blocked: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def judge_moment(rules: ChangeWindows, local: datetime, *, where: str, timezone_name: str, kind: str) -> WindowVerdict:
    """Blocked reasons and soft warnings for a change of `kind` at `local` (already in the policy's zone)."""
    shown = f"{DAYS[local.weekday()]} {local:%Y-%m-%d %H:%M} {timezone_name}"
    verdict = WindowVerdict()
    period = blocked_by(rules.blocked, local)
    if period is not None:
        verdict.blocked.append(f"{shown} falls in the blocked period {describe_period(period)} for {kind} changes "
                               f"(policy.yaml {where}.blocked)")
    if rules.windows and not any(w.contains(local) for w in rules.windows):
        windows = ", ".join(w.describe() for w in rules.windows)
        verdict.blocked.append(f"{shown} is outside the {kind} deployment window {windows} {timezone_name} (policy.yaml {where}.windows)")
    for window in rules.avoid:
        if window.contains(local):
            why = window.why or f"{kind} changes are preferably made outside {window.describe()}"
            verdict.warnings.append(f"{shown} is inside {window.describe()} {timezone_name}: {why} (policy.yaml {where}.avoid)")
    return verdict


def next_opening(rules: ChangeWindows, local: datetime, *, horizon_days: int = 21) -> datetime | None:
    """The next moment (on the hour or at a window's start) when the rules allow the change, or None."""
    probe = local.replace(second=0, microsecond=0)
    starts = sorted({(w.start.hour, w.start.minute) for w in rules.windows})
    for step in range(0, 24 * horizon_days):
        hour = (probe + timedelta(hours=step)).replace(minute=0)
        candidates = [hour.replace(hour=h, minute=m) for h, m in starts if h == hour.hour] if starts else [hour]
        for candidate in candidates:
            if candidate < local:
                continue
            inside = not rules.windows or any(w.contains(candidate) for w in rules.windows)
            if inside and blocked_by(rules.blocked, candidate) is None:
                return candidate
    return None
