"""The Kubernetes router's executor over the catalogue: its four actions as typed catalogue calls, through the guard.

The router (tools/traffic/kubernetes.py) asks for `kubernetes.get_deployment`,
`kubernetes.scale`, `kubernetes.set_image` and `kubernetes.rollout_status` by
name with typed parameters; here each becomes the catalogue call that renders
it (config/tools/kubernetes.yaml), run by GuardedTools on the cluster's control
host. The changes run under the approvals the rollout or rollback already
has: each call is approved by those people for exactly the argv it renders
(its hash), so the guard and the audit see every kubectl the router runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tools.catalogue import ToolCall, argv_hash
from tools.executor import GuardedTools
from tools.traffic.kubernetes import ActionResult, KubernetesAction

KIND = "deployments"
ROLLED_OUT = "successfully rolled out"  # what `kubectl rollout status` prints once every pod is updated and available


def catalogue_call(action: KubernetesAction, host: str | None) -> ToolCall:
    """The catalogue call an action of the router is."""
    p = action.params
    base: dict[str, Any] = {"kind": KIND, "name": p["name"], "namespace": p["namespace"]}
    if action.name == "kubernetes.get_deployment":
        return ToolCall(tool="kubernetes.get", params={**base, "output": "json"}, host=host)
    if action.name == "kubernetes.scale":
        return ToolCall(tool="kubernetes.scale", params={**base, "replicas": int(p["replicas"])}, host=host)
    if action.name == "kubernetes.set_image":
        return ToolCall(tool="kubernetes.set_image", params={**base, "container_image": f"{p['container']}={p['image']}"}, host=host)
    if action.name == "kubernetes.rollout_status":
        return ToolCall(tool="kubernetes.rollout_status", params=base, host=host)
    raise ValueError(f"no catalogue call for {action.name}")


class CatalogueKubernetesExecutor:
    """Runs the router's actions as catalogue calls on `host`, approved by `approvers` (the rollout's approval)."""

    def __init__(self, tools: GuardedTools, host: str | None, approvers: list[str], *, poll_s: float = 2.0):
        self.tools, self.host, self.approvers, self.poll_s = tools, host, approvers, poll_s

    async def run(self, action: KubernetesAction) -> ActionResult:
        if action.name == "kubernetes.rollout_status":
            return await self._wait_rolled_out(action)
        return await self._run(action)

    async def _wait_rolled_out(self, action: KubernetesAction) -> ActionResult:
        """`rollout status --watch=false` answers at once: ask again until it says the rollout finished, or time out."""
        deadline = time.monotonic() + float(action.params.get("timeout_s", 300))
        while True:
            result = await self._run(action)
            if not result.ok or ROLLED_OUT in result.stdout:
                return result
            if time.monotonic() >= deadline:
                return ActionResult(ok=False, stdout=result.stdout, error=f"not rolled out after {action.params.get('timeout_s')} s: "
                                                                          f"{result.stdout.strip()[-300:]}")
            await asyncio.sleep(self.poll_s)

    async def _run(self, action: KubernetesAction) -> ActionResult:
        call = catalogue_call(action, self.host)
        rendered = self.tools.catalogue.render(call)
        approved: dict[str, Any] = {}
        if rendered.kind == "action":
            host = self.host or self.tools._default_host()
            approved = {"approved_by": self.approvers, "approved_hash": argv_hash(host, rendered.argv)}
        outcome = await self.tools.call(call, **approved)
        result = outcome.result
        if result is None:
            return ActionResult(ok=False, error=outcome.action.output or outcome.verdict.reason)
        if result.error or result.timed_out or result.exit_status != 0:
            return ActionResult(ok=False, stdout=result.stdout, error=(result.stderr or result.error or "timed out")[:2000])
        return ActionResult(ok=True, stdout=result.stdout)
