"""Terraform's error output turned into diagnoses: which category, which file, which name.

Terraform prints diagnostics in two shapes: boxed (`╷ │ ╵`, with ANSI colours)
on a terminal, plain with `-no-color`. CI logs add their own prefixes. This
module reads all of them and names the taxonomy category (terraform_state_lock,
terraform_config_error, resource_name_conflict, permission_denied,
rate_limited, capacity_exhausted) with the facts a fix needs: the lock's
holder, the file and line, the missing name, the IAM action.

A state lock is never force-unlocked automatically: `lock_holder_evidence`
says what is known about the holder (and what is not), and
`build_unlock_proposal` turns that into an approve-class proposal whose
description lists what a person must confirm.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

from graphs.state import Proposal, ValidationResult
from tools.guard import describe, judge_command

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LOG_PREFIX = re.compile(r"^\s*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?\s")  # CI log timestamps (GitHub Actions)
BOX_PREFIX = re.compile(r"^\s*[│╷╵]( |$)?")
DIAG_START = re.compile(r"^(Error|Warning): (.*)$")
SOURCE_LINE = re.compile(r"^\s*on (?P<file>\S+) line (?P<line>\d+)(?:, in (?P<context>.+?))?:\s*$")
WITH_LINE = re.compile(r"^\s*with (?P<address>[^,\s]+),?\s*$")
GO_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?")
CI_HOST_HINTS = ("fv-az", "runner", "gitlab", "buildkite", "jenkins", "codebuild", "atlantis", "spacelift", "github", "actions")

Category = Literal[
    "terraform_state_lock", "terraform_config_error", "resource_name_conflict", "permission_denied",
    "rate_limited", "capacity_exhausted", "unknown",
]


class LockInfo(BaseModel):
    """The `Lock Info:` block Terraform prints when another run holds the state."""

    id: str
    path: str = ""
    operation: str = ""
    who: str = ""
    version: str = ""
    created: datetime | None = None
    info: str = ""
    error_message: str = ""  # "resource temporarily unavailable" (local), "ConditionalCheckFailedException ..." (S3/DynamoDB)

    @property
    def user(self) -> str:
        return self.who.split("@", 1)[0] if "@" in self.who else self.who

    @property
    def host(self) -> str:
        return self.who.split("@", 1)[1] if "@" in self.who else ""


class TerraformIssue(BaseModel):
    """One diagnostic Terraform printed, classified."""

    category: Category
    code: str  # specific kind: state_lock, unsupported_attribute, AccessDenied, ...
    summary: str  # one line for people
    severity: Literal["error", "warning"] = "error"
    title: str = ""  # Terraform's own summary line ("Unsupported attribute")
    detail: str = ""
    file: str | None = None
    line: int | None = None
    context: str | None = None  # 'resource "terraform_data" "eks"'
    address: str | None = None  # "aws_vpc.main" from "with aws_vpc.main,"
    name: str | None = None  # the missing / conflicting name
    action: str | None = None  # IAM action for permission_denied ("ec2:CreateVpc")
    lock: LockInfo | None = None
    raw: str = ""


class KnownRun(BaseModel):
    """What the caller knows about a run that might hold the lock (a CI job, a process)."""

    who: str  # "runner@fv-az1234-567", or just a host name
    status: Literal["running", "finished", "failed", "cancelled", "unknown"] = "unknown"
    ended_at: datetime | None = None
    source: str = ""  # "github-actions run 123", "ps on bastion"
    url: str | None = None


class HolderEvidence(BaseModel):
    """What is known about a lock's holder, and what is not, for a person deciding on force-unlock."""

    lock_id: str
    who: str
    operation: str
    created: datetime | None = None
    age_seconds: float | None = None
    age_text: str = "unknown"
    older_than_expected: bool | None = None
    looks_like_ci: bool = False
    holder_alive: bool | None = None  # None: unknown (nothing offline can tell)
    facts: list[str] = Field(default_factory=list)
    unknowns: list[str] = Field(default_factory=list)
    confirm: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------ parsing


