"""The Terraform CLI, run safely: judged by the guard, one operation per workspace, with timeouts.

Every invocation is judged as `terraform <args>` by tools.guard before it
runs (plan/show/init/validate allow; apply/destroy/force-unlock approve and
need the approvers' names); it runs as an argv list (never a shell) in its
own process group, so a timeout stops Terraform and everything it started:
SIGINT first (Terraform then releases its state lock), SIGKILL after a grace
period. Output is streamed line by line (redacted) to an optional callback.

`apply` applies a saved plan only when the plan file still hashes to what
was approved; a state-lock error becomes `StateLockedError` with the parsed
Lock Info, never an automatic unlock.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from config.settings import Settings, get_settings
from graphs.errors import CloudDoctorError
from graphs.state import PlanSummary
from tools.audit import AuditLog
from tools.guard import describe, judge_command
from tools.plan_summary import plan_hash, summarize_plan
from tools.redact import redact
from tools.terraform_errors import LockInfo, TerraformIssue, parse_terraform_output
from tools.workspace_queue import WorkspaceQueue, queue_for

STAND_IN_MARKER = b"CLOUD_DOCTOR_TERRAFORM_STAND_IN"
OUTPUT_LIMIT = 2**26  # longest line read from Terraform (show -json prints one long line)


class TerraformError(CloudDoctorError):
    """A Terraform run did not do what was asked."""


class TerraformNotFoundError(TerraformError):
    pass


class CommandRefusedError(TerraformError):
    pass


class ApprovalRequiredError(TerraformError):
    pass


class TerraformTimeoutError(TerraformError):
    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


class TerraformCommandError(TerraformError):
    def __init__(self, message: str, exit_status: int, issues: list[TerraformIssue], output: str):
        super().__init__(message)
        self.exit_status = exit_status
        self.issues = issues
        self.output = output


class StateLockedError(TerraformCommandError):
    def __init__(self, lock: LockInfo, exit_status: int, issues: list[TerraformIssue], output: str):
        super().__init__(
            f"the Terraform state is locked by {lock.who or 'another run'} ({lock.operation or 'unknown operation'}, lock {lock.id}); "
            "find out whether that run is still going before anyone proposes a force-unlock",
            exit_status, issues, output,
        )
        self.lock = lock


class PlanChangedError(TerraformError):
    def __init__(self, expected: str, actual: str, summary: PlanSummary | None = None):
        super().__init__(
            f"the saved plan no longer matches the approved plan (approved {expected[:12]}, now {actual[:12]}): "
            "plan again and get it approved again"
        )
        self.expected, self.actual, self.summary = expected, actual, summary


class TerraformOutput(BaseModel):
    args: list[str]
    exit_status: int
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0

    @property
    def text(self) -> str:
        return (self.stdout + ("\n" + self.stderr if self.stderr.strip() else "")).strip("\n")


class PlanResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    summary: PlanSummary
    plan_json: dict[str, Any]
    plan_path: Path
    plan_hash: str  # content hash (resource_changes); what an approval names
    file_sha256: str  # this exact plan file
    destroy: bool = False
    output: str = ""


class ApplyResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    plan_path: Path
    plan_hash: str
    summary: PlanSummary
    approved_by: list[str] = Field(default_factory=list)
    output: str = ""


def is_stand_in(binary: str) -> bool:
    """True when `binary` is the test stand-in (tests/fake_terraform/terraform), not a real Terraform."""
    path = shutil.which(binary) or binary
    try:
        with open(path, "rb") as fh:
            return STAND_IN_MARKER in fh.read(4096)
    except OSError:
        return False


class TerraformRunner:
    """Runs Terraform in one working directory for one environment (whose rules the guard applies)."""

    def __init__(
        self,
        workdir: str | Path,
        *,
        binary: str | None = None,
        timeout_s: float = 1800.0,
        env: dict[str, str] | None = None,
        environment: str = "dev",
        lock_timeout: str = "20s",
        on_line: Callable[[str], Any] | None = None,
        queue: WorkspaceQueue | None = None,
        audit: AuditLog | None = None,
        settings: Settings | None = None,
        kill_grace_s: float = 10.0,
    ):
        settings = settings or get_settings()
        self.workdir = Path(workdir)
        self.binary = binary or settings.terraform_bin
        self.timeout_s = timeout_s
        self.env = dict(env or {})
        self.environment = environment
        self.lock_timeout = lock_timeout
        self.on_line = on_line
        self.queue = queue or queue_for(settings.data_dir)
        self.audit = audit
        self.kill_grace_s = kill_grace_s

    # ------------------------------------------------------------ operations

    async def version(self) -> str:
        return (await self._run(["version"])).stdout.strip()

    async def init(self, extra_args: list[str] | None = None) -> TerraformOutput:
        async with self.queue.hold(self.workdir, "init"):
            return await self._run(["init", "-input=false", "-no-color", f"-lock-timeout={self.lock_timeout}", *(extra_args or [])])

    async def validate(self) -> TerraformOutput:
        return await self._run(["validate", "-no-color"])

    async def plan(self, out: str = "tfplan", *, destroy: bool = False, extra_args: list[str] | None = None) -> PlanResult:
        """`plan -out`, then `show -json` of that file, summarised and hashed."""
        args = ["plan", "-input=false", "-no-color", f"-lock-timeout={self.lock_timeout}", f"-out={out}"]
        if destroy:
            args.append("-destroy")
        args += list(extra_args or [])
        async with self.queue.hold(self.workdir, "plan"):
            result = await self._run(args)
            plan_path = self._path(out)
            plan_json = await self._show_json(plan_path)
        plan_bytes = plan_path.read_bytes()
        summary = summarize_plan(plan_json)
        return PlanResult(
            summary=summary, plan_json=plan_json, plan_path=plan_path, plan_hash=summary.plan_hash or plan_hash(plan_json),
            file_sha256=hashlib.sha256(plan_bytes).hexdigest(), destroy=destroy, output=result.text,
        )

    async def show_json(self, plan_path: str | Path) -> dict[str, Any]:
        return await self._show_json(self._path(plan_path))

    async def apply(self, plan_path: str | Path, expected_hash: str, *, approved_by: list[str]) -> ApplyResult:
        """Apply a saved plan, only if it still hashes to the approved plan (content hash or exact file hash)."""
        path = self._path(plan_path)
        args = ["apply", "-input=false", "-no-color", f"-lock-timeout={self.lock_timeout}", self._arg_path(path)]
        self._judge(args, approved_by)  # refuse before running anything when approval is missing
        async with self.queue.hold(self.workdir, "apply"):
            plan_json = await self._show_json(path)
            summary = summarize_plan(plan_json)
            accepted = {plan_hash(plan_json), plan_hash(plan_json, path.read_bytes())}
            if expected_hash not in accepted:
                self._audit(args, "refused", approved_by, reason="plan changed since approval", expected=expected_hash, actual=summary.plan_hash)
                raise PlanChangedError(expected_hash, summary.plan_hash or "", summary)
            result = await self._run(args, approved_by=approved_by)
        return ApplyResult(plan_path=path, plan_hash=summary.plan_hash or "", summary=summary, approved_by=approved_by, output=result.text)

    async def destroy(self, plan_path: str | Path, expected_hash: str, *, approved_by: list[str]) -> ApplyResult:
        """Apply a saved destroy plan (`plan(destroy=True)`): the destruction a person reviewed, nothing else."""
        plan_json = await self.show_json(plan_path)
        others = [rc.get("address") for rc in plan_json.get("resource_changes") or []
                  if (rc.get("change") or {}).get("actions") not in (["delete"], ["no-op"], ["read"])]
        if others:
            raise TerraformError(f"this is not a destroy plan ({', '.join(map(str, others[:3]))} would be created or changed): make it with plan(destroy=True)")
        return await self.apply(plan_path, expected_hash, approved_by=approved_by)

    async def force_unlock(self, lock_id: str, *, approved_by: list[str]) -> TerraformOutput:
        """Remove a state lock. Only the deployer calls this, for an approved unlock proposal."""
        async with self.queue.hold(self.workdir, "force-unlock"):
            return await self._run(["force-unlock", "-force", lock_id], approved_by=approved_by)

    # ------------------------------------------------------------- plumbing

    def _path(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.workdir / p

    def _arg_path(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.workdir.resolve()))
        except ValueError:
            return str(path)

    def _judge(self, args: list[str], approved_by: list[str] | None) -> None:
        verdict = judge_command(["terraform", *args], self.environment)
        if verdict.verdict == "forbid":
            self._audit(args, "refused", approved_by, rule=verdict.rule)
            raise CommandRefusedError(f"refused: {describe(verdict)}")
        if verdict.verdict == "approve" and not approved_by:
            self._audit(args, "proposed", approved_by, rule=verdict.rule)
            raise ApprovalRequiredError(f"`terraform {args[0]}` needs approval first: {describe(verdict)}")

    def _audit(self, args: list[str], status: str, approved_by: list[str] | None, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.append("terraform", command="terraform " + " ".join(args), workdir=str(self.workdir),
                              environment=self.environment, status=status, approved_by=approved_by or [], **fields)

    async def _show_json(self, plan_path: Path) -> dict[str, Any]:
        result = await self._run(["show", "-json", "-no-color", self._arg_path(plan_path)], stream_stdout=False, redact_stdout=False)
        try:
            return json.loads(result.stdout)
        except ValueError as exc:
            raise TerraformError(f"`terraform show -json` did not print JSON ({exc}); is {self.binary} a Terraform binary?") from None

    async def _run(self, args: list[str], *, approved_by: list[str] | None = None, stream_stdout: bool = True,
                   redact_stdout: bool = True) -> TerraformOutput:
        self._judge(args, approved_by)
        executable = shutil.which(self.binary) or (self.binary if Path(self.binary).exists() else None)
        if executable is None:
            raise TerraformNotFoundError(f"terraform binary `{self.binary}` not found: install Terraform or set CLOUD_DOCTOR_TERRAFORM_BIN")
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1", **self.env}
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            executable, *args, cwd=self.workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=OUTPUT_LIMIT,
        )
        stdout: list[str] = []
        stderr: list[str] = []
        readers = asyncio.gather(
            self._pump(proc.stdout, stdout, stream_stdout, redact_stdout),
            self._pump(proc.stderr, stderr, True, True),
        )
        try:
            await asyncio.wait_for(asyncio.shield(readers), timeout=self.timeout_s)
            await proc.wait()
        except asyncio.TimeoutError:
            await self._stop(proc)
            await asyncio.gather(readers, return_exceptions=True)
            text = redact("".join(stdout) + "".join(stderr))
            self._audit(args, "timed_out", approved_by, timeout_s=self.timeout_s)
            raise TerraformTimeoutError(
                f"`terraform {args[0]}` ran longer than {self.timeout_s:g} s and was stopped; "
                "check the state lock before the next run", text[-4000:],
            ) from None
        except asyncio.CancelledError:
            await self._stop(proc)
            raise
        result = TerraformOutput(args=args, exit_status=proc.returncode or 0, stdout="".join(stdout), stderr="".join(stderr),
                                 duration_s=round(time.monotonic() - started, 3))
        self._audit(args, "executed" if result.exit_status == 0 else "failed", approved_by, exit_status=result.exit_status)
        if result.exit_status != 0:
            raise self._failure(result)
        return result

    async def _pump(self, stream: asyncio.StreamReader | None, sink: list[str], stream_lines: bool, redact_lines: bool) -> None:
        if stream is None:
            return
        while True:
            line = await stream.readline()
            if not line:
                return
            text = line.decode("utf-8", errors="replace")
            text = redact(text) if redact_lines else text
            sink.append(text)
            if stream_lines and self.on_line is not None:
                try:
                    outcome = self.on_line(text.rstrip("\n"))
                    if inspect.isawaitable(outcome):
                        await outcome
                except Exception:  # noqa: BLE001 - a broken progress channel must not strand a running apply
                    self.on_line = None

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        """SIGINT to the process group (Terraform stops gracefully and unlocks), SIGKILL after the grace period."""
        for sig, wait in ((signal.SIGINT, self.kill_grace_s), (signal.SIGKILL, 5.0)):
            if proc.returncode is not None:
                return
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                await asyncio.wait_for(proc.wait(), timeout=wait)
                return
            except asyncio.TimeoutError:
                continue

    def _failure(self, result: TerraformOutput) -> TerraformCommandError:
        issues = parse_terraform_output(result.stderr + "\n" + result.stdout)
        for issue in issues:
            if issue.lock is not None:
                return StateLockedError(issue.lock, result.exit_status, issues, result.text)
        first = next((i for i in issues if i.severity == "error"), None)
        what = first.summary if first else (result.stderr.strip().splitlines() or ["no error text"])[-1]
        return TerraformCommandError(f"`terraform {result.args[0]}` failed (exit {result.exit_status}): {what}",
                                     result.exit_status, issues, result.text)
