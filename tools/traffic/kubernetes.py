"""The Kubernetes router: a canary Deployment beside the stable one, traffic shared by replica counts.

Without a service mesh, a Service sends traffic to every ready pod that
matches its selector; a canary Deployment whose pods match the same
selector gets a share of traffic equal to its share of the pods. A step is
therefore "1 of 4 pods", never "10 %".

This router never builds a kubectl command line. It asks an executor to run
typed actions from the catalogue, by name, with typed parameters:

| action | parameters | what the catalogue renders |
| --- | --- | --- |
| `kubernetes.get_deployment` | namespace, name | `kubectl -n NS get deployment NAME -o json` (read) |
| `kubernetes.scale` | namespace, name, replicas | `kubectl -n NS scale deployment/NAME --replicas=N` |
| `kubernetes.set_image` | namespace, name, container, image | `kubectl -n NS set image deployment/NAME C=IMAGE` |
| `kubernetes.rollout_status` | namespace, name, timeout_s | `kubectl -n NS rollout status deployment/NAME --timeout=Ns` |

A rollback sets back exactly the replicas and images the snapshot read
(rather than `kubernetes.rollout_undo`, which goes to "the previous
revision", whatever that is by then), then reads both Deployments back.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from tools.traffic.base import RouteSnapshot, RouteVerification, RouterError, Share

ActionName = Literal["kubernetes.get_deployment", "kubernetes.scale", "kubernetes.set_image", "kubernetes.rollout_status"]


class KubernetesAction(BaseModel):
    """One typed action, as data: the catalogue renders and guards it; approvals come from the rollout's own."""

    name: ActionName
    params: dict[str, Any]


class ActionResult(BaseModel):
    ok: bool
    stdout: str = ""
    error: str = ""


class ActionExecutor(Protocol):
    async def run(self, action: KubernetesAction) -> ActionResult: ...


