"""The live world: real hosts over SSH, CloudWatch Logs, the Terraform directory, a repository.

Implements the `World` protocol of tools/world.py, so every agent runs the
same code live as in replay. Commands still pass the guard twice (the
caller's GuardedTools, then SSHExecutor). Log reads do not come through
GuardedTools, so they are judged and audited here, and only `allow`-class
reads run. Metrics come from CloudWatch as config/metrics.yaml maps them; where
nothing is mapped or a read fails it answers empty and says so in `notes`
rather than inventing data.
"""

from __future__ import annotations

import copy
import logging
import os
from datetime import datetime
from pathlib import Path

import yaml

from graphs.errors import CloudDoctorError, ConfigError
from tools.audit import AuditLog
from tools.cloud_metrics import MetricsConfig, fetch_metric
from tools.cloudwatch import CloudWatchError
from tools.guard import describe, judge_command
from tools.inventory import Inventory, UnknownGroupError, UnknownHostError, load_inventory
from tools.log_sources import DEFAULT_LINES, LogSource, LogSourceError, log_source_argv, parse_log_source
from tools.redact import redact
from tools.ssh import CommandRefused, SSHExecutor
from tools.world import CommandResult, InfraRecord

logger = logging.getLogger("cloud_doctor.live_world")

REFUSED_STATUS = 126
LOG_READ_TIMEOUT_S = 30.0
LOG_OUTPUT_CAP = 2_000_000  # 2000 lines of up to ~1 kB each
TERRAFORM_SUFFIXES = (".tf", ".tfvars", ".tfvars.json")
SKIPPED_DIRS = {".git", ".terraform", ".venv", "venv", "node_modules", "__pycache__", "dist", "build", ".tox",
                ".mypy_cache", ".pytest_cache"}
REPO_FILE_MAX_BYTES = 256_000
REPO_MAX_FILES = 2_000


class LogReadError(CloudDoctorError):
    """A log source could not be read; the message says what to fix."""


