"""Recurring requests: "매주 월요일마다 백업 생성해줘", "every day at 9 check prod's cost".

A recurring request becomes configuration that goes through the same gate as
any other:
- a backup schedule is part of the infrastructure spec, rendered to Terraform
  (tools/tfvars.py): a daily backup is the RDS backup window (AWS takes its
  automated backups once a day, inside the window, and keeps them
  `backup_retention_days`); any other rhythm (weekly, monthly, hourly) is an
  AWS Backup plan (`environments.<env>.backup`, terraform/modules/backup),
  whose cron is in UTC. Either way a spec change, with its diff, cost and
  approvals.
- a recurring check is a schedule (graphs/schedules.py): each time it is due,
  a worker runs the check's words as a request of its own, through the same
  guard and policy (a check that reads needs no approval, a check that would
  change something stops for the usual approvals each time).
Times are in the policy's timezone (config/policy.yaml) unless the words say UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from agents.conversation.words import settings_of
from agents.planning.clarify import Language
from agents.planning.promotion import named_envs
from agents.planning.resolve import RulesPlan, note
from graphs.state import Schedule, SpecChange
from tools.spec import SpecError, apply_changes, value_at

DAYS = {"월": 0, "화": 1, "수": 2, "목": 3, "금": 4, "토": 5, "일": 6, "monday": 0, "tuesday": 1, "wednesday": 2,
        "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6, "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
CRON_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
KO_DAY_NAMES = ("월", "화", "수", "목", "금", "토", "일")

KO_TIME = re.compile(r"(오전|오후|새벽|아침|저녁|밤|낮)?\s*([0-9]{1,2})\s*시(?:\s*([0-9]{1,2})\s*분|\s*(반))?(?:\s*에|\s*마다)?")
CLOCK = re.compile(r"(?<![0-9:])([01]?[0-9]|2[0-3]):([0-5][0-9])(?:\s*(am|pm))?(?![0-9])")
EN_TIME = re.compile(r"\bat\s+([0-9]{1,2})(?::([0-5][0-9]))?\s*(am|pm|a\.m\.|p\.m\.)?|\b([0-9]{1,2})\s*(am|pm)\b|\bat\s+(noon|midnight)\b")
RECURRENCE = [
    ("hourly", re.compile(r"(?:매\s*시간|([0-9]{1,2})\s*시간\s*마다|every\s+([0-9]{1,2})\s+hours?|every\s+hour|hourly)")),
    ("weekly", re.compile(r"(?:매주|매\s*주|every\s*week(?:\s+on)?|weekly(?:\s+on)?|every|each|on)?\s*"
                          r"(월|화|수|목|금|토|일|monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?:요일)?s?\s*(?:마다|에)?"
                          r"(?=\s|$|[,.]|에|마다)")),
    ("weekly", re.compile(r"(?:매주|매\s*주|every\s+week|weekly)")),
    ("monthly", re.compile(r"(?:매월|매달|매\s*월|every\s+month|monthly)(?:\s*(?:on\s+the\s+)?([0-9]{1,2})\s*(?:일|st|nd|rd|th)?)?")),
    ("daily", re.compile(r"(?:매일|날마다|매\s*일|하루에\s*한\s*번|every\s*day|every\s*night|each\s+day|daily|nightly)")),
]
RETENTION = re.compile(r"([0-9]{1,4})\s*(일|주|days?|weeks?)\s*(?:동안|간)?\s*(?:보관|보존|유지|남겨|keep|retain|retention|kept)|"
                       r"(?:keep|retain)(?:\s+(?:them|it|the\s+backups|backups))?\s+(?:for\s+)?([0-9]{1,4})\s*(days?|weeks?)")
KO_DAY_SUFFIX = re.compile(r"(월|화|수|목|금|토|일)요일")


@dataclass
class Recurrence:
    kind: str  # hourly | daily | weekly | monthly
    words: str
    day_of_week: int | None = None
    day_of_month: int | None = None
    every_hours: int | None = None
    hour: int | None = None
    minute: int = 0
    utc: bool = False

    def describe(self, language: Language) -> str:
        at = f"{self.hour:02d}:{self.minute:02d}" if self.hour is not None else "--:--"
        if language == "ko":
            return {"hourly": f"{self.every_hours or 1}시간마다", "daily": f"매일 {at}",
                    "weekly": f"매주 {KO_DAY_NAMES[self.day_of_week or 0]}요일 {at}", "monthly": f"매월 {self.day_of_month or 1}일 {at}"}[self.kind]
        days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        return {"hourly": f"every {self.every_hours or 1} hour(s)", "daily": f"every day at {at}",
                "weekly": f"every {days[self.day_of_week or 0]} at {at}", "monthly": f"on day {self.day_of_month or 1} of every month at {at}"}[self.kind]


def _time(text: str) -> tuple[int, int, str] | None:
    """(hour, minute, the words) of a time of day in the words."""
    m = KO_TIME.search(text)
    if m and (m.group(1) or "시" in m.group(0)):
        hour, minute = int(m.group(2)), int(m.group(3) or (30 if m.group(4) else 0))
        if m.group(1) in ("오후", "저녁", "밤") and hour < 12:
            hour += 12
        if m.group(1) in ("새벽", "오전", "아침") and hour == 12:
            hour = 0
        if 0 <= hour <= 23 and 0 <= minute <= 59:
            return hour, minute, m.group(0)
    m = CLOCK.search(text)
    if m:
        hour = int(m.group(1)) % 12 + (12 if m.group(3) == "pm" else 0) if m.group(3) else int(m.group(1))
        return hour, int(m.group(2)), m.group(0)
    m = EN_TIME.search(text)
    if m:
        if m.group(6):
            return (12 if m.group(6) == "noon" else 0), 0, m.group(0)
        hour = int(m.group(1) or m.group(4))
        half = (m.group(3) or m.group(5) or "").replace(".", "")
        if half:
            hour = hour % 12 + (12 if half == "pm" else 0)
        if 0 <= hour <= 23:
            return hour, int(m.group(2) or 0), m.group(0)
    return None


def find_recurrence(text: str) -> Recurrence | None:
    """The rhythm of a recurring request (and its time of day), or None when the words do not recur."""
    lowered = text.lower()
    for kind, pattern in RECURRENCE:
        m = pattern.search(lowered)
        if m is None:
            continue
        if kind == "weekly" and m.lastindex and m.group(1) and m.group(1) in DAYS:
            words = m.group(0)
            plural = re.search(rf"\b{m.group(1)}s\b", words) is not None
            if not (re.search(r"(매주|매\s*주|every|each|weekly|마다)", words) or plural):
                continue  # "일요일에" is one Sunday, "월" alone is not Monday ("월 비용" is the monthly cost)
            if m.group(1) in KO_DAY_NAMES and not KO_DAY_SUFFIX.search(words) and "마다" not in words and "매주" not in words:
                continue
            rec = Recurrence("weekly", words.strip(), day_of_week=DAYS[m.group(1)])
        elif kind == "weekly":
            rec = Recurrence("weekly", m.group(0).strip(), day_of_week=0)
        elif kind == "monthly":
            rec = Recurrence("monthly", m.group(0).strip(), day_of_month=int(m.group(1)) if m.group(1) else 1)
        elif kind == "hourly":
            every = next((int(g) for g in m.groups() if g), 1)
            rec = Recurrence("hourly", m.group(0).strip(), every_hours=max(1, min(every, 23)))
        else:
            rec = Recurrence("daily", m.group(0).strip())
        found = _time(lowered)
        if found is not None:
            rec.hour, rec.minute = found[0], found[1]
            rec.words = f"{rec.words} {found[2].strip()}".strip()
        rec.utc = bool(re.search(r"\butc\b", lowered))
        return rec
    return None


def local_cron(rec: Recurrence, default_time: str) -> str:
    """Five cron fields in the request's timezone."""
    hour, minute = (rec.hour, rec.minute) if rec.hour is not None else tuple(int(x) for x in default_time.split(":"))
    if rec.kind == "hourly":
        return f"{minute} */{rec.every_hours or 1} * * *"
    if rec.kind == "daily":
        return f"{minute} {hour} * * *"
    if rec.kind == "weekly":
        return f"{minute} {hour} * * {CRON_DAYS[rec.day_of_week or 0]}"
    return f"{minute} {hour} {rec.day_of_month or 1} * *"


