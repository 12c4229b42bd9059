"""Guarded tool calls: the only way an agent runs a command on a host.

Every call is judged by the guard on its parsed argv, written to the audit
log, and only then (for `allow`, or for `approve` with the approvals already
recorded) handed to the world. Output is capped and redacted before it is
returned, so nothing downstream (LLM, report, Slack) sees raw secrets.
"""

from __future__ import annotations

from pydantic import BaseModel

from graphs.state import ActionRecord, CommandVerdict
from tools.audit import AuditLog
from tools.guard import judge_command
from tools.redact import redact
from tools.world import CommandResult, World

DEFAULT_OUTPUT_CAP = 64_000


class ToolOutcome(BaseModel):
    verdict: CommandVerdict
    result: CommandResult | None = None  # None when the guard refused or held it for approval
    action: ActionRecord


class GuardedTools:
    """Runs commands for one agent in one environment, through the guard."""

    def __init__(self, world: World, environment: str, audit: AuditLog, agent: str, output_cap: int = DEFAULT_OUTPUT_CAP):
        self.world = world
        self.environment = environment
        self.audit = audit
        self.agent = agent
        self.output_cap = output_cap

    async def run(self, host: str, command: str | list[str], timeout: float = 15.0, *, approved_by: list[str] | None = None) -> ToolOutcome:
        """Judge, audit and (if allowed) run one command on one host.

        `approve`-class commands run only when `approved_by` names the people
        whose approvals the approval gate recorded; `forbid` never runs.
        """
        verdict = judge_command(command, self.environment)
        shown = command if isinstance(command, str) else " ".join(command)
        runnable = verdict.verdict == "allow" or (verdict.verdict == "approve" and bool(approved_by))
        if not runnable:
            status = "refused" if verdict.verdict == "forbid" else "proposed"
            action = ActionRecord(action=shown, host=host, verdict=verdict.verdict, rule=verdict.rule, status=status, by=self.agent)
            self.audit.append(
                "command", agent=self.agent, host=host, command=shown, verdict=verdict.verdict,
                rule=verdict.rule, status=status, environment=self.environment,
            )
            return ToolOutcome(verdict=verdict, action=action)
        result = await self.world.run_command(host, verdict.argv, timeout)
        result = cap_and_redact(result, self.output_cap)
        status = "executed" if result.error is None else "failed"
        action = ActionRecord(
            action=shown, host=host, verdict=verdict.verdict, rule=verdict.rule, status=status, by=self.agent,
            output=(result.error or "")[:500],
        )
        self.audit.append(
            "command", agent=self.agent, host=host, command=shown, verdict=verdict.verdict, rule=verdict.rule,
            status=status, exit_status=result.exit_status, timed_out=result.timed_out,
            environment=self.environment, approved_by=approved_by or [],
        )
        return ToolOutcome(verdict=verdict, result=result, action=action)


def cap_and_redact(result: CommandResult, cap: int) -> CommandResult:
    """Redact secrets and cap output length, marking the result truncated."""
    stdout, stderr = redact(result.stdout), redact(result.stderr)
    truncated = result.truncated
    if len(stdout) > cap:
        stdout, truncated = stdout[:cap] + "\n[... output truncated]", True
    if len(stderr) > cap:
        stderr, truncated = stderr[:cap] + "\n[... output truncated]", True
    return result.model_copy(update={"stdout": stdout, "stderr": stderr, "truncated": truncated})
