"""The host inventory: which hosts exist, how to reach them, how they are grouped.

`config/inventory.yaml` is the one place SSH settings live (user, key, the
known_hosts file, timeouts, pool sizes), so an operator reviews who the agents
can reach in one file. Host-key checking is on unless this file turns it off
by name (`insecure_skip_host_key_check: true`), and the executor logs it when
it is.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graphs.errors import ConfigError, UserInputError

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


class InventoryError(ConfigError):
    """config/inventory.yaml is missing or invalid."""


class UnknownHostError(UserInputError):
    """A host name that the inventory does not list."""


class UnknownGroupError(UserInputError):
    """A group (or host) name that the inventory does not list."""


class SSHDefaults(BaseModel):
    """Settings every host inherits unless it overrides them."""

    model_config = ConfigDict(extra="forbid")
    user: str | None = None  # None: the local user name, as ssh does
    port: int = Field(default=22, ge=1, le=65535)
    key_file: Path | None = None  # None: ssh's default keys and agent
    known_hosts: Path | None = None  # None: CLOUD_DOCTOR_KNOWN_HOSTS, else ~/.ssh/known_hosts
    connect_timeout: float = Field(default=10.0, gt=0)
    command_timeout: float = Field(default=30.0, gt=0)
    per_host_sessions: int = Field(default=8, ge=1)  # below sshd's MaxSessions (10 by default)
    global_concurrency: int = Field(default=32, ge=1)
    idle_seconds: float = Field(default=300.0, gt=0)
    output_cap_bytes: int = Field(default=64_000, ge=1)
    # Wrap the remote command in `timeout -s KILL` so it dies at its deadline even when the
    # connection drops or the server refuses the signal request (sshd refuses it for root logins).
    remote_timer: bool = True
    insecure_skip_host_key_check: bool = False


class HostEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    key_file: Path | None = None
    known_hosts: Path | None = None
    remote_timer: bool | None = None  # off for hosts without coreutils/busybox `timeout`

    @field_validator("address")
    @classmethod
    def _address_is_plain(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() for c in value):
            raise ValueError("address must be a host name or IP address without spaces")
        return value


class HostTarget(BaseModel):
    """Everything needed to open an SSH connection to one host, defaults applied."""

    name: str
    address: str
    port: int
    user: str | None
    key_file: Path | None
    known_hosts: Path | None  # None only when insecure is True
    insecure: bool
    connect_timeout: float
    command_timeout: float
    remote_timer: bool

    @property
    def where(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"{self.name} ({who}{self.address}:{self.port})"


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    defaults: SSHDefaults = Field(default_factory=SSHDefaults)
    hosts: dict[str, HostEntry] = Field(default_factory=dict)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    log_sources: list[str] = Field(default_factory=list)  # e.g. journald:nginx.service, file:/var/log/syslog
    control_host: str | None = None  # where cluster, database and account reads run (kubectl, psql, mysql, aws)

    @model_validator(mode="after")
    def _groups_name_known_hosts(self) -> "Inventory":
        for group, members in self.groups.items():
            if group in self.hosts:
                raise ValueError(f"group {group!r} has the same name as a host")
            unknown = [m for m in members if m not in self.hosts]
            if unknown:
                raise ValueError(f"group {group!r} lists hosts that are not under `hosts`: {', '.join(unknown)}")
        if self.control_host is not None and self.control_host not in self.hosts:
            raise ValueError(f"control_host {self.control_host!r} is not under `hosts`")
        return self

    @field_validator("log_sources")
    @classmethod
    def _log_sources_parse(cls, value: list[str]) -> list[str]:
        from tools.log_sources import LogSourceError, parse_log_source

        try:
            return [parse_log_source(name).name for name in value]
        except LogSourceError as exc:
            raise ValueError(str(exc)) from exc

    def target(self, host: str, *, known_hosts_fallback: Path | None = None) -> HostTarget:
        """The resolved connection settings of one host; raises UnknownHostError."""
        entry = self.hosts.get(host)
        if entry is None:
            known = ", ".join(sorted(self.hosts)) or "none"
            raise UnknownHostError(f"host {host!r} is not in the inventory (known hosts: {known}); "
                                   "add it under `hosts:` in config/inventory.yaml")
        d = self.defaults
        insecure = d.insecure_skip_host_key_check
        known_hosts = entry.known_hosts or d.known_hosts or known_hosts_fallback or DEFAULT_KNOWN_HOSTS
        key_file = entry.key_file or d.key_file
        return HostTarget(
            name=host, address=entry.address, port=entry.port or d.port, user=entry.user or d.user,
            key_file=key_file.expanduser() if key_file else None,
            known_hosts=None if insecure else known_hosts.expanduser(), insecure=insecure,
            connect_timeout=d.connect_timeout, command_timeout=d.command_timeout,
            remote_timer=d.remote_timer if entry.remote_timer is None else entry.remote_timer,
        )

    def hosts_in(self, group: str | None) -> list[str]:
        """Hosts of a group; a host name stands for itself; None means every host."""
        if group is None:
            return list(self.hosts)
        if group in self.groups:
            return list(self.groups[group])
        if group in self.hosts:
            return [group]
        known = ", ".join(sorted(self.groups)) or "none"
        raise UnknownGroupError(f"{group!r} is neither a group nor a host in the inventory (groups: {known})")

    def resolve(self, names: str | list[str]) -> list[str]:
        """A group, a host, or a list of either -> host names, in order, without repeats."""
        hosts: list[str] = []
        for name in [names] if isinstance(names, str) else names:
            for host in self.hosts_in(name):
                if host not in hosts:
                    hosts.append(host)
        return hosts


def load_inventory(path: str | Path | None = None) -> Inventory:
    """Read config/inventory.yaml (or `path`); a missing or invalid file is one InventoryError."""
    if path is None:
        from config.settings import get_settings

        path = get_settings().path("inventory.yaml")
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise InventoryError(f"inventory file {path} not found: create it (see config/inventory.yaml) "
                             "or set CLOUD_DOCTOR_INVENTORY_FILE") from exc
    except yaml.YAMLError as exc:
        raise InventoryError(f"inventory file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise InventoryError(f"inventory file {path} must be a mapping with defaults, hosts and groups")
    try:
        return Inventory.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InventoryError(f"inventory file {path} is invalid at {where}: {first['msg']}") from exc