def clean_terraform_text(text: str) -> str:
    """Remove ANSI colours and the diagnostic box rules, keeping every line's content."""
    lines = []
    for raw in ANSI.sub("", text or "").replace("\r\n", "\n").split("\n"):
        raw = LOG_PREFIX.sub("", raw, count=1)
        stripped = raw.lstrip()
        if stripped.startswith(("╷", "╵")) and not stripped[1:].strip():
            lines.append("")
            continue
        lines.append(BOX_PREFIX.sub("", raw, count=1) if stripped.startswith("│") else raw)
    return "\n".join(lines)


def parse_terraform_output(text: str) -> list[TerraformIssue]:
    """Every error and warning in Terraform's output, classified. Robust to boxes, colours and log prefixes."""
    cleaned = clean_terraform_text(text)
    issues = [_classify(title, body, severity) for severity, title, body in _split_diagnostics(cleaned)]
    if not any(i.category == "terraform_state_lock" for i in issues) and "Lock Info:" in cleaned:
        # "Failed to unlock state: ..." and other lock texts that are not `Error:` diagnostics.
        lock = parse_lock_info(cleaned)
        if lock is not None:
            issues.append(_lock_issue("Lock Info present in output", cleaned, lock))
    return issues


def _split_diagnostics(cleaned: str) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    current: tuple[str, str, list[str]] | None = None
    for line in cleaned.split("\n"):
        match = DIAG_START.match(line.strip()) if not line.startswith("    ") else None
        if match:
            if current is not None:
                out.append((current[0], current[1], "\n".join(current[2]).strip("\n")))
            current = ("warning" if match.group(1) == "Warning" else "error", match.group(2).strip(), [])
        elif current is not None:
            current[2].append(line)
    if current is not None:
        out.append((current[0], current[1], "\n".join(current[2]).strip("\n")))
    # Other one-line failures Terraform prints without "Error:".
    for line in cleaned.split("\n"):
        if line.startswith("Failed to unlock state: ") and "Lock Info:" not in cleaned:
            out.append(("error", line.strip(), ""))
    return out


def parse_lock_info(text: str) -> LockInfo | None:
    """The Lock Info block (ID, Path, Operation, Who, Version, Created, Info), if the text has one."""
    cleaned = clean_terraform_text(text)
    fields: dict[str, str] = {}
    in_block = False
    for line in cleaned.split("\n"):
        if line.strip() == "Lock Info:":
            in_block = True
            continue
        if in_block:
            m = re.match(r"^\s+(ID|Path|Operation|Who|Version|Created|Info):\s*(.*?)\s*$", line)
            if m:
                fields[m.group(1).lower()] = m.group(2)
            elif line.strip():
                break
    if not fields.get("id"):
        return None
    message = re.search(r"Error message:\s*(.+)", cleaned)
    return LockInfo(
        id=fields["id"], path=fields.get("path", ""), operation=fields.get("operation", ""), who=fields.get("who", ""),
        version=fields.get("version", ""), created=parse_go_time(fields.get("created", "")), info=fields.get("info", ""),
        error_message=message.group(1).strip() if message else "",
    )


def parse_go_time(text: str) -> datetime | None:
    """Go's time.Time text ("2025-01-25 01:58:31.40823 +0000 UTC") or ISO-8601, as an aware datetime."""
    m = GO_TIME.search(text or "")
    if not m:
        return None
    day, clock, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    dt = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S").replace(microsecond=micro)
    if zone in (None, "Z"):
        return dt.replace(tzinfo=timezone.utc)
    zone = zone.replace(":", "")
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    return dt.replace(tzinfo=timezone(offset if zone[0] == "+" else -offset))