def _utc_moment(rec: Recurrence, tz: str, default_time: str) -> datetime:
    """The first occurrence in UTC (fixes the weekday and hour of an AWS Backup cron, which is always UTC)."""
    hour, minute = (rec.hour, rec.minute) if rec.hour is not None else tuple(int(x) for x in default_time.split(":"))
    zone = timezone.utc if rec.utc else ZoneInfo(tz)
    base = datetime(2026, 1, 5, hour, minute, tzinfo=zone)  # a Monday
    if rec.kind == "weekly":
        base += timedelta(days=rec.day_of_week or 0)
    if rec.kind == "monthly":
        base = base.replace(day=rec.day_of_month or 1)
    return base.astimezone(timezone.utc)


def aws_backup_cron(rec: Recurrence, tz: str, default_time: str) -> str:
    """An AWS Backup schedule (six fields, UTC): cron(minute hour day-of-month month day-of-week year)."""
    moment = _utc_moment(rec, tz, default_time)
    if rec.kind == "hourly":
        return f"cron({moment.minute} 0/{rec.every_hours or 1} * * ? *)"
    if rec.kind == "daily":
        return f"cron({moment.minute} {moment.hour} * * ? *)"
    if rec.kind == "weekly":
        return f"cron({moment.minute} {moment.hour} ? * {CRON_DAYS[moment.weekday()][:3]} *)"
    day = rec.day_of_month or 1
    if moment.day != day:  # the UTC time falls on the day before: the 1st at 04:00 KST is the last day at 19:00 UTC
        return f"cron({moment.minute} {moment.hour} {'L' if day == 1 else day - 1} * ? *)"
    return f"cron({moment.minute} {moment.hour} {day} * ? *)"


