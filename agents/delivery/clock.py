"""Time for rollouts, injectable: the policy speaks in minutes, tests and the demo need seconds.

A `ScaledClock(0.02)` waits 1.2 s when the policy says 60 s; everything else
(counts, limits, the order of stages) stays exactly as the policy says, so a
fast demo shows the real behaviour, only faster, and says by how much.
"""

from __future__ import annotations

import asyncio


class ScaledClock:
    def __init__(self, scale: float = 1.0):
        if not 0 < scale <= 1:
            raise ValueError("the time scale must be in (0, 1]: 1 is real time, 0.02 is fifty times faster")
        self.scale = scale

    async def sleep(self, policy_seconds: float) -> None:
        """Wait for `policy_seconds` of policy time."""
        await asyncio.sleep(policy_seconds * self.scale)

    def policy_seconds(self, wall_seconds: float) -> float:
        """How much policy time `wall_seconds` of real time stand for."""
        return wall_seconds / self.scale


REAL_TIME = ScaledClock(1.0)
