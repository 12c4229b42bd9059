"""The world the tools act on: live backends or a recorded incident.

Agents never talk to SSH, CloudWatch or Terraform directly; they call guarded
tools, and the tools ask a `World`. Replay and evals swap in `RecordedWorld`
and keep every other line of the product the same.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

NOT_RECORDED_STATUS = 127


class CommandResult(BaseModel):
    host: str
    command: str
    exit_status: int = 0
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    truncated: bool = False
    duration_s: float = 0.0
    error: str | None = None  # connection-level failure (unreachable host, auth, host key)

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out and self.error is None


class RecordedOutput(BaseModel):
    """A recorded command output: a plain string in the file, or a mapping with a status."""

    model_config = ConfigDict(extra="forbid")
    stdout: str = ""
    stderr: str = ""
    exit_status: int = 0


class InfraRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    spec: dict[str, Any] | None = None
    terraform_files: dict[str, str] = Field(default_factory=dict)
    terraform_output: str | None = None
    plan_json: dict[str, Any] | None = None


class WorldRecord(BaseModel):
    """The `world` block of a scenario file (../shared/scenarios/FORMAT.md)."""

    model_config = ConfigDict(extra="allow")
    hosts: dict[str, dict[str, RecordedOutput]] = Field(default_factory=dict)
    logs: dict[str, list[str]] = Field(default_factory=dict)
    metrics: dict[str, list[tuple[str, float]]] = Field(default_factory=dict)
    infra: InfraRecord = Field(default_factory=InfraRecord)
    repo: dict[str, str] = Field(default_factory=dict)

    @field_validator("hosts", mode="before")
    @classmethod
    def _outputs_may_be_strings(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for host, commands in value.items():
            if not isinstance(commands, dict):
                raise ValueError(f"world.hosts.{host} must map commands to outputs")
            out[str(host)] = {
                str(cmd): ({"stdout": "" if v is None else str(v)} if not isinstance(v, dict) else v)
                for cmd, v in commands.items()
            }
        return out

    @field_validator("logs", mode="before")
    @classmethod
    def _log_lines_as_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                str(k): ([str(x) for x in v] if isinstance(v, list) else str(v).splitlines())
                for k, v in value.items()
            }
        return value


@runtime_checkable
class World(Protocol):
    """What tools may ask of the world. Implementations never judge safety:
    the guard has already decided before any method here is called."""

    name: str

    async def run_command(self, host: str, argv: list[str], timeout: float) -> CommandResult: ...

    async def read_logs(
        self, source: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[str]: ...

    async def read_metric(self, name: str) -> list[tuple[str, float]]: ...

    def hosts_in(self, group: str | None) -> list[str]: ...

    def log_sources(self) -> list[str]: ...

    def infra(self) -> InfraRecord: ...

    def repo(self) -> dict[str, str]: ...


def normalize_command(command: str) -> str:
    """Whitespace-insensitive form of a command, for matching recordings."""
    try:
        return shlex.join(shlex.split(command))
    except ValueError:
        return " ".join(command.split())


class RecordedWorld:
    """Answers from a scenario's recording, with FORMAT.md's matching rule:
    the exact command, else a recorded command of the same program on that host,
    else exit status 127 "not recorded in this incident"."""

    name = "recorded"

    def __init__(self, record: WorldRecord, inventory: dict[str, list[str]] | None = None):
        self.record = record
        self._inventory = inventory or {}
        self.calls: list[tuple[str, str]] = []

    async def run_command(self, host: str, argv: list[str], timeout: float) -> CommandResult:
        command = shlex.join(argv)
        self.calls.append((host, command))
        recorded = self.record.hosts.get(host)
        if recorded is None:
            return CommandResult(
                host=host, command=command, exit_status=255,
                error=f"host {host!r} is not part of this recorded incident",
            )
        wanted = normalize_command(command)
        for cmd, out in recorded.items():
            if normalize_command(cmd) == wanted:
                return self._result(host, command, out)
        program = argv[0] if argv else ""
        for cmd, out in recorded.items():
            first = cmd.split(None, 1)[0] if cmd.strip() else ""
            if first == program:
                return self._result(host, command, out)
        return CommandResult(
            host=host, command=command, exit_status=NOT_RECORDED_STATUS,
            stderr=f"{program}: not recorded in this incident",
        )

    @staticmethod
    def _result(host: str, command: str, out: RecordedOutput) -> CommandResult:
        return CommandResult(
            host=host, command=command, exit_status=out.exit_status, stdout=out.stdout, stderr=out.stderr
        )

    async def read_logs(self, source: str, start: datetime | None = None, end: datetime | None = None) -> list[str]:
        return list(self.record.logs.get(source, []))

    async def read_metric(self, name: str) -> list[tuple[str, float]]:
        return list(self.record.metrics.get(name, []))

    def hosts_in(self, group: str | None) -> list[str]:
        if group and group in self._inventory:
            return [h for h in self._inventory[group] if h in self.record.hosts] or list(self._inventory[group])
        return list(self.record.hosts)

    def log_sources(self) -> list[str]:
        return list(self.record.logs)

    # Discovery, only a recording has it: what was captured, so diagnostics can ask for it
    # (every command still passes the guard when it is run).

    def recorded_hosts(self) -> dict[str, list[str]]:
        """host -> the command strings recorded on it, in file order."""
        return {host: list(commands) for host, commands in self.record.hosts.items()}

    def metric_names(self) -> list[str]:
        return list(self.record.metrics)

    def infra(self) -> InfraRecord:
        return self.record.infra

    def repo(self) -> dict[str, str]:
        return dict(self.record.repo)
