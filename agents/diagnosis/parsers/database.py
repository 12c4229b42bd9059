"""MySQL and PostgreSQL clients: process lists, connection counters, settings, client errors."""

from __future__ import annotations

import re
from collections import Counter

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError, to_float, to_int
from agents.diagnosis.parsers.tables import parse_table

_CLIENT_ERROR = re.compile(
    r"(ERROR \d+ \([0-9A-Z]+\)[^\n]*|psql: error:[^\n]*|FATAL:[^\n]*|could not connect to server[^\n]*|"
    r"connection to server at[^\n]*failed[^\n]*)")


class DbErrorFacts(Facts):
    """The client printed an error instead of a result: itself evidence (1040, 2003, 1045, FATAL ...)."""

    parser: str = "db_error"
    code: str = ""
    message: str

    def summary(self) -> str:
        return f"database client error: {self.message[:160]}"


def _client_error(text: str, stderr: str) -> DbErrorFacts | None:
    body = (stderr or "") + "\n" + (text or "")
    m = _CLIENT_ERROR.search(body)
    if not m:
        return None
    code = re.search(r"ERROR (\d+)", m.group(0))
    inner = re.search(r"\b(1040|1045|1203|2003|2005|2013)\b - ", m.group(0))  # MariaDB wraps the real code
    return DbErrorFacts(code=(inner.group(1) if inner else code.group(1) if code else ""), message=m.group(0).strip()[:300])


def _client_error_or_fail(text: str, stderr: str, reason: str) -> DbErrorFacts:
    """The client's own error (access denied, cannot connect) when it printed one; else the
    output is not what this parser reads, and it says why."""
    err = _client_error(text, stderr)
    if err:
        return err
    raise ParserError(reason)


def _db_table(text: str, stderr: str) -> tuple[list[str], list[dict[str, str]]] | DbErrorFacts:
    """A client's table, or the error it printed instead of one."""
    if not (text or "").strip():
        return _client_error_or_fail(text, stderr, "empty output")
    try:
        return parse_table(text)
    except ParserError as exc:
        return _client_error_or_fail(text, stderr, str(exc))


class DbSession(BaseModel):
    id: str
    user: str = ""
    host: str = ""
    state: str = ""
    seconds: float = 0.0
    query: str = ""
    wait: str = ""  # pg wait_event_type (Lock, Client, IO ...)


class Count(BaseModel):
    key: str
    count: int


class ProcesslistFacts(Facts):
    """MySQL SHOW [FULL] PROCESSLIST (or information_schema.PROCESSLIST)."""

    parser: str = "mysql_processlist"
    total: int
    by_command: dict[str, int] = {}
    by_user: list[Count] = []
    by_host: list[Count] = []
    active: int = 0
    sleeping: int = 0
    sleeping_long: int = 0  # idle for a minute or more
    max_sleep_s: float = 0.0
    long_running: list[DbSession] = []  # active for 10 s or more, longest first
    lock_waits: int = 0
    max_query_s: float = 0.0

    def summary(self) -> str:
        out = f"{self.total} connections ({self.active} active, {self.sleeping} sleeping"
        out += f", {self.sleeping_long} idle > 60 s)" if self.sleeping_long else ")"
        if self.long_running:
            q = self.long_running[0]
            out += f"; longest query {q.seconds:.0f} s ({q.state or 'running'}): {q.query[:80]}"
        if self.lock_waits:
            out += f"; {self.lock_waits} waiting on locks"
        return out


_LOCK_STATE = re.compile(r"lock|Waiting for|Locked", re.I)
_OWN_QUERY = re.compile(r"SHOW (?:FULL )?PROCESSLIST|information_schema\.processlist|pg_stat_activity", re.I)


