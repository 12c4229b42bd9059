"""The world the tools act on: live backends or a recorded incident.

Agents never talk to SSH, CloudWatch or Terraform directly; they call guarded
tools, and the tools ask a `World`. Replay and evals swap in `RecordedWorld`
and keep every other line of the product the same.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.recorded_cluster import described_object, join_namespaces, split_kinds
from tools.recorded_metrics import recorded_series

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


def _outputs(value: Any) -> Any:
    """host -> command -> output, where an output may be a plain string or {stdout, stderr, exit_status}."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for host, commands in value.items():
        if not isinstance(commands, dict):
            raise ValueError(f"hosts.{host} must map commands to outputs")
        out[str(host)] = {str(cmd): ({"stdout": "" if v is None else str(v)} if not isinstance(v, dict) else v) for cmd, v in commands.items()}
    return out


class WorldAfter(BaseModel):
    """What the hosts answer once a remedy has run (a project key of the scenario format): the actions' own outputs
    are recorded with the other commands; the reads that verify them are answered from here."""

    model_config = ConfigDict(extra="forbid")
    hosts: dict[str, dict[str, RecordedOutput]] = Field(default_factory=dict)
    terraform_output: str | None = None  # what a plan prints once the remedy has run (a released lock: no lock error)

    @field_validator("hosts", mode="before")
    @classmethod
    def _outputs_may_be_strings(cls, value: Any) -> Any:
        return _outputs(value)


class WorldRecord(BaseModel):
    """The `world` block of a scenario file (../shared/scenarios/FORMAT.md)."""

    model_config = ConfigDict(extra="allow")
    hosts: dict[str, dict[str, RecordedOutput]] = Field(default_factory=dict)
    after: WorldAfter | None = None
    logs: dict[str, list[str]] = Field(default_factory=dict)
    metrics: dict[str, list[tuple[str, float]]] = Field(default_factory=dict)
    infra: InfraRecord = Field(default_factory=InfraRecord)
    repo: dict[str, str] = Field(default_factory=dict)

    @field_validator("hosts", mode="before")
    @classmethod
    def _outputs_may_be_strings(cls, value: Any) -> Any:
        return _outputs(value)

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


class CommandIdentity(BaseModel):
    """What replay compares: the catalogue entry and its identifying parameters (tools/catalogue.py)."""

    model_config = ConfigDict(frozen=True)
    tool: str
    identifying: tuple[tuple[str, str], ...] = ()
    shown: tuple[tuple[str, str], ...] = ()  # the volume parameters (`-o wide`, `--show-labels`): how much of it is printed
    scope: str = "host"
    kind: str = "read"

    def _key(self) -> tuple[Any, ...]:
        return (self.tool, self.identifying, self.scope, self.kind)

    def __eq__(self, other: object) -> bool:  # the same read however much of it is printed: `shown` only orders answers
        return isinstance(other, CommandIdentity) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def identify_command(command: str | list[str]) -> CommandIdentity | None:
    """The catalogue identity of a command as the guard reads it, or None when it is no catalogue entry."""
    from tools.catalogue import default_catalogue
    from tools.guard import judge_command

    verdict = judge_command(command)
    if verdict.tool is None:
        return None
    catalogue = default_catalogue()
    tool = catalogue.get(verdict.tool)
    name, items = catalogue.identity(tool, verdict.params)
    shown = tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in verdict.params.items()
                         if k in tool.params and tool.params[k].role == "volume" and v not in (None, False, "", [])))
    return CommandIdentity(tool=name, identifying=items, shown=shown, scope=tool.scope, kind=tool.kind)


_BARE_SQL = re.compile(r"^\s*(?:SELECT|SHOW|EXPLAIN|WITH|DESCRIBE|DESC)\b", re.I)


_FILTERS = {"head", "tail", "grep", "egrep", "sort", "uniq", "less", "more", "cat"}
_QUIET = re.compile(r"\s+2>\s*(?:/dev/null|&1)\b")


def recorded_read(command: str) -> str:
    """The read a recording ran, as people key it: `sudo dmesg -T | tail -20` ran `dmesg -T` and kept a part of
    what it printed (filters that drop or reorder lines only; a stage that rewrites the text is another read)."""
    text = _QUIET.sub("", command).strip()
    try:
        words = shlex.split(text)
    except ValueError:
        return command
    stages: list[list[str]] = [[]]
    for word in words:
        if word == "|":
            stages.append([])
        else:
            stages[-1].append(word)
    if any(not stage or stage[0] not in _FILTERS for stage in stages[1:]):
        return command
    first = stages[0]
    if first[:1] == ["sudo"] and len(first) > 1 and not first[1].startswith("-"):
        first = first[1:]
    return shlex.join(first) if first else command