def _lock_issue(title: str, body: str, lock: LockInfo) -> TerraformIssue:
    summary = f"state lock {lock.id} ({_holder(lock.who)}; {lock.operation or 'unknown operation'})"
    if lock.created:
        summary += f" since {lock.created.isoformat()}"
    return TerraformIssue(category="terraform_state_lock", code="state_lock", summary=summary, title=title, detail=body,
                          lock=lock, name=lock.path or None, raw=f"Error: {title}\n\n{body}".strip())


RATE = re.compile(r"Throttl|RequestLimitExceeded|Rate exceeded|TooManyRequests|SlowDown|StatusCode: 429|Request limit exceeded", re.I)
PERMISSION = re.compile(r"AccessDenied|UnauthorizedOperation|UnauthorizedAccess|not authorized to perform|is not authorized|AuthorizationError|StatusCode: 403|permission denied|Forbidden", re.I)
CONFLICT = re.compile(r"already exists|AlreadyExists|scheduled for deletion|AlreadyOwnedByYou|\.Duplicate\b|DuplicateName|marked for deletion|name is already in use", re.I)
CAPACITY = re.compile(
    r"InsufficientInstanceCapacity|InsufficientCapacity|InsufficientDBInstanceCapacity|InsufficientCacheClusterCapacity|"
    r"LimitExceeded|QuotaExceeded|ServiceQuota|maximum number of|InsufficientFreeAddresses|not enough free addresses|"
    r"VcpuLimitExceeded|capacity in the Availability Zone", re.I)
CONFIG_TITLES = re.compile(
    r"^(Unsupported (attribute|argument|block type)|Reference to undeclared .+|Missing required (argument|provider)|"
    r"Invalid .+|Unclosed configuration block|Argument or block definition required|Duplicate .+|"
    r"Value for undeclared variable|Module not installed|Incorrect attribute value type|Unknown variable|"
    r"Missing (newline|item separator|name for .+)|Unsupported operator|Error in function call|Inconsistent dependency lock file|"
    r"Module source has changed|Missing resource instance key|Unexpected .+|No value for required variable|"
    r"Variables not allowed|Function calls not allowed|Cycle: .+)$")
AWS_CODE = re.compile(r"api error ([A-Za-z.]+):|\b([A-Z][A-Za-z]+(?:Exception|Denied|Exceeded|Exists|Operation|Capacity|Duplicate|InUse))\b")


def _classify(title: str, body: str, severity: str) -> TerraformIssue:
    whole = f"{title}\n{body}"
    source = _source_location(body)
    base: dict[str, Any] = {
        "severity": severity, "title": title, "detail": body, "raw": f"{severity.capitalize()}: {title}\n\n{body}".strip(),
        **source,
    }
    if "state lock" in title.lower() or "Lock Info:" in body:
        lock = parse_lock_info(whole)
        if lock is not None:
            issue = _lock_issue(title, body, lock)
            return issue.model_copy(update={k: v for k, v in base.items() if k in ("severity", "raw")})
        return TerraformIssue(category="terraform_state_lock", code="state_lock", summary=title, **base)
    if title == "Saved plan is stale":
        return TerraformIssue(category="unknown", code="stale_plan", summary="the saved plan is stale: the state changed after it was made; plan again", **base)
    code = _aws_code(whole)
    if RATE.search(whole):
        return TerraformIssue(category="rate_limited", code=code or "Throttling", summary=f"AWS throttled the request ({code or 'rate exceeded'}){_at(source)}", **base)
    if PERMISSION.search(whole):
        action = _iam_action(whole)
        what = f"missing permission {action}" if action else "permission denied"
        return TerraformIssue(category="permission_denied", code=code or "AccessDenied", action=action,
                              summary=f"{what} ({code or 'AccessDenied'}){_at(source)}", **base)
    if CONFLICT.search(whole):
        name = _conflicting_name(whole)
        why = "is scheduled for deletion" if re.search(r"scheduled for deletion|marked for deletion", whole, re.I) else "already exists"
        return TerraformIssue(category="resource_name_conflict", code=code or "AlreadyExists", name=name,
                              summary=f"the name {name!r} {why}{_at(source)}" if name else f"a resource with this name {why}{_at(source)}", **base)
    if CAPACITY.search(whole):
        return TerraformIssue(category="capacity_exhausted", code=code or "LimitExceeded", summary=f"no capacity or quota left ({code or 'limit exceeded'}){_at(source)}", **base)
    if CONFIG_TITLES.match(title) or (source.get("file") and not code):
        name, summary, code_name = _config_facts(title, body, source)
        return TerraformIssue(category="terraform_config_error", code=code_name, name=name, summary=summary, **base)
    return TerraformIssue(category="unknown", code=code or "terraform_error", summary=title, **base)


