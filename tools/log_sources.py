"""Named log sources and the commands that read them.

Scenarios, playbooks and evidence name logs the same way:
`cloudwatch:<log group>`, `journald:<unit>`, `file:<path>`. This module turns
a name into a `LogSource`, and a journald or file source into the argv that
reads it over SSH, as a catalogue read (`journal.unit`, `files.tail`): the
catalogue renders the argv, so the guard reads it back as that read.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel

from graphs.errors import UserInputError
from tools.catalogue import ToolCall, ToolParamError

DEFAULT_LINES = 2000
KINDS = ("cloudwatch", "journald", "file")
_UNIT = re.compile(r"[A-Za-z0-9@._:-]+")
_LOG_GROUP = re.compile(r"[A-Za-z0-9_./#-]{1,512}")


class LogSourceError(UserInputError):
    """A log source name that cannot be read as one."""


class LogSource(BaseModel):
    name: str  # exactly as written, e.g. "cloudwatch:/shop/prod/api": evidence cites it
    kind: Literal["cloudwatch", "journald", "file"]
    target: str  # the log group, the systemd unit, or the file path


def parse_log_source(name: str) -> LogSource:
    """`cloudwatch:/ecs/api` / `journald:nginx.service` / `file:/var/log/app.log` -> LogSource."""
    kind, sep, target = name.strip().partition(":")
    if not sep or kind not in KINDS or not target:
        raise LogSourceError(
            f"log source {name!r} is not one of cloudwatch:<log group>, journald:<unit>, file:<path>")
    if kind == "cloudwatch" and not _LOG_GROUP.fullmatch(target):
        raise LogSourceError(f"{target!r} is not a CloudWatch log group name")
    if kind == "journald" and not _UNIT.fullmatch(target):
        raise LogSourceError(f"{target!r} is not a systemd unit name")
    if kind == "file" and (not target.startswith("/") or any(c in target for c in "\0\n\r")):
        raise LogSourceError(f"{target!r} is not an absolute file path")
    return LogSource(name=name.strip(), kind=kind, target=target)


def journal_time(moment: datetime) -> str:
    """A time journalctl reads the same on any host: UTC, with the zone spelled out."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def log_source_call(source: LogSource | str, start: datetime | None = None, end: datetime | None = None,
                    lines: int = DEFAULT_LINES) -> ToolCall:
    """The catalogue read that reads a journald or file source (CloudWatch is read by tools/cloudwatch.py)."""
    source = parse_log_source(source) if isinstance(source, str) else source
    lines = max(1, int(lines))
    if source.kind == "journald":
        params: dict[str, object] = {"unit": source.target, "output": "short-iso", "lines": lines}
        if start is not None:
            params["since"] = journal_time(start)
        if end is not None:
            params["until"] = journal_time(end)
        return ToolCall(tool="journal.unit", params=params)
    if source.kind == "file":
        # tail has no time filter: the last lines are the ones nearest the alert.
        return ToolCall(tool="files.tail", params={"path": source.target, "lines": lines})
    raise LogSourceError(f"{source.name} is read through the CloudWatch Logs API, not a command")


def log_source_argv(source: LogSource | str, start: datetime | None = None, end: datetime | None = None,
                    lines: int = DEFAULT_LINES) -> list[str]:
    """The argv the catalogue renders for a journald or file source."""
    from tools.catalogue import default_catalogue

    try:
        return default_catalogue().render(log_source_call(source, start, end, lines)).argv
    except ToolParamError as exc:
        raise LogSourceError(f"{source if isinstance(source, str) else source.name}: {exc}") from None
