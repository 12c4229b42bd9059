"""The interface every traffic router implements, and the records it returns.

A router can (1) say what is routed now, exactly, as a snapshot; (2) give the
candidate a share of the traffic; (3) make the candidate the only version
(promotion; the old one is retired); (4) put a snapshot back; and (5) read
the live state back to verify each of those. A rollback is `restore(snapshot)`
followed by `verify_restored(snapshot)`: it restores exactly what the rollout
replaced, and it is done only when the verification says so.

Shares are asked for in percent; a router whose unit is hosts or pods turns a
percentage into whole units and says so ("1 of 3 hosts", never "10 %").
"""

from __future__ import annotations

import math
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from graphs.errors import CloudDoctorError

Unit = Literal["percent", "hosts", "pods"]


class RouterError(CloudDoctorError):
    """The router could not read or change the routing; the message says what failed."""


class RouteSnapshot(BaseModel):
    """Exactly what was routed before a change, in the router's own terms (enough to put it back)."""

    router: str
    data: dict[str, Any] = Field(default_factory=dict)
    summary: str = ""


class RouteVerification(BaseModel):
    verified: bool
    detail: str


class Share(BaseModel):
    """One step of a rollout: the candidate's share, as asked and as the router can give it."""

    percent: int  # what the policy asked for
    units: int | None = None  # hosts or pods given to the candidate, where the router counts units
    total: int | None = None
    label: str  # "10 %", "1 of 3 hosts"


def plan_shares(steps: list[int], unit: Unit, total: int | None = None) -> list[Share]:
    """The policy's steps in the router's unit; steps that give the same number of units are merged."""
    shares: list[Share] = []
    for percent in steps:
        if unit == "percent" or not total:
            shares.append(Share(percent=percent, label=f"{percent} %"))
            continue
        units = min(total, max(1, math.ceil(total * percent / 100)))
        if shares and shares[-1].units == units:
            continue
        noun = unit if total != 1 else unit.rstrip("s")
        shares.append(Share(percent=percent, units=units, total=total, label=f"{units} of {total} {noun}"))
    return shares


@runtime_checkable
class TrafficRouter(Protocol):
    kind: str  # "nginx", "alb", "kubernetes"
    unit: Unit

    def total_units(self) -> int | None:
        """Hosts or pods the candidate can be given (None for percentages)."""

    def config(self) -> dict[str, Any]:
        """Enough to build this router again later (a manual rollback from the deployments store)."""

    async def snapshot(self) -> RouteSnapshot: ...

    async def shift(self, share: Share) -> None: ...

    async def verify_shift(self, share: Share) -> RouteVerification: ...

    async def promote(self) -> None: ...

    async def verify_promoted(self) -> RouteVerification: ...

    async def restore(self, snapshot: RouteSnapshot) -> None: ...

    async def verify_restored(self, snapshot: RouteSnapshot) -> RouteVerification: ...
