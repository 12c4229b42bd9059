"""Guarded tool calls: the only way an agent touches a host.

`call(ToolCall)` is the typed path: the catalogue validates the parameters and
renders the argv; the guard must read that argv back as the same catalogue
entry (a rendering the guard would judge differently never runs); an action
runs only with the approvers' names and only when its argv hash is the one
that was approved. `run(host, command)` is for free-form commands (an
operator's, an old configuration's): the guard matches them to a catalogue
entry and what runs is that entry's own rendering; a command that matches
nothing runs only as an approved argv. Every decision is audited before
anything runs; output is capped and redacted before it is returned.
"""

from __future__ import annotations

from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from graphs.state import ActionRecord, CommandVerdict
from tools.audit import AuditLog
from tools.catalogue import Catalogue, RenderedCall, ToolCall, ToolParamError, argv_hash, default_catalogue
from tools.guard import judge_command
from tools.redact import redact
from tools.world import CommandResult, World

DEFAULT_OUTPUT_CAP = 64_000
Parse = Callable[..., Any]  # (parser, stdout, command=, stderr=) -> facts model, injected by the agents' context


class ToolOutcome(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    verdict: CommandVerdict
    result: CommandResult | None = None  # None when the guard refused it or it waits for approval
    action: ActionRecord
    call: RenderedCall | None = None  # what ran (or would run): the tool, its parameters and argv
    facts: dict[str, Any] | None = None  # the tool's parser output, when it has a parser and ran


class GuardedTools:
    """Runs catalogue calls (and free-form commands) for one agent in one environment, through the guard."""

    def __init__(self, world: World, environment: str, audit: AuditLog, agent: str, output_cap: int = DEFAULT_OUTPUT_CAP,
                 *, catalogue: Catalogue | None = None, parse: Parse | None = None):
        self.world = world
        self.environment = environment
        self.audit = audit
        self.agent = agent
        self.output_cap = output_cap
        self.catalogue = catalogue or default_catalogue()
        self.parse = parse

    # ---------------------------------------------------------------- typed

    async def call(self, call: ToolCall, *, timeout: float | None = None, approved_by: list[str] | None = None,
                   approved_hash: str | None = None) -> ToolOutcome:
        """Validate, render, judge, audit and (when allowed or approved) run one catalogue call.

        Raises ToolParamError for parameters the tool refuses (nothing is run or audited as run).
        """
        rendered = self.catalogue.render(call)
        tool = self.catalogue.get(rendered.tool)
        host = call.host or self._default_host()
        rendered = rendered.model_copy(update={"host": host, "argv_hash": argv_hash(host, rendered.argv)})
        verdict = judge_command(rendered.argv, self.environment, catalogue=self.catalogue)
        if verdict.tool != tool.name:
            verdict = verdict.model_copy(update={"verdict": "forbid", "rule": "executor: rendering",
                                                 "reason": f"{tool.name} rendered `{' '.join(rendered.argv)[:120]}`, which the guard reads as "
                                                           f"{verdict.tool or 'no catalogue entry'} ({verdict.reason}); it was not run"})
        return await self._execute(verdict, rendered, host, timeout or tool.timeout_s, approved_by, approved_hash,
                                   parser=tool.parser_for(rendered.params))

    # ------------------------------------------------------------ free-form

    async def run(self, host: str, command: str | list[str], timeout: float = 15.0, *, approved_by: list[str] | None = None,
                  approved_hash: str | None = None) -> ToolOutcome:
        """Judge a free-form command; a catalogue match runs as its own rendering, anything else only as an approved argv."""
        verdict = judge_command(command, self.environment, catalogue=self.catalogue)
        if verdict.tool is not None:
            tool = self.catalogue.get(verdict.tool)
            rendered = RenderedCall(tool=tool.name, kind=tool.kind, params=verdict.params, host=host, argv=verdict.rendered,
                                    argv_hash=argv_hash(host, verdict.rendered), scope=tool.scope)
            return await self._execute(verdict, rendered, host, timeout, approved_by, approved_hash, parser=tool.parser_for(verdict.params))
        return await self._execute(verdict, None, host, timeout, approved_by, approved_hash, parser=None)

    # --------------------------------------------------------------- shared

    def _default_host(self) -> str:
        pick = getattr(self.world, "control_host", None)
        host = pick() if callable(pick) else None
        if host:
            return host
        hosts = self.world.hosts_in(None)
        if not hosts:
            raise ToolParamError("no host to run on: name one, or set a control host in the inventory")
        return hosts[0]

    async def _execute(self, verdict: CommandVerdict, rendered: RenderedCall | None, host: str, timeout: float,
                       approved_by: list[str] | None, approved_hash: str | None, *, parser: str | None) -> ToolOutcome:
        argv = rendered.argv if rendered is not None else verdict.argv
        shown = " ".join(argv) if argv else ""
        record = {"tool": rendered.tool if rendered else None, "params": rendered.params if rendered else {}, "argv": argv}
        refusal = self._refusal(verdict, host, argv, approved_by, approved_hash)
        if refusal is not None:
            status, why = refusal
            action = ActionRecord(action=shown, host=host, verdict=verdict.verdict, rule=verdict.rule, status=status, by=self.agent,
                                  output=why, **record)
            self.audit.append("command", agent=self.agent, host=host, command=shown, tool=record["tool"], verdict=verdict.verdict,
                              rule=verdict.rule, status=status, why=why, environment=self.environment)
            return ToolOutcome(verdict=verdict, action=action, call=rendered)
        self.audit.append("command", agent=self.agent, host=host, command=shown, tool=record["tool"], params=record["params"],
                          verdict=verdict.verdict, rule=verdict.rule, status="started", environment=self.environment,
                          approved_by=approved_by or [], argv_hash=argv_hash(host, argv))
        result = await self.world.run_command(host, list(argv), timeout)
        result = cap_and_redact(result, self.output_cap)
        status = "executed" if result.error is None else "failed"
        action = ActionRecord(action=shown, host=host, verdict=verdict.verdict, rule=verdict.rule, status=status, by=self.agent,
                              output=(result.error or "")[:500], **record)
        self.audit.append("command", agent=self.agent, host=host, command=shown, tool=record["tool"], verdict=verdict.verdict,
                          rule=verdict.rule, status=status, exit_status=result.exit_status, timed_out=result.timed_out,
                          environment=self.environment, approved_by=approved_by or [])
        facts = None
        if parser and self.parse is not None and result.error is None:
            parsed = self.parse(parser, result.stdout, command=shown, stderr=result.stderr)
            facts = parsed.model_dump(mode="json") if hasattr(parsed, "model_dump") else dict(parsed)
        return ToolOutcome(verdict=verdict, result=result, action=action, call=rendered, facts=facts)

    @staticmethod
    def _refusal(verdict: CommandVerdict, host: str, argv: list[str], approved_by: list[str] | None,
                 approved_hash: str | None) -> tuple[str, str] | None:
        """Why this must not run now ((status, reason)), or None when it may."""
        if verdict.verdict == "forbid":
            return "refused", verdict.reason
        if verdict.verdict == "allow":
            return None
        if not approved_by:
            return "proposed", "needs approval"
        if approved_hash is None:
            return "refused", "approved without the hash of its argv: only the exact approved argv may run"
        if approved_hash != argv_hash(host, argv):
            return "refused", "the argv to run differs from the approved one (hash mismatch); nothing was run"
        return None


def cap_and_redact(result: CommandResult, cap: int) -> CommandResult:
    """Redact secrets and cap output length, marking the result truncated."""
    stdout, stderr = redact(result.stdout), redact(result.stderr)
    truncated = result.truncated
    if len(stdout) > cap:
        stdout, truncated = stdout[:cap] + "\n[... output truncated]", True
    if len(stderr) > cap:
        stderr, truncated = stderr[:cap] + "\n[... output truncated]", True
    return result.model_copy(update={"stdout": stdout, "stderr": stderr, "truncated": truncated})