def identify_recorded(command: str) -> CommandIdentity | None:
    """A recording's identity. Writers also key a database read by its SQL alone ("SHOW FULL PROCESSLIST" under
    the database's host): that is the query a mysql or psql read runs, so it answers that read (and nothing else).
    A read kept through a filter (`dmesg -T | tail -20`, recorded_read) is that read, seen in part."""
    identity = identify_command(command)
    read = recorded_read(command)
    if identity is None and read != command:
        identity = identify_command(read)
    if identity is None:
        identity = _workload_logs(read)
    if identity is None and _BARE_SQL.match(command):
        for client in (["mysql", "-e"], ["psql", "-c"]):
            identity = identify_command([*client, command.strip()])
            if identity is not None and identity.kind == "read":
                return identity
        return None
    return identity


_WORKLOAD_LOGS = re.compile(r"(?<=\s)(?:deploy|deployment|deployments|sts|statefulset|statefulsets|ds|daemonset|daemonsets|job|jobs)/([a-z0-9][a-z0-9.-]*)(?=\s|$)")
WORKLOAD_LOGS_TOOL = "kubernetes.logs@workload"


def _workload_logs(command: str) -> CommandIdentity | None:
    """`kubectl logs deploy/cart-api -n shop`: kubectl reads one pod of the workload. Recorded so, it answers a logs
    read of a pod of that workload (RecordedWorld._one_pods_logs); its identity says so under its own tool name."""
    words = command.split()
    if words[:1] != ["kubectl"] or "logs" not in words:
        return None
    m = _WORKLOAD_LOGS.search(command)
    if m is None:
        return None
    identity = identify_command(command[:m.start()] + m.group(1) + command[m.end():])
    if identity is None or identity.tool != "kubernetes.logs":
        return None
    return identity.model_copy(update={"tool": WORKLOAD_LOGS_TOOL})


class _Recording(BaseModel):
    host: str
    command: str
    normalized: str
    identity: CommandIdentity | None
    output: RecordedOutput
    after: bool = False  # answers only once an action has run


