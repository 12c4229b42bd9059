"""Terraform output: errors as taxonomy categories, with the lock holder when a state lock blocks.

Uses tools.terraform_errors.parse_terraform_output when it is installed;
otherwise reads the error blocks with its own patterns, so a diagnosis never
depends on the other module being present.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError
from agents.diagnosis.signals import RULES_BY_ID


class LockInfo(BaseModel):
    id: str = ""
    path: str = ""
    operation: str = ""
    who: str = ""
    version: str = ""
    created: str = ""


class TerraformIssue(BaseModel):
    category: str
    summary: str
    detail: str = ""
    resource: str = ""  # resource address or name the error names
    severity: str = "error"  # error | warning (a deprecation warning is not why a run failed)
    lock: LockInfo | None = None


class TerraformFacts(Facts):
    parser: str = "terraform"
    issues: list[TerraformIssue] = []
    source: str = "builtin"  # tools.terraform_errors or builtin

    def errors(self) -> list[TerraformIssue]:
        return [i for i in self.issues if i.severity != "warning"]

    def summary(self) -> str:
        if not self.issues:
            return "terraform output: no error"
        first = (self.errors() or self.issues)[0]
        out = f"terraform: {first.category}: {first.summary}"
        if first.lock is not None:
            out += f" (lock {first.lock.id} held by {first.lock.who}, created {first.lock.created})"
        if len(self.issues) > 1:
            out += f" (+{len(self.issues) - 1} more)"
        return out


_BOX = re.compile(r"^[│╷╵|]\s?", re.M)
_ERROR = re.compile(r"^Error: (.+)$", re.M)
_RULE_ORDER = ("tf_lock", "name_conflict", "permission", "rate", "capacity", "tf_config")


def _strip_box(text: str) -> str:
    return _BOX.sub("", text.replace("\r", ""))


def _lock(block: str) -> LockInfo | None:
    if "Lock Info" not in block and "state lock" not in block.lower():
        return None
    fields = {k.lower(): v.strip() for k, v in re.findall(r"^\s*(ID|Path|Operation|Who|Version|Created):\s*(.*)$", block, re.M)}
    return LockInfo(**fields) if fields else LockInfo()


def _builtin(text: str) -> list[TerraformIssue]:
    clean = _strip_box(text)
    starts = [m.start() for m in _ERROR.finditer(clean)]
    if not starts:
        return []
    issues: list[TerraformIssue] = []
    for k, start in enumerate(starts):
        block = clean[start: starts[k + 1] if k + 1 < len(starts) else len(clean)]
        title = _ERROR.match(block).group(1).strip()
        category = "terraform_config_error"
        for rule_id in _RULE_ORDER:
            if RULES_BY_ID[rule_id].pattern.search(block):
                category = RULES_BY_ID[rule_id].category
                break
        resource = ""
        m = re.search(r'with ([\w.\[\]"-]+),', block) or re.search(r'resource "([\w-]+)" "([\w-]+)"', block)
        if m:
            resource = ".".join(g for g in m.groups() if g)
        detail = " ".join(line.strip() for line in block.splitlines()[1:8] if line.strip())[:400]
        issues.append(TerraformIssue(category=category, summary=title[:200], detail=detail, resource=resource,
                                     lock=_lock(block) if category == "terraform_state_lock" else None))
    return issues


def _from_tools(text: str) -> list[TerraformIssue] | None:
    try:
        from tools.terraform_errors import parse_terraform_output
    except ImportError:
        return None
    try:
        found = parse_terraform_output(text)
    except Exception:  # their parser failing must not cost us the diagnosis
        return None
    issues = []
    for item in found:
        data = item.model_dump() if hasattr(item, "model_dump") else dict(getattr(item, "__dict__", {}))
        lock = data.get("lock")
        issues.append(TerraformIssue(
            category=str(data.get("category") or "terraform_config_error"),
            summary=str(data.get("summary") or data.get("title") or data.get("message") or "")[:200],
            detail=str(data.get("detail") or "")[:400],
            resource=str(data.get("resource") or data.get("address") or ""),
            severity=str(data.get("severity") or "error"),
            lock=LockInfo(**{k: str(v) for k, v in lock.items() if k in LockInfo.model_fields and v is not None}) if isinstance(lock, dict) else None,
        ))
    return issues


def parse_terraform(text: str, *, command: str = "", stderr: str = "") -> TerraformFacts:
    body = (text or "") + ("\n" + stderr if stderr else "")
    if not body.strip():
        raise ParserError("empty terraform output")
    issues = _from_tools(body)
    source = "tools.terraform_errors"
    builtin = _builtin(body)
    if not issues:
        issues, source = builtin, "builtin"
    elif builtin:  # keep the lock details when their parser did not give them
        for mine in builtin:
            if mine.lock is not None:
                for theirs in issues:
                    if theirs.category == mine.category and theirs.lock is None:
                        theirs.lock = mine.lock
    if not issues and not re.search(r"Plan:|No changes\.|Apply complete|Terraform (has been|will perform)|Refreshing state|Initializing", body):
        raise ParserError("no `Error:` block and no plan or apply summary")
    return TerraformFacts(issues=issues, source=source)