def _source_location(body: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in body.split("\n"):
        m = SOURCE_LINE.match(line)
        if m and "file" not in out:
            out.update(file=m.group("file"), line=int(m.group("line")), context=m.group("context"))
        w = WITH_LINE.match(line)
        if w and "address" not in out:
            out["address"] = w.group("address")
    return out


def _at(source: dict[str, Any]) -> str:
    parts = []
    if source.get("address"):
        parts.append(source["address"])
    if source.get("file"):
        parts.append(f"{source['file']} line {source['line']}")
    return f" at {', '.join(parts)}" if parts else ""


def _aws_code(text: str) -> str | None:
    m = AWS_CODE.search(text)
    if not m:
        return None
    return m.group(1) or m.group(2)


def _iam_action(text: str) -> str | None:
    m = re.search(r"not authorized to perform:?\s+([a-z0-9-]+:[A-Za-z0-9*]+)", text)
    if m:
        return m.group(1)
    m = re.search(r"operation error ([A-Za-z0-9 ]+): ([A-Za-z0-9]+)", text)
    if m:
        service = m.group(1).strip().lower().replace(" ", "")
        service = {"secretsmanager": "secretsmanager", "elasticache": "elasticache"}.get(service, service)
        return f"{service}:{m.group(2)}"
    return None


def _conflicting_name(text: str) -> str | None:
    patterns = [
        r"creating [^()\n]*?\(([^()\s]+)\)",  # Error: creating IAM Role (shop-dev-eks): ...
        r"with name ([^\s,.]+(?:\.[^\s,.]+)*) already exists",
        r"named? '?\"?([A-Za-z0-9._/-]+)'?\"? already exists",
        r"(?:Role|Group|Policy|User|Bucket|DB instance|Cluster)[^\n]*?[\"']([A-Za-z0-9._/-]+)[\"'][^\n]*?already exists",
        r"The (?:requested )?bucket name ['\"]?([a-z0-9.-]+)",
        r"\b([A-Za-z0-9._/-]+) already exists",
    ]
    for pattern in patterns:
        m = re.search(pattern, text)
        if m and m.group(1).lower() not in ("resource", "secret", "name", "it", "this", "that"):
            return m.group(1)
    return None


def _config_facts(title: str, body: str, source: dict[str, Any]) -> tuple[str | None, str, str]:
    """The missing name and a one-line summary for a configuration error."""
    where = f" ({source['file']} line {source['line']})" if source.get("file") else ""
    quoted = re.findall(r'"([^"]+)"', body)
    if title == "Unsupported attribute":
        m = re.search(r'does not have an attribute named "([^"]+)"', body)
        name = m.group(1) if m else (quoted[0] if quoted else None)
        module = re.search(r"\bmodule\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\." + re.escape(name or "\0"), body) if name else None
        if module:
            return name, f'module "{module.group(1)}" has no output "{name}"{where}', "missing_module_output"
        obj = re.search(r"│\s*(\S+) is (?:a |an )?object", body) or re.search(r"^\s+(\S+) is (?:a |an )?object", body, re.M)
        owner = f"{obj.group(1)} " if obj else ""
        return name, f'{owner}has no attribute "{name}"{where}'.strip(), "unsupported_attribute"
    if title == "Reference to undeclared resource":
        m = re.search(r'resource "([^"]+)" "([^"]+)" has not been declared', body)
        name = f"{m.group(1)}.{m.group(2)}" if m else None
        return name, f"reference to undeclared resource {name}{where}", "undeclared_resource"
    if title == "Reference to undeclared module":
        m = re.search(r'No module call named "([^"]+)"', body)
        name = f"module.{m.group(1)}" if m else None
        return name, f"reference to undeclared module {name}{where}", "undeclared_module"
    if title == "Reference to undeclared input variable":
        m = re.search(r'input variable with the name "([^"]+)"', body)
        name = f"var.{m.group(1)}" if m else None
        return name, f"reference to undeclared input variable {name}{where}", "undeclared_variable"
    if title == "Missing required argument":
        m = re.search(r'The argument "([^"]+)" is required', body)
        name = m.group(1) if m else None
        context = f" in {source['context']}" if source.get("context") else ""
        return name, f'missing required argument "{name}"{context}{where}', "missing_argument"
    if title == "Unsupported argument":
        m = re.search(r'An argument named "([^"]+)" is not expected', body)
        name = m.group(1) if m else None
        return name, f'unsupported argument "{name}"{where}', "unsupported_argument"
    if title == "Value for undeclared variable":
        m = re.search(r'variable named "([^"]+)"', body)
        name = m.group(1) if m else None
        return name, f'a value was given for undeclared variable "{name}"', "undeclared_variable_value"
    if title.startswith(("Unclosed", "Argument or block definition required", "Invalid expression", "Missing newline", "Unexpected")):
        return None, f"syntax error: {title.lower()}{where}", "parse_error"
    return (quoted[0] if quoted else None), f"{title}{where}", re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


# ------------------------------------------------------------- lock holder


def _age_text(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def lock_holder_evidence(lock: LockInfo, now: datetime, runs: list[KnownRun] | list[dict] | None = None,
                         *, expected_max: timedelta = timedelta(hours=2)) -> HolderEvidence:
    """What can be said about the holder offline: its age, its kind, the runs the caller knows about.

    Whether the holder is still alive cannot be seen from here unless `runs`
    says so; the evidence says so plainly and lists what a person must check.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    facts: list[str] = [f"lock {lock.id} on {lock.path or 'the state'} ({_holder(lock.who)}) "
                        f"for {lock.operation or 'an unknown operation'} with Terraform {lock.version or '?'}"]
    unknowns: list[str] = []
    evidence = HolderEvidence(lock_id=lock.id, who=lock.who, operation=lock.operation, created=lock.created)
    if lock.created is not None:
        age = (now - lock.created).total_seconds()
        evidence.age_seconds = age
        evidence.age_text = _age_text(max(age, 0))
        evidence.older_than_expected = age > expected_max.total_seconds()
        facts.append(f"the lock was taken {evidence.age_text} ago ({lock.created.isoformat()})")
        if evidence.older_than_expected:
            facts.append(f"that is longer than a normal run here takes ({_age_text(expected_max.total_seconds())})")
    else:
        unknowns.append("when the lock was taken (no Created time in the output)")
    host = lock.host.lower()
    evidence.looks_like_ci = any(hint in host or hint in lock.user.lower() for hint in CI_HOST_HINTS)
    if evidence.looks_like_ci:
        facts.append(f"the holder looks like a CI runner ({_holder(lock.who)}); hosted runners are discarded after their job")
    known = [r if isinstance(r, KnownRun) else KnownRun.model_validate(r) for r in runs or []]
    matching = [r for r in known if r.who and (r.who == lock.who or (lock.host and r.who in (lock.host, lock.who)))]
    if any(r.status == "running" for r in matching):
        evidence.holder_alive = True
        run = next(r for r in matching if r.status == "running")
        facts.append(f"a run by {run.who} is still running ({run.source or 'known run'}): the lock is in use")
    elif matching and all(r.status in ("finished", "failed", "cancelled") for r in matching):
        ended = [r.ended_at for r in matching if r.ended_at]
        if not lock.created or not ended or max(ended) >= lock.created:
            evidence.holder_alive = False
            run = matching[-1]
            facts.append(f"the run by {run.who} ended ({run.status}{', ' + run.ended_at.isoformat() if run.ended_at else ''}; {run.source or 'known run'})")
    if evidence.holder_alive is None:
        unknowns.append(f"whether the holder ({_holder(lock.who)}) is still running: nothing offline can tell")
    evidence.facts = facts
    evidence.unknowns = unknowns
    evidence.confirm = [
        f"no Terraform process or CI job for this workspace is still running as the holder ({_holder(lock.who)}) "
        f"(check the CI run list and `ps` on {lock.host or 'the holder host'})",
        f"nobody else is about to run Terraform on {lock.path or 'this state'} while it is unlocked",
    ]
    if lock.operation == "OperationTypeApply":
        evidence.confirm.append("the interrupted apply may have changed resources: run `terraform plan` right after unlocking and review drift before any apply")
    return evidence


def _holder(who: str | None) -> str:
    """The lock's `Who` is whatever the holder's machine said: shown only as its words, quoted."""
    from tools.actions import quoted

    return quoted("holder", who) if who else "holder unknown"


def build_unlock_proposal(lock: LockInfo, workspace_dir: str, evidence: HolderEvidence) -> Proposal:
    """An approve-class proposal to force-unlock, carrying the evidence and the typed action; never executed without approval."""
    from tools.actions import approval_line, plan_action
    from tools.catalogue import ToolCall

    action = plan_action(ToolCall(tool="terraform.force_unlock", params={"lock_id": lock.id}),
                         why=f"lock {lock.id} ({_holder(lock.who)}), {evidence.age_text} old")
    command = approval_line(action)
    verdict = judge_command(action.argv)
    lines = ["Terraform state lock left behind. Evidence about its holder:"]
    lines += [f"- {fact}" for fact in evidence.facts]
    if evidence.unknowns:
        lines.append("Not known:")
        lines += [f"- {u}" for u in evidence.unknowns]
    lines.append("Before approving, confirm:")
    lines += [f"- {c}" for c in evidence.confirm]
    lines.append(f"Workspace: {workspace_dir}")
    validation = [ValidationResult(check="guard", passed=verdict.verdict == "approve", details=describe(verdict))]
    if evidence.holder_alive is True:
        validation.append(ValidationResult(check="lock-holder", passed=False, details="the run holding the lock is still running: wait for it, do not unlock"))
    return Proposal(
        id=f"P-unlock-{lock.id[:8]}",
        kind="unlock",
        title=f"force-unlock Terraform state lock {lock.id[:8]} ({_holder(lock.who)}), held {evidence.age_text}",
        description="\n".join(lines),
        commands=[command],
        actions=[action],
        rollback=("A force-unlock cannot be undone. If the holder was still running, stop it, run `terraform plan` to "
                  "compare state with reality, and restore the previous state version from the backend's history "
                  "(S3 object versions) if two runs wrote it."),
        validation=validation,
        risk="high",
        destructive=False,
        author="diagnostician",
    )


def unlock_target(proposal: Proposal) -> tuple[str | None, str | None]:
    """The lock ID and workspace an unlock proposal names (the format build_unlock_proposal writes)."""
    lock_id = next((str(a.params.get("lock_id")) for a in proposal.actions if a.tool == "terraform.force_unlock"), None)
    for command in proposal.commands if lock_id is None else []:
        m = re.match(r"^terraform force-unlock (?:-force )?([A-Za-z0-9-]+)$", command.strip())
        if m:
            lock_id = m.group(1)
    m = re.search(r"^Workspace: (.+)$", proposal.description, re.M)
    return lock_id, (m.group(1).strip() if m else None)
