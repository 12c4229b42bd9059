"""Which doors a server opened, and why one is off: said once, in the startup log and at /api/health.

An operator who set one Slack variable out of two, or whose tokens file is
missing, reads why the door is off instead of finding out from silence.
"""

from __future__ import annotations

import logging

log = logging.getLogger("cloud_doctor.doors")


class DoorReport:
    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def on(self, door: str, how: str) -> None:
        self.states[door] = f"on: {how}"

    def off(self, door: str, why: str) -> None:
        self.states[door] = f"off: {why}"

    def lines(self) -> list[str]:
        return [f"door {door} {state}" for door, state in self.states.items()]

    def log(self) -> None:
        for line in self.lines():
            log.warning(line)  # warning: shown at the default log level, where operators look
