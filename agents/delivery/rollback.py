"""Rolling a deployment back: restore exactly what it replaced, then verify that it is so.

The same function serves the automatic rollback (a failed analysis) and the
manual one (`cloud-doctor rollback`, after the policy's approvals). The
deployment's record holds the router's configuration and the snapshot the
rollout took before it changed anything; a rollback is done only when the
router reads the restored routing back and probes confirm it.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from tools.deployment_records import DeploymentRecord, RollbackRecord, StageRecord, utc_now
from tools.traffic.base import RouteSnapshot, RouterError, TrafficRouter


async def roll_back(router: TrafficRouter, record: DeploymentRecord, *, trigger: Literal["automatic", "manual"],
                    reason: str, requested_by: str = "cloud-doctor", approved_by: list[str] | None = None,
                    store: Any = None) -> RollbackRecord:
    """Restore the deployment's snapshot through `router`, verify it, and record the outcome on `record`."""
    rollback = RollbackRecord(trigger=trigger, reason=reason, requested_by=requested_by, approved_by=approved_by or [])
    stage = StageRecord(name="rollback")
    record.stages.append(stage)
    record.rollbacks.append(rollback)
    record.stage = "rollback"
    started = time.monotonic()
    if not record.snapshot:
        rollback.detail = "the deployment recorded no snapshot of what it replaced: nothing to restore"
        verified = False
    else:
        snapshot = RouteSnapshot.model_validate(record.snapshot)
        try:
            await router.restore(snapshot)
            check = await router.verify_restored(snapshot)
            verified, rollback.detail = check.verified, check.detail
        except RouterError as exc:
            verified, rollback.detail = False, f"restore failed: {exc}"
    rollback.verified = verified
    rollback.finished_at = stage.finished_at = utc_now()
    rollback.seconds = round(time.monotonic() - started, 3)
    stage.status = "passed" if verified else "failed"
    stage.verification = rollback.detail
    restored = (record.snapshot.get("summary") or "the previous routing")
    stage.detail = f"restored {restored}" if verified else f"not verified: {rollback.detail}"
    record.status = "rolled_back" if verified else "rollback_failed"
    record.outcome_detail = (f"rolled back ({trigger}): {reason}; " + (f"verified: {rollback.detail}" if verified
                             else f"THE ROLLBACK IS NOT VERIFIED: {rollback.detail}"))
    record.finished_at = record.updated_at = utc_now()
    if store is not None:
        store.save(record)
    return rollback
