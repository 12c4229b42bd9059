"""The Kubernetes router, driven through typed kubectl actions answered from recorded outputs.

No cluster runs here. The executor answers `kubernetes.get_deployment` with
recorded `kubectl get deployment -o json` objects (tests/fixtures/kubernetes/)
as they read once the cluster has converged on what the router last asked
for: `scale` and `set_image` change the spec as kubectl would, and the
recorded status says how many pods became ready (a crash-looping image
never does). Anything else is "not recorded", as in a replay.
"""

import copy
import json
from pathlib import Path

import pytest

from agents.delivery.clock import ScaledClock
from agents.delivery.rollout import Release, run_rollout
from tests.test_traffic_alb import ScriptedProvider
from tools.delivery_policy import DeliveryPolicy
from tools.traffic.base import RouterError
from tools.traffic.kubernetes import ActionResult, KubernetesAction, KubernetesRouter, KubernetesRouterConfig
from tools.traffic.registry import router_from_config

FIXTURES = Path(__file__).parent / "fixtures" / "kubernetes"
OLD = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop/checkout:1.8.2"
NEW = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop/checkout:1.9.0"
POLICY = DeliveryPolicy.model_validate({"analysis": {"interval_seconds": 60, "count": 1, "observe_after_last_step_seconds": 60}})
CLOCK = ScaledClock(0.001)


class RecordedCluster:
    """Recorded Deployments; `never_ready` images are recorded as pods that never became ready."""

    def __init__(self, never_ready: tuple[str, ...] = ()):
        self.objects = {name: json.loads((FIXTURES / f"deployment-{name}.json").read_text()) for name in ("checkout", "checkout-canary")}
        self.never_ready = never_ready
        self.changes: list[tuple[str, dict]] = []

    def _converged(self, body: dict) -> dict:
        body = copy.deepcopy(body)
        replicas = body["spec"]["replicas"]
        image = body["spec"]["template"]["spec"]["containers"][0]["image"]
        ready = 0 if image in self.never_ready else replicas
        body["status"].update({"observedGeneration": body["metadata"]["generation"], "replicas": replicas,
                               "updatedReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready})
        if not ready:
            for key in ("readyReplicas", "availableReplicas"):
                body["status"].pop(key)  # kubectl omits zero counts
        return body

    async def run(self, action: KubernetesAction) -> ActionResult:
        params = action.params
        if params.get("namespace") != "shop" or params.get("name") not in self.objects:
            return ActionResult(ok=False, error=f'Error from server (NotFound): deployments.apps "{params.get("name")}" not found')
        body = self.objects[params["name"]]
        if action.name == "kubernetes.get_deployment":
            return ActionResult(ok=True, stdout=json.dumps(self._converged(body), indent=4))
        self.changes.append((action.name, dict(params)))
        if action.name == "kubernetes.scale":
            body["spec"]["replicas"] = params["replicas"]
        elif action.name == "kubernetes.set_image":
            body["spec"]["template"]["spec"]["containers"][0]["image"] = params["image"]
        elif action.name == "kubernetes.rollout_status":
            image = body["spec"]["template"]["spec"]["containers"][0]["image"]
            if image in self.never_ready:
                return ActionResult(ok=False, error=f'error: deployment "{params["name"]}" exceeded its progress deadline')
            return ActionResult(ok=True, stdout=f'deployment "{params["name"]}" successfully rolled out')
        else:
            return ActionResult(ok=False, error=f"{action.name}: not recorded in this incident")
        body["metadata"]["generation"] += 1
        return ActionResult(ok=True, stdout=f"deployment.apps/{params['name']} {action.name.split('.')[-1]}d")


def router(cluster: RecordedCluster) -> KubernetesRouter:
    return KubernetesRouter(KubernetesRouterConfig(namespace="shop", stable_deployment="checkout", canary_deployment="checkout-canary",
                                                   container="checkout", candidate_image=NEW), cluster)


def spec(cluster: RecordedCluster, name: str) -> tuple[int, str]:
    body = cluster.objects[name]
    return body["spec"]["replicas"], body["spec"]["template"]["spec"]["containers"][0]["image"]


async def test_steps_are_pods_and_a_healthy_canary_is_promoted():
    cluster = RecordedCluster()
    record = await run_rollout(Release(service="checkout", version="1.9.0", previous_version="1.8.2"), router(cluster),
                               ScriptedProvider([]), POLICY, clock=CLOCK)
    assert record.status == "promoted" and record.verified, record.outcome_detail
    assert [s.name for s in record.stages][:3] == ["1 of 4 pods", "2 of 4 pods", "4 of 4 pods"]
    assert spec(cluster, "checkout") == (4, NEW) and spec(cluster, "checkout-canary") == (0, NEW)
    # only typed actions, each with typed parameters, were asked for
    assert {name for name, _ in cluster.changes} <= {"kubernetes.scale", "kubernetes.set_image", "kubernetes.rollout_status"}
    assert ("kubernetes.scale", {"namespace": "shop", "name": "checkout-canary", "replicas": 1}) in cluster.changes


async def test_a_failing_canary_is_rolled_back_to_exactly_the_recorded_replicas_and_images():
    cluster = RecordedCluster()
    record = await run_rollout(Release(service="checkout", version="1.9.0", previous_version="1.8.2"), router(cluster),
                               ScriptedProvider([0.0, 0.2]), POLICY, clock=CLOCK)
    assert record.status == "rolled_back" and record.verified, record.outcome_detail
    assert spec(cluster, "checkout") == (4, OLD) and spec(cluster, "checkout-canary") == (0, OLD)
    assert "checkout 4/4 ready" in record.rollbacks[-1].detail


async def test_pods_that_never_become_ready_stop_the_rollout_and_it_is_undone():
    cluster = RecordedCluster(never_ready=(NEW,))
    record = await run_rollout(Release(service="checkout", version="1.9.0", previous_version="1.8.2"), router(cluster),
                               ScriptedProvider([]), POLICY, clock=CLOCK)
    assert record.status == "rolled_back" and record.verified
    assert "exceeded its progress deadline" in record.rollbacks[-1].reason
    assert spec(cluster, "checkout") == (4, OLD) and spec(cluster, "checkout-canary") == (0, OLD)


async def test_a_read_that_is_not_a_deployment_is_a_router_error():
    class Garbled(RecordedCluster):
        async def run(self, action):
            return ActionResult(ok=True, stdout="No resources found in shop namespace.")

    with pytest.raises(RouterError, match="did not return a Deployment"):
        await router(Garbled()).snapshot()


def test_the_router_is_rebuilt_from_a_deployment_record_only_with_an_executor():
    config = router(RecordedCluster()).config()
    with pytest.raises(RouterError, match="typed kubectl actions"):
        router_from_config(config)
    assert isinstance(router_from_config(config, kubernetes_executor=RecordedCluster()), KubernetesRouter)
    with pytest.raises(ValueError):
        KubernetesRouterConfig(namespace="shop; rm -rf /", stable_deployment="checkout", canary_deployment="c",
                               container="checkout", candidate_image=NEW)