class RecordedWorld:
    """Answers from a scenario's recording with FORMAT.md's rule: a recorded output answers only the command an
    agent asked for — the same command after normalisation, or the same catalogue read with the same identifying
    parameters (a host's own recordings; for cluster, database and account reads, any host's). Anything else is
    exit status 127 "not recorded in this incident". Nothing recorded is read unless it is asked for."""

    name = "recorded"

    def __init__(self, record: WorldRecord, inventory: dict[str, list[str]] | None = None):
        self.record = record
        self._inventory = inventory or {}
        self.calls: list[tuple[str, str]] = []
        self.answered: list[tuple[str, str, str]] = []  # (host asked, command asked, recorded command that answered)
        self._index: list[_Recording] | None = None
        self._acted: set[str] = set()  # hosts an action ran on ("*": a cluster, database or account action)

    @property
    def answers_actions(self) -> bool:
        """A recording with an `after` state can run remedies: their outputs and the verifying reads are recorded."""
        return bool(self.record.after and self.record.after.hosts)

    def _recordings(self) -> list[_Recording]:
        if self._index is None:
            after = self.record.after.hosts if self.record.after else {}
            self._index = [
                _Recording(host=host, command=cmd, normalized=normalize_command(cmd), identity=identify_recorded(cmd), output=out, after=later)
                for later, hosts in ((False, self.record.hosts), (True, after)) for host, commands in hosts.items() for cmd, out in commands.items()
            ]
            self._index += [  # each kind of a recorded `kubectl get a,b,c` answers the one-kind read, after every recorded read
                _Recording(host=r.host, command=one, normalized=normalize_command(one), identity=identify_recorded(one),
                           output=r.output.model_copy(update={"stdout": block}), after=r.after)
                for r in list(self._index) if r.identity is None and r.output.exit_status == 0
                for one, block in split_kinds(r.command, r.output.stdout)
            ]
        return self._index

    async def run_command(self, host: str, argv: list[str], timeout: float) -> CommandResult:
        command = shlex.join(argv)
        self.calls.append((host, command))
        if host not in self.record.hosts:
            return CommandResult(host=host, command=command, exit_status=255, error=f"host {host!r} is not part of this recorded incident")
        wanted = normalize_command(command)
        identity = identify_command(argv)
        anywhere = identity is not None and identity.scope != "host"
        acted = host in self._acted or "*" in self._acted
        recordings = [r for r in self._recordings() if acted or not r.after]
        recordings.sort(key=lambda r: not r.after)  # after an action, the state after it answers first
        ordered = [r for r in recordings if r.host == host] + ([r for r in recordings if r.host != host] if anywhere else [])
        found = next((r for r in ordered if r.normalized == wanted), None)
        if found is None and identity is not None:  # the same read in another spelling; the same view of it first
            same = [r for r in ordered if r.identity == identity]  # CommandIdentity's equality ignores `shown`
            found = next((r for r in same if r.identity.shown == identity.shown), same[0] if same else None)  # type: ignore[union-attr]
        if found is None and identity is not None:
            found = self._one_pods_logs(identity, ordered)
        if found is None and identity is not None:
            block = self._one_described(identity, ordered)
            if block is not None:
                self.answered.append((host, command, "(its block of a recorded describe of every object of its kind)"))
                return CommandResult(host=host, command=command, exit_status=0, stdout=block)
            joined = self._all_namespaces(identity, ordered)
            if joined is not None:
                self.answered.append((host, command, "(the namespaced recordings of this read, joined)"))
                return CommandResult(host=host, command=command, exit_status=0, stdout=joined)
        if found is None:
            program = argv[0] if argv else ""
            return CommandResult(host=host, command=command, exit_status=NOT_RECORDED_STATUS, stderr=f"{program}: not recorded in this incident")
        self.answered.append((host, command, found.command))
        if identity is not None and identity.kind == "action":
            self._acted.add("*" if anywhere else host)
        return self._result(host, found.command, found.output)  # the output is the recorded command's: parse it as such

    @staticmethod
    def _one_pods_logs(identity: CommandIdentity, ordered: list[_Recording]) -> _Recording | None:
        """A pod's logs from a recorded `kubectl logs deploy/NAME` (one pod of that workload, as kubectl picks it)."""
        if identity.tool != "kubernetes.logs":
            return None
        asked = dict(identity.identifying)
        pod = json.loads(asked.pop("pod", "null") or "null")
        if not pod:
            return None
        for r in ordered:
            if r.identity is None or r.identity.tool != WORKLOAD_LOGS_TOOL:
                continue
            recorded = dict(r.identity.identifying)
            workload = json.loads(recorded.pop("pod", "null") or "null")
            if workload and recorded == asked and pod.startswith(f"{workload}-"):
                return r
        return None

    @staticmethod
    def _one_described(identity: CommandIdentity, ordered: list[_Recording]) -> str | None:
        """`kubectl describe KIND NAME -n NS` from a recorded `kubectl describe KIND -n NS`, which holds that object's block."""
        if identity.tool != "kubernetes.describe":
            return None
        wanted = dict(identity.identifying)
        name = wanted.pop("name", None)
        if name is None:
            return None
        for r in ordered:
            if r.identity is None or r.identity.tool != identity.tool or r.output.exit_status != 0:
                continue
            if dict(r.identity.identifying) == wanted:
                block = described_object(r.output.stdout, json.loads(name))
                if block is not None:
                    return block
        return None

    @staticmethod
    def _all_namespaces(identity: CommandIdentity, ordered: list[_Recording]) -> str | None:
        """`kubectl get KIND --all-namespaces` from the same read's namespaced recordings (tools/recorded_cluster.py)."""
        if identity.tool != "kubernetes.get":
            return None
        wanted = dict(identity.identifying)
        if wanted.pop("all_namespaces", None) != "true":
            return None
        by_namespace: dict[str, list[str]] = {}
        for r in ordered:
            if r.identity is None or r.identity.tool != identity.tool or r.output.exit_status != 0:
                continue
            have = dict(r.identity.identifying)
            namespace = have.pop("namespace", None)
            if namespace is not None and have == wanted:
                by_namespace.setdefault(json.loads(namespace), []).append(r.output.stdout)
        return join_namespaces(by_namespace) if by_namespace else None

    @staticmethod
    def _result(host: str, command: str, out: RecordedOutput) -> CommandResult:
        return CommandResult(
            host=host, command=command, exit_status=out.exit_status, stdout=out.stdout, stderr=out.stderr
        )

    async def read_logs(self, source: str, start: datetime | None = None, end: datetime | None = None) -> list[str]:
        return list(self.record.logs.get(source, []))

    def _series(self) -> dict[str, list]:
        """`world.metrics`, and the datapoints of recorded `aws cloudwatch get-metric-statistics` outputs (tools/recorded_metrics.py)."""
        if not hasattr(self, "_all_series"):
            commands = {cmd: out.stdout for host in self.record.hosts.values() for cmd, out in host.items() if out.exit_status == 0}
            self._all_series = {**recorded_series(commands), **self.record.metrics}
        return self._all_series

    async def read_metric(self, name: str) -> list[tuple[str, float]]:
        return list(self._series().get(name, []))

    def metric_names(self, subjects: list[str]) -> list[str]:
        """Recorded series about these subjects (`<subject>.<kind>`, the subject dotted or not): what listing
        metrics by dimension value returns in a live account. Series about other subjects are not offered."""
        wanted = {s.lower() for s in subjects if s}
        out = []
        for name in self._series():
            subject = name.rsplit(".", 1)[0].lower()
            parts = set(subject.split(".")) | {subject}
            if parts & wanted:
                out.append(name)
        return out

    def control_host(self) -> str | None:
        """Where cluster, database and account reads run: any host of the incident answers them."""
        return next(iter(self.record.hosts), None)

    def hosts_in(self, group: str | None) -> list[str]:
        if group and group in self._inventory:
            return [h for h in self._inventory[group] if h in self.record.hosts] or list(self._inventory[group])
        return list(self.record.hosts)

    def log_sources(self) -> list[str]:
        return list(self.record.logs)

    def infra(self) -> InfraRecord:
        return self.record.infra

    def terraform_output_after(self) -> str | None:
        """What a plan prints once a remedy has run, when the recording says (None: it does not, so no Terraform
        remedy runs in this replay)."""
        return self.record.after.terraform_output if self.record.after else None

    def repo(self) -> dict[str, str]:
        return dict(self.record.repo)