def backup_window(rec: Recurrence, tz: str, default_time: str) -> str:
    """The RDS backup window (UTC, 30 minutes, the shortest AWS allows) that starts at the asked time."""
    start = _utc_moment(rec, tz, default_time)
    end = start + timedelta(minutes=30)
    return f"{start:%H:%M}-{end:%H:%M}"


def retention_days(text: str) -> int | None:
    m = RETENTION.search(text.lower())
    if m is None:
        return None
    number = int(m.group(1) or m.group(3))
    unit = m.group(2) or m.group(4) or ""
    return number * 7 if unit.startswith(("주", "week")) else number


def _settings(config_dir: Any) -> dict[str, Any]:
    return settings_of("requests", config_dir).get("schedules") or {}


def _policy_tz() -> str:
    from tools.policy import default_policy

    return default_policy().timezone


def plan_backup(rec: Recurrence, text: str, spec: dict[str, Any], env: str | None, language: Language,
                config_dir: Any) -> RulesPlan:
    """A backup schedule as a spec change: the RDS backup window for a daily rhythm, an AWS Backup plan otherwise."""
    settings = _settings(config_dir)
    tz = _policy_tz()
    if env is None:
        envs = [e for e in (spec.get("environments") or {})]
        question = (f"어느 환경의 데이터베이스 백업을 {rec.describe(language)}에 잡을까요? ({', '.join(envs)})" if language == "ko"
                    else f"Which environment's database should be backed up {rec.describe(language)}: {', '.join(envs)}?")
        return RulesPlan(SpecChange(intent="modify", task="schedule", question=question, rationale="needs input: environment"),
                         [], "environment")
    if not value_at(spec, f"environments.{env}.rds.enabled") or not (spec.get("environments") or {}).get(env, {}).get("rds"):
        answer = (f"{env}에는 데이터베이스(RDS)가 없어 백업을 예약할 수 없습니다." if language == "ko"
                  else f"{env} has no database (RDS) to back up.")
        return RulesPlan(SpecChange(intent="modify", task="schedule", environment=env, answer=answer,  # type: ignore[arg-type]
                                    rationale="nothing to back up"), [], None)
    default_time = str(settings.get("default_time", "03:00"))
    keep = retention_days(text)
    prefix = f"environments.{env}."
    cron = local_cron(rec, default_time)
    notes = []
    if rec.hour is None:
        notes.append(note(f"no time named: backups run at {default_time} {tz} (config/requests.yaml schedules.default_time)"))
    if rec.kind == "daily":
        window = backup_window(rec, tz, default_time)
        changes: dict[str, Any] = {prefix + "rds.backup_window": window}
        current = value_at(spec, prefix + "rds.backup_retention_days")
        if keep is not None:
            changes[prefix + "rds.backup_retention_days"] = min(keep, 35)
            if keep > 35:
                notes.append(note(f"RDS keeps automated backups at most 35 days; {keep} asked, 35 set", "warning"))
        elif not current:
            changes[prefix + "rds.backup_retention_days"] = 7
            notes.append(note("automated backups were off (retention 0): they are kept 7 days now (say how long to change it)"))
        how = f"RDS backup window {window} UTC"
    else:
        schedule = aws_backup_cron(rec, tz, default_time)
        days = keep or int(settings.get("backup_retention_days", 35))
        changes = {prefix + "backup": {"enabled": True, "schedule": schedule, "retention_days": days}}
        how = f"AWS Backup plan {schedule} (UTC), kept {days} days"
    changes = {p: v for p, v in changes.items() if value_at(spec, p) != v}
    if not changes:
        answer = (f"{env} 백업은 이미 그렇게 잡혀 있습니다." if language == "ko" else f"{env}'s backups are already scheduled so.")
        return RulesPlan(SpecChange(intent="modify", task="schedule", environment=env, answer=answer, rationale="already so"),  # type: ignore[arg-type]
                         notes, None)
    try:
        apply_changes(spec, changes)
    except SpecError as exc:
        question = (f"그 일정으로는 백업을 잡을 수 없습니다: {exc}. 다른 일정을 말해 주세요." if language == "ko"
                    else f"That schedule cannot be set: {exc}. Which schedule should it be?")
        return RulesPlan(SpecChange(intent="modify", task="schedule", question=question, rationale="needs input: invalid"), notes, "invalid")
    from agents.planning.intents import _rationale

    notes.append(note(f"backup schedule for {env}: {rec.describe('en')} ({tz}) → {how}"))
    return RulesPlan(SpecChange(intent="modify", task="schedule", environment=env, changes=changes,  # type: ignore[arg-type]
                                rationale=f"{rec.describe(language)} ({tz}): {how}; " + _rationale(changes, spec),
                                schedule=Schedule(kind="backup", cron=cron, timezone="UTC" if rec.utc else tz, environment=env,
                                                  words=rec.words)),
                     notes, None)