def parse_mysql_processlist(text: str, *, command: str = "", stderr: str = "") -> ProcesslistFacts | DbErrorFacts:
    table = _db_table(text, stderr)
    if isinstance(table, DbErrorFacts):
        return table
    headers, rows = table
    norm = [{k.strip().lower(): (v or "").strip() for k, v in row.items()} for row in rows]
    if not norm or "command" not in norm[0] or "time" not in norm[0]:
        return _client_error_or_fail(text, stderr, "no Command and Time columns")
    sessions = []
    by_command: Counter = Counter()
    for row in norm:
        command_col = row.get("command", "")
        by_command[command_col] += 1
        sessions.append((command_col, DbSession(
            id=row.get("id", ""), user=row.get("user", ""), host=row.get("host", "").rsplit(":", 1)[0],
            state=row.get("state", "") if row.get("state", "") != "NULL" else "", seconds=to_float(row.get("time")) or 0.0,
            query=(row.get("info", "") if row.get("info", "") != "NULL" else "")[:200],
        )))
    own = [s for c, s in sessions if _OWN_QUERY.search(s.query)]
    work = [(c, s) for c, s in sessions if s not in own and c.lower() not in ("daemon", "binlog dump", "binlog dump gtid")]
    active = [s for c, s in work if c.lower() in ("query", "execute", "prepare", "fetch")]
    sleeping = [s for c, s in work if c.lower() == "sleep"]
    return ProcesslistFacts(
        total=len(sessions), by_command=dict(by_command),
        by_user=[Count(key=k, count=v) for k, v in Counter(s.user for _, s in sessions).most_common(5)],
        by_host=[Count(key=k, count=v) for k, v in Counter(s.host for _, s in sessions).most_common(5)],
        active=len(active), sleeping=len(sleeping), sleeping_long=sum(1 for s in sleeping if s.seconds >= 60),
        max_sleep_s=max((s.seconds for s in sleeping), default=0.0),
        long_running=sorted((s for s in active if s.seconds >= 10), key=lambda s: -s.seconds)[:10],
        lock_waits=sum(1 for s in active if _LOCK_STATE.search(s.state)),
        max_query_s=max((s.seconds for s in active), default=0.0),
    )


class DbSettingsFacts(Facts):
    """Name/value pairs: SHOW GLOBAL STATUS, SHOW VARIABLES, psql `show max_connections`."""

    parser: str = "db_settings"
    values: dict[str, str]

    def number(self, name: str) -> float | None:
        return to_float(self.values.get(name.lower()))

    def summary(self) -> str:
        return "; ".join(f"{k} = {v}" for k, v in list(self.values.items())[:6])


def parse_db_settings(text: str, *, command: str = "", stderr: str = "") -> DbSettingsFacts | DbErrorFacts:
    table = _db_table(text, stderr)
    if isinstance(table, DbErrorFacts):
        return table
    headers, rows = table
    values: dict[str, str] = {}
    lower = [h.strip().lower() for h in headers]
    if "variable_name" in lower and "value" in lower:
        for row in rows:
            r = {k.strip().lower(): (v or "").strip() for k, v in row.items()}
            values[r.get("variable_name", "").lower()] = r.get("value", "")
    elif "name" in lower and "setting" in lower:  # psql: select name, setting, unit from pg_settings where name = ...
        for row in rows:
            r = {k.strip().lower(): (v or "").strip() for k, v in row.items()}
            values[r.get("name", "").lower()] = r.get("setting", "")
    elif len(headers) == 1 and rows:  # psql: show max_connections
        values[headers[0].strip().lower()] = (list(rows[0].values())[0] or "").strip()
    elif len(headers) == 2 and rows:
        for row in rows:
            k, v = list(row.values())[:2]
            values[(k or "").strip().lower()] = (v or "").strip()
    if not values:
        return _client_error_or_fail(text, stderr, "no name/value rows")
    return DbSettingsFacts(values=values)


class PgActivityFacts(Facts):
    parser: str = "pg_activity"
    total: int
    by_state: dict[str, int] = {}
    by_app: list[Count] = []
    active: int = 0
    idle: int = 0
    idle_in_transaction: int = 0
    max_idle_in_transaction_s: float = 0.0
    idle_long: int = 0  # idle for a minute or more
    max_idle_s: float = 0.0
    long_running: list[DbSession] = []
    lock_waits: int = 0
    max_active_s: float = 0.0

    def summary(self) -> str:
        states = ", ".join(f"{k} {v}" for k, v in self.by_state.items())
        out = f"{self.total} backends ({states})"
        if self.long_running:
            q = self.long_running[0]
            out += f"; longest active {q.seconds:.0f} s: {q.query[:80]}"
        if self.lock_waits:
            out += f"; {self.lock_waits} waiting on locks"
        return out


