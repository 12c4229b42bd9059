"""Verification reads: after an action runs, the symptom must be gone before anything reports success.

A `Check` (config/tools/) names a read tool, its parameters (the action's own
typed values fill `{param}`) and a JMESPath predicate over the read's parsed
facts. `run_check` waits, reads, retries, and returns what it saw: passed,
failed (the predicate was false), or unknown (the read failed or had no facts
to judge) — an unknown is never a pass.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import jmespath
from pydantic import BaseModel

from tools.catalogue import Check, ToolCall, ToolParamError, fill_check_params

Outcome = Literal["passed", "failed", "unknown"]


class CheckResult(BaseModel):
    outcome: Outcome
    tool: str
    expect: str
    says: str = ""
    attempts: int = 0
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def line(self) -> str:
        what = self.says or self.expect
        return f"{self.outcome}: {what} ({self.tool}, {self.attempts} read(s)){' — ' + self.detail if self.detail else ''}"


async def run_check(tools: Any, check: Check, params: dict[str, Any], host: str | None, *, time_scale: float = 1.0) -> CheckResult:
    """Read and judge until the predicate holds or the retries run out. `time_scale` shortens waits in tests and demos."""
    filled = {k: v for k, v in fill_check_params(check, params).items() if v is not None}
    result = CheckResult(outcome="unknown", tool=check.tool, expect=check.expect, says=check.says)
    if check.wait_s > 0:
        await asyncio.sleep(check.wait_s * time_scale)
    for attempt in range(check.retries + 1):
        result.attempts = attempt + 1
        try:
            outcome = await tools.call(ToolCall(tool=check.tool, params=filled, host=host))
        except ToolParamError as exc:
            result.detail = str(exc)
            return result
        if outcome.result is None or outcome.result.error is not None or outcome.result.timed_out:
            why = outcome.action.output or (outcome.result.error or "timed out" if outcome.result is not None else "not run")
            result.outcome, result.detail = "unknown", f"the read did not run: {why}"
        elif outcome.result.exit_status == 127 and "not recorded" in (outcome.result.stderr or ""):
            result.outcome, result.detail = "unknown", "the read was not recorded in this incident"
        elif outcome.facts is not None and not outcome.facts.get("ok", True):
            result.outcome, result.detail = "unknown", f"its parser could not read the output ({outcome.facts.get('error', '')})"[:300]
        else:
            context = {**(outcome.facts or {}), "exit_status": outcome.result.exit_status, "params": params}
            try:
                holds = bool(jmespath.search(check.expect, context))
            except jmespath.exceptions.JMESPathError as exc:
                return result.model_copy(update={"outcome": "unknown", "detail": f"bad predicate: {exc}"})
            result.outcome, result.detail = ("passed", "") if holds else ("failed", "the predicate is false")
            if holds:
                return result
        if attempt < check.retries:
            await asyncio.sleep(check.interval_s * time_scale)
    return result