class LiveWorld:
    """Tools' backends for a live incident. Create inside the event loop that will use it."""

    name = "live"

    def __init__(self, inventory: Inventory | None = None, *, executor: SSHExecutor | None = None,
                 environment: str = "dev", audit: AuditLog | None = None, log_host: str | None = None,
                 terraform_dir: Path | None = None, repo_path: Path | None = None,
                 cloudwatch_endpoint: str | None = None, region: str | None = None,
                 metrics: MetricsConfig | None = None, aws_api: bool = False):
        if inventory is None:
            inventory = executor.inventory if executor is not None else load_inventory()
        self.inventory = inventory
        self.environment = environment
        self.audit = audit
        self.executor = executor or SSHExecutor(inventory, audit=audit, environment=environment)
        self.log_host = log_host  # journald and file logs are read on this host (the alert's)
        self.terraform_dir = terraform_dir
        self.repo_path = repo_path
        self.cloudwatch_endpoint = cloudwatch_endpoint
        self.region = region
        self.metrics = metrics
        self.aws_api = aws_api  # aws.* reads through boto3 here, instead of the aws CLI on the control host
        self.notes: list[str] = []

    def for_host(self, host: str) -> "LiveWorld":
        """The same world (sharing the SSH pool) reading journald and file logs on `host`."""
        other = copy.copy(self)
        other.log_host = host
        return other

    async def close(self) -> None:
        await self.executor.close()

    # ------------------------------------------------------------- commands

    async def run_command(self, host: str, argv: list[str], timeout: float) -> CommandResult:
        if self.aws_api and argv[:1] == ["aws"]:
            return await self._aws_api(host, argv, timeout)
        try:
            return await self.executor.run(host, argv, timeout)
        except UnknownHostError as exc:
            return CommandResult(host=host, command=" ".join(argv), exit_status=255, error=str(exc))
        except CommandRefused as exc:
            return CommandResult(host=host, command=exc.command, exit_status=REFUSED_STATUS, error=str(exc))

    async def _aws_api(self, host: str, argv: list[str], timeout: float) -> CommandResult:
        """An `aws` read as its catalogue entry's boto3 call; anything without one is refused, never shelled out."""
        from tools.aws_calls import call_boto3
        from tools.catalogue import default_catalogue

        command = " ".join(argv)
        verdict = judge_command(argv, self.environment)
        tool = default_catalogue().get(verdict.tool) if verdict.tool else None
        if verdict.verdict != "allow" or tool is None or not tool.boto3 or verdict.rendered != argv:
            return CommandResult(host=host, command=command, exit_status=REFUSED_STATUS,
                                 error=f"`{command[:120]}` has no read-only AWS API form in the catalogue: {describe(verdict)}")
        status, stdout, stderr = await call_boto3(tool, verdict.params, endpoint_url=self.cloudwatch_endpoint, region=self.region,
                                                  timeout_s=timeout)
        return CommandResult(host="aws-api", command=command, exit_status=status, stdout=stdout, stderr=redact(stderr))

    def control_host(self) -> str | None:
        """Where cluster, database and account reads run: the inventory's control host, else its only host."""
        return self.inventory.control_host or self._only_host()

    def hosts_in(self, group: str | None) -> list[str]:
        try:
            return self.inventory.hosts_in(group)
        except UnknownGroupError:
            return []

    # ----------------------------------------------------------------- logs

    def log_sources(self) -> list[str]:
        return list(self.inventory.log_sources)

    async def read_logs(self, source: str, start: datetime | None = None, end: datetime | None = None) -> list[str]:
        log = parse_log_source(source)
        if log.kind == "cloudwatch":
            from tools.cloudwatch import fetch_log_events  # boto3 is imported only when CloudWatch is used

            return await fetch_log_events(log.target, start, end, endpoint_url=self.cloudwatch_endpoint,
                                          region=self.region)
        return await self._read_host_log(log, start, end)

    async def _read_host_log(self, log: LogSource, start: datetime | None, end: datetime | None) -> list[str]:
        host = self.log_host or self._only_host()
        if host is None:
            raise LogReadError(f"{log.name} is read on a host, and no host is known for this incident: "
                               "give the alert a host label, or name one with LiveWorld(log_host=...)")
        try:
            argv = log_source_argv(log, start, end, lines=DEFAULT_LINES)  # the catalogue's own rendering of the read
        except LogSourceError as exc:  # refused by a parameter's type: audited like any refusal, nothing is sent
            if self.audit is not None:
                self.audit.append("log_read", host=host, source=log.name, command="", verdict="forbid", rule="config/tools: parameter type",
                                  reason=str(exc)[:300], environment=self.environment)
            raise LogReadError(f"{log.name} is not read: {exc}") from None
        verdict = judge_command(argv, self.environment)
        if self.audit is not None:
            self.audit.append("log_read", host=host, source=log.name, command=" ".join(argv),
                              verdict=verdict.verdict, rule=verdict.rule, environment=self.environment)
        if verdict.verdict != "allow" or verdict.rendered != argv:  # reads never wait for approval; only the catalogue's read runs
            raise LogReadError(f"reading {log.name} on {host} was not sent: {describe(verdict)}")
        result = await self.executor.run(host, argv, LOG_READ_TIMEOUT_S, output_cap=LOG_OUTPUT_CAP)
        if result.error:
            raise LogReadError(f"cannot read {log.name} on {host}: {result.error}")
        if result.timed_out or result.exit_status != 0:
            why = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit status {result.exit_status}"
            raise LogReadError(redact(f"cannot read {log.name} on {host}: {why}"))
        lines = result.stdout.splitlines()
        if result.truncated and lines:
            lines.pop()  # the cap cut the last line in two
        if log.kind == "journald":
            lines = [line for line in lines if not line.startswith("-- ")]  # "-- No entries --", boot markers
        return lines

    def _only_host(self) -> str | None:
        return next(iter(self.inventory.hosts)) if len(self.inventory.hosts) == 1 else None

    # -------------------------------------------------------------- metrics

    async def read_metric(self, name: str) -> list[tuple[str, float]]:
        """CloudWatch points for a "<subject>.<kind>" name (config/metrics.yaml); empty, with a note, otherwise."""
        found = self.metrics.query_for(name) if self.metrics else None
        if found is None:
            self._note(f"metric {name!r} not read: config/metrics.yaml maps no CloudWatch query for its kind")
            return []
        query, subject = found
        try:
            return await fetch_metric(query, subject, self.metrics, endpoint_url=self.cloudwatch_endpoint, region=self.region)
        except CloudWatchError as exc:
            self._note(f"metric {name!r} not read: {exc}")
            return []

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)
            logger.info(note)

    # ------------------------------------------------------- infra and repo

    def infra(self) -> InfraRecord:
        """The Terraform directory as the authors see it: spec.yaml and the .tf/.tfvars files.

        Only the directory this world was given (CLOUD_DOCTOR_TERRAFORM_DIR): without one it has no
        Terraform, and says so in `notes`, rather than reading the repository's reference project."""
        if self.terraform_dir is None:
            self._note("no Terraform directory is configured for the live world (set CLOUD_DOCTOR_TERRAFORM_DIR)")
            return InfraRecord()
        root = Path(self.terraform_dir)
        if not root.is_dir():
            self._note(f"the configured Terraform directory {root} does not exist")
            return InfraRecord()
        spec = None
        spec_file = root / "spec.yaml"
        if spec_file.is_file():
            try:
                spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise ConfigError(f"{spec_file} is not valid YAML: {exc}") from exc
            if spec is not None and not isinstance(spec, dict):
                raise ConfigError(f"{spec_file} must be a mapping (see the infrastructure spec)")
        files = {rel: text for rel, text in _text_files(root, max_files=REPO_MAX_FILES)
                 if rel.endswith(TERRAFORM_SUFFIXES)}
        return InfraRecord(spec=spec, terraform_files=files)

    def repo(self) -> dict[str, str]:
        """The application's text files (path -> content), for the code healer; {} when none is configured."""
        if self.repo_path is None or not Path(self.repo_path).is_dir():
            return {}
        return dict(_text_files(Path(self.repo_path), max_files=REPO_MAX_FILES))


def _text_files(root: Path, *, max_files: int) -> list[tuple[str, str]]:
    """Text files under `root` (relative posix path, content), skipping VCS, caches and big or binary files."""
    found: list[tuple[str, str]] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)  # pruned, never walked into
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file() or path.stat().st_size > REPO_FILE_MAX_BYTES:
                continue
            raw = path.read_bytes()
            if b"\0" in raw[:8192]:
                continue
            try:
                found.append((path.relative_to(root).as_posix(), raw.decode("utf-8")))
            except UnicodeDecodeError:
                continue
            if len(found) >= max_files:
                logger.warning("only the first %d files of %s are read", max_files, root)
                return found
    return found