def plan_check(rec: Recurrence, text: str, env: str | None, language: Language, config_dir: Any) -> RulesPlan:
    """A recurring check: the words without their rhythm, run as a request each time the schedule is due."""
    settings = _settings(config_dir)
    tz = "UTC" if rec.utc else _policy_tz()
    check = text
    for words in sorted({rec.words, *rec.words.split(" ")}, key=len, reverse=True):
        if words:
            check = re.sub(re.escape(words), " ", check, flags=re.IGNORECASE)
    check = re.sub(r"^\s*(?:에|마다|,|at|on)\s+", "", re.sub(r"\s+", " ", check).strip()).strip(" ,.")
    if len(check) < 3:
        question = ("무엇을 정기적으로 확인할까요? (예: 'prod 비용 확인', 'staging DB 상태 점검')" if language == "ko"
                    else "What should I check on that schedule? (e.g. 'prod cost', 'staging database status')")
        return RulesPlan(SpecChange(intent="query", task="schedule", question=question, rationale="needs input: check"), [], "nothing")
    cron = local_cron(rec, str(settings.get("default_check_time", "09:00")))
    schedule = Schedule(kind="check", cron=cron, timezone=tz, text=check, environment=env, words=rec.words)
    answer = (f"{rec.describe(language)} ({tz})마다 '{check}'을(를) 실행하도록 예약합니다 (cron `{cron}`). 실행할 때마다 보통의 요청처럼 "
              "가드와 승인 정책을 그대로 거칩니다." if language == "ko" else
              f"'{check}' will run {rec.describe(language)} ({tz}, cron `{cron}`); each run goes through the guard and the approval "
              "policy like a request asked once.")
    return RulesPlan(SpecChange(intent="query", task="schedule", environment=env, answer=answer, schedule=schedule,  # type: ignore[arg-type]
                                rationale=f"recurring check: {rec.describe('en')} ({tz})"), [], None)


def plan_schedule(text: str, rec: Recurrence, spec: dict[str, Any], request_env: str, explicit: bool, backup: bool,
                  language: Language, config_dir: Any, replies: list[str]) -> RulesPlan:
    words = " ".join([text, *replies])
    envs = named_envs(words, config_dir)
    env = envs[0] if len(envs) == 1 else (request_env if explicit and not envs else None)
    if backup:
        return plan_backup(rec, words, spec, env, language, config_dir)
    return plan_check(rec, text, env, language, config_dir)


__all__ = ["Recurrence", "aws_backup_cron", "backup_window", "find_recurrence", "local_cron", "plan_schedule", "retention_days"]