def interval_seconds(value: str | None) -> float | None:
    """'00:05:12.12', '1 day 02:00:00', '3 days', '12.5' (seconds) -> seconds."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    number = to_float(value)
    if number is not None and ":" not in value:
        return number
    total = 0.0
    days = re.search(r"(-?\d+) days?", value)
    if days:
        total += int(days.group(1)) * 86400
    hms = re.search(r"(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", value)
    if hms:
        secs = int(hms.group(2)) * 3600 + int(hms.group(3)) * 60 + float(hms.group(4))
        total += -secs if hms.group(1) else secs
    return total if (days or hms) else None


_DURATION_COLUMNS = ("duration", "age", "runtime", "elapsed", "query_age", "query_duration", "seconds", "time", "running_for", "query_time", "xact_age")


def parse_pg_activity(text: str, *, command: str = "", stderr: str = "") -> PgActivityFacts | DbErrorFacts:
    table = _db_table(text, stderr)
    if isinstance(table, DbErrorFacts):
        return table
    headers, rows = table
    norm = [{k.strip().lower(): (v or "").strip() for k, v in row.items()} for row in rows]
    if not norm or "state" not in norm[0]:
        return _client_error_or_fail(text, stderr, "no state column (select state ... from pg_stat_activity)")
    if "count" in norm[0]:  # select [application_name,] state, count(*) ... group by ...
        by_state: Counter = Counter()
        by_app: Counter = Counter()
        for row in norm:
            n = to_int(row["count"]) or 0
            by_state[row["state"] or "(none)"] += n
            if row.get("application_name"):
                by_app[row["application_name"]] += n
        return PgActivityFacts(total=sum(by_state.values()), by_state=dict(by_state), active=by_state.get("active", 0), idle=by_state.get("idle", 0),
                               idle_in_transaction=by_state.get("idle in transaction", 0) + by_state.get("idle in transaction (aborted)", 0),
                               by_app=[Count(key=k, count=v) for k, v in by_app.most_common(5)])
    duration_col = next((c for c in _DURATION_COLUMNS if c in norm[0]), None)
    sessions = []
    for row in norm:
        query = row.get("query", "")
        if _OWN_QUERY.search(query):
            continue
        seconds = (interval_seconds(row.get(duration_col)) or 0.0) if duration_col else 0.0
        if row.get("state", "").startswith("idle"):  # an idle session's age is how long it has been idle
            idle_col = next((c for c in ("idle_for", "state_age", "state_duration", "idle_time", "idle_duration") if c in row), None)
            if idle_col and interval_seconds(row.get(idle_col)) is not None:
                seconds = max(seconds, interval_seconds(row.get(idle_col)) or 0.0)
        sessions.append(DbSession(
            id=row.get("pid", ""), user=row.get("usename", row.get("user", "")),
            host=row.get("application_name", "") or row.get("client_addr", ""),
            state=row.get("state", ""), seconds=seconds, query=query[:200], wait=row.get("wait_event_type", ""),
        ))
    by_state = Counter(s.state or "(none)" for s in sessions)
    active = [s for s in sessions if s.state == "active"]
    idle_tx = [s for s in sessions if s.state.startswith("idle in transaction")]
    return PgActivityFacts(
        total=len(sessions), by_state=dict(by_state),
        by_app=[Count(key=k, count=v) for k, v in Counter(s.host for s in sessions if s.host).most_common(5)],
        active=len(active), idle=by_state.get("idle", 0), idle_in_transaction=len(idle_tx),
        max_idle_in_transaction_s=max((s.seconds for s in idle_tx), default=0.0),
        idle_long=sum(1 for s in sessions if s.state == "idle" and s.seconds >= 60),
        max_idle_s=max((s.seconds for s in sessions if s.state == "idle"), default=0.0),
        long_running=sorted((s for s in active if s.seconds >= 10), key=lambda s: -s.seconds)[:10],
        lock_waits=sum(1 for s in sessions if s.wait.lower() == "lock"),
        max_active_s=max((s.seconds for s in active), default=0.0),
    )
