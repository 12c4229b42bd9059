"""systemctl status and nginx -t: is the unit up, how often did it restart, why did it stop."""

from __future__ import annotations

import re

from agents.diagnosis.parsers.base import Facts, ParserError, size_to_mb
from agents.diagnosis.timeline import LogFacts, scan_lines


class UnitFacts(Facts):
    parser: str = "systemctl_status"
    unit: str = ""
    description: str = ""
    found: bool = True
    loaded: str = ""
    active: str = ""  # active | activating | deactivating | failed | inactive
    sub: str = ""  # running | auto-restart | dead | exited | start ...
    result: str = ""  # exit-code | signal | core-dump | start-limit-hit | oom-kill
    since: str = ""
    main_pid: int | None = None
    main_exit: str = ""  # "status=1/FAILURE", "signal=KILL"
    memory_mb: float | None = None
    restart_counter: int = 0
    log: LogFacts | None = None  # the journal lines systemctl printed below the status

    @property
    def failing(self) -> bool:
        return self.active in ("failed", "activating", "inactive") or self.sub in ("auto-restart", "dead") or bool(self.result)

    def summary(self) -> str:
        if not self.found:
            return f"{self.unit or 'unit'}: not found"
        out = f"{self.unit}: {self.active} ({self.sub})"
        if self.result:
            out += f", result {self.result}"
        if self.restart_counter:
            out += f", restart counter {self.restart_counter}"
        if self.memory_mb is not None:
            out += f", memory {self.memory_mb:.0f} MB"
        return out


def parse_systemctl_status(text: str, *, command: str = "", stderr: str = "") -> UnitFacts:
    body = (text or "") + ("\n" + stderr if stderr else "")
    m = re.search(r"Unit (\S+?) could not be found", body)
    if m:
        return UnitFacts(unit=m.group(1), found=False)
    head = re.search(r"^[●○×*\s]*([\w@.:-]+\.(?:service|socket|timer|mount|target))(?: - (.*))?$", text or "", re.M)
    active = re.search(r"^\s*Active:\s+(\S+)(?:\s+\(([^)]*)\))?(?:\s+\(Result: ([^)]*)\))?(?:\s+since\s+([^;]+))?", text or "", re.M)
    if not head and not active:
        raise ParserError("no unit line and no `Active:` line")
    facts: dict = {}
    if head:
        facts.update(unit=head.group(1), description=(head.group(2) or "").strip())
    loaded = re.search(r"^\s*Loaded:\s+(\S+)", text, re.M)
    if loaded:
        facts["loaded"] = loaded.group(1)
    if active:
        sub, result = active.group(2) or "", active.group(3) or ""
        if sub.startswith("Result:"):
            sub, result = "", sub.split(":", 1)[1].strip()
        facts.update(active=active.group(1), sub=sub, result=result, since=(active.group(4) or "").strip())
    pid = re.search(r"^\s*Main PID:\s+(\d+)(?:\s+\(([^)]*)\))?", text, re.M)
    if pid:
        facts["main_pid"] = int(pid.group(1))
        inner = pid.group(2) or ""
        exit_m = re.search(r"(status=\S+|signal=\S+)", inner)
        if exit_m:
            facts["main_exit"] = exit_m.group(1).rstrip(")")
    mem = re.search(r"^\s*Memory:\s+([\d.]+[KMGT]?)", text, re.M)
    if mem:
        facts["memory_mb"] = size_to_mb(mem.group(1), "B")
    counters = [int(c) for c in re.findall(r"restart counter is at (\d+)", body)]
    if counters:
        facts["restart_counter"] = max(counters)
    if not facts.get("result"):
        r = re.search(r"Failed with result '([^']+)'", body)
        if r:
            facts["result"] = r.group(1)
    log_lines = [line for line in (text or "").splitlines() if re.match(r"^\w{3} \d{1,2} \d{2}:\d{2}:\d{2} |^\d{4}-\d{2}-\d{2}", line.strip())]
    if log_lines:
        facts["log"] = scan_lines(log_lines)
    return UnitFacts(**facts)


class NginxTestFacts(Facts):
    parser: str = "nginx_test"
    config_ok: bool
    errors: list[str] = []

    def summary(self) -> str:
        return "nginx -t: configuration ok" if self.config_ok else f"nginx -t: {self.errors[0] if self.errors else 'test failed'}"


def parse_nginx_test(text: str, *, command: str = "", stderr: str = "") -> NginxTestFacts:
    body = (text or "") + "\n" + (stderr or "")
    if "test is successful" in body or "syntax is ok" in body and "test failed" not in body:
        return NginxTestFacts(config_ok=True)
    errors = re.findall(r"nginx: \[(?:emerg|alert|crit|error)\] (.+)", body)
    if errors or "test failed" in body:
        return NginxTestFacts(config_ok=False, errors=[e[:300] for e in errors][:5])
    raise ParserError("not `nginx -t` output")


class ClockFacts(Facts):
    """`timedatectl`: whether the clock is kept in step. An unsynchronised clock drifts; tokens, certificates and
    signed requests (JWT iat/nbf, AWS SigV4, Kerberos) are judged against it."""

    parser: str = "timedatectl"
    synchronized: bool | None = None
    ntp_service: str = ""  # active | inactive | n/a
    universal_time: str = ""

    def summary(self) -> str:
        state = {True: "synchronized", False: "NOT synchronized", None: "sync unknown"}[self.synchronized]
        return f"clock {state}" + (f", NTP service {self.ntp_service}" if self.ntp_service else "") + (f" ({self.universal_time})" if self.universal_time else "")


def parse_timedatectl(text: str, *, command: str = "", stderr: str = "") -> ClockFacts:
    fields = dict(m.groups() for m in re.finditer(r"^\s*([A-Za-z][A-Za-z ]+?):\s*(.*?)\s*$", text or "", re.M))
    synced = fields.get("System clock synchronized") or fields.get("NTP synchronized")
    if synced is None and "NTP service" not in fields:
        raise ParserError("not `timedatectl` output")
    return ClockFacts(synchronized=None if synced is None else synced.lower() == "yes", ntp_service=fields.get("NTP service", "").lower(),
                      universal_time=fields.get("Universal time", ""))