class KubernetesRouterConfig(BaseModel):
    kind: Literal["kubernetes"] = "kubernetes"
    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    stable_deployment: str = Field(pattern=r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")
    canary_deployment: str = Field(pattern=r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")
    container: str
    candidate_image: str
    stable_version: str = "stable"
    candidate_version: str = "candidate"
    rollout_timeout_s: int = Field(default=300, ge=10, le=3600)


class _DeploymentState(BaseModel):
    replicas: int
    ready: int
    image: str | None
    up_to_date: bool


def _state(raw: str, container: str, name: str) -> _DeploymentState:
    try:
        body = json.loads(raw)
        spec, status = body["spec"], body.get("status") or {}
        containers = spec["template"]["spec"]["containers"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RouterError(f"deployment {name}: the read did not return a Deployment object ({exc})") from None
    image = next((c.get("image") for c in containers if c.get("name") == container), None)
    generation = (body.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    replicas = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    return _DeploymentState(replicas=replicas, ready=int(status.get("readyReplicas") or 0), image=image,
                            up_to_date=(generation is None or observed == generation) and updated >= replicas)


class KubernetesRouter:
    kind = "kubernetes"
    unit = "pods"

    def __init__(self, config: KubernetesRouterConfig, executor: ActionExecutor):
        self.cfg = config
        self.executor = executor
        self._total: int | None = None

    def total_units(self) -> int | None:
        return self._total

    def config(self) -> dict[str, Any]:
        return self.cfg.model_dump(mode="json")

    async def _run(self, action: ActionName, **params: Any) -> str:
        result = await self.executor.run(KubernetesAction(name=action, params={"namespace": self.cfg.namespace, **params}))
        if not result.ok:
            raise RouterError(f"{action} {params.get('name', '')} failed: {result.error or result.stdout}".strip())
        return result.stdout

    async def _read(self, deployment: str) -> _DeploymentState:
        return _state(await self._run("kubernetes.get_deployment", name=deployment), self.cfg.container, deployment)

    async def _scale_and_wait(self, deployment: str, replicas: int) -> None:
        await self._run("kubernetes.scale", name=deployment, replicas=replicas)
        if replicas > 0:
            await self._run("kubernetes.rollout_status", name=deployment, timeout_s=self.cfg.rollout_timeout_s)

    async def snapshot(self) -> RouteSnapshot:
        stable = await self._read(self.cfg.stable_deployment)
        canary = await self._read(self.cfg.canary_deployment)
        self._total = stable.replicas + canary.replicas
        if self._total < 1:
            raise RouterError(f"{self.cfg.stable_deployment} has no replicas: nothing to shift traffic from")
        data = {"stable": {"replicas": stable.replicas, "image": stable.image},
                "canary": {"replicas": canary.replicas, "image": canary.image}, "total": self._total}
        return RouteSnapshot(router=self.kind, data=data, summary=(
            f"{self.cfg.stable_deployment} {stable.replicas} pods ({stable.image}), "
            f"{self.cfg.canary_deployment} {canary.replicas} pods ({canary.image})"))

    def _require_total(self) -> int:
        if self._total is None:
            raise RouterError("take a snapshot before shifting traffic: the router must know how many pods there are")
        return self._total

    async def shift(self, share: Share) -> None:
        total = self._require_total()
        units = share.units if share.units is not None else max(1, round(total * share.percent / 100))
        canary = await self._read(self.cfg.canary_deployment)
        if canary.image != self.cfg.candidate_image:
            await self._run("kubernetes.set_image", name=self.cfg.canary_deployment, container=self.cfg.container,
                            image=self.cfg.candidate_image)
        await self._scale_and_wait(self.cfg.canary_deployment, units)  # more canary pods first, then fewer stable ones
        await self._scale_and_wait(self.cfg.stable_deployment, total - units)

    async def verify_shift(self, share: Share) -> RouteVerification:
        total = self._require_total()
        units = share.units if share.units is not None else max(1, round(total * share.percent / 100))
        return await self._verify({self.cfg.canary_deployment: (units, self.cfg.candidate_image),
                                   self.cfg.stable_deployment: (total - units, None)})

    async def promote(self) -> None:
        total = self._require_total()
        await self._run("kubernetes.set_image", name=self.cfg.stable_deployment, container=self.cfg.container,
                        image=self.cfg.candidate_image)
        await self._scale_and_wait(self.cfg.stable_deployment, total)
        await self._scale_and_wait(self.cfg.canary_deployment, 0)

    async def verify_promoted(self) -> RouteVerification:
        total = self._require_total()
        return await self._verify({self.cfg.stable_deployment: (total, self.cfg.candidate_image),
                                   self.cfg.canary_deployment: (0, None)})

    async def restore(self, snapshot: RouteSnapshot) -> None:
        before = snapshot.data
        self._total = before.get("total", self._total)
        stable, canary = before["stable"], before["canary"]
        now = await self._read(self.cfg.stable_deployment)
        if stable["image"] and now.image != stable["image"]:
            await self._run("kubernetes.set_image", name=self.cfg.stable_deployment, container=self.cfg.container,
                            image=stable["image"])
        await self._scale_and_wait(self.cfg.stable_deployment, stable["replicas"])  # stable back to full first
        now = await self._read(self.cfg.canary_deployment)
        if canary["image"] and now.image != canary["image"]:
            await self._run("kubernetes.set_image", name=self.cfg.canary_deployment, container=self.cfg.container,
                            image=canary["image"])
        await self._scale_and_wait(self.cfg.canary_deployment, canary["replicas"])

    async def verify_restored(self, snapshot: RouteSnapshot) -> RouteVerification:
        before = snapshot.data
        return await self._verify({self.cfg.stable_deployment: (before["stable"]["replicas"], before["stable"]["image"]),
                                   self.cfg.canary_deployment: (before["canary"]["replicas"], before["canary"]["image"])})

    async def _verify(self, expected: dict[str, tuple[int, str | None]]) -> RouteVerification:
        problems, seen = [], []
        for name, (replicas, image) in expected.items():
            state = await self._read(name)
            seen.append(f"{name} {state.ready}/{state.replicas} ready ({state.image})")
            if state.replicas != replicas:
                problems.append(f"{name} has {state.replicas} replicas, expected {replicas}")
            elif replicas and (state.ready < replicas or not state.up_to_date):
                problems.append(f"{name} has {state.ready} of {replicas} pods ready and up to date")
            if image and replicas and state.image != image:
                problems.append(f"{name} runs {state.image}, expected {image}")
        detail = "; ".join(seen)
        return RouteVerification(verified=not problems, detail=detail if not problems else f"{'; '.join(problems)} ({detail})")
