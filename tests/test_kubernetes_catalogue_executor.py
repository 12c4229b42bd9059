"""The Kubernetes router driven through the catalogue: every kubectl it needs is a typed catalogue call the guard
judges, the audit records and the approvers' hash covers.

The cluster is the recorded one of test_traffic_kubernetes.py; here it is
reached as a world that receives argv (what a host would run), so what it
answers depends on what the catalogue rendered, not on the router's intent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.delivery.clock import ScaledClock
from agents.delivery.rollout import Release, run_rollout
from tests.test_traffic_alb import ScriptedProvider
from tests.test_traffic_kubernetes import NEW, OLD, POLICY, RecordedCluster, router, spec
from tools.audit import AuditLog
from tools.executor import GuardedTools
from tools.guard import judge_command
from tools.traffic.base import RouterError
from tools.traffic.kubernetes import KubernetesAction
from tools.traffic.kubernetes_actions import CatalogueKubernetesExecutor
from tools.world import CommandResult, InfraRecord

ROUTER_ACTION = {"kubernetes.get": "kubernetes.get_deployment", "kubernetes.scale": "kubernetes.scale",
                 "kubernetes.set_image": "kubernetes.set_image", "kubernetes.rollout_status": "kubernetes.rollout_status"}


class ClusterHost:
    """A control host with kubectl: argv in, the recorded cluster's answer out."""

    name = "live"

    def __init__(self, cluster: RecordedCluster):
        self.cluster = cluster
        self.argvs: list[list[str]] = []

    async def run_command(self, host: str, argv: list[str], timeout: float) -> CommandResult:
        self.argvs.append(list(argv))
        verdict = judge_command(argv, "prod")
        params = dict(verdict.params)
        name = ROUTER_ACTION[verdict.tool]
        if name == "kubernetes.set_image":
            params["container"], params["image"] = params.pop("container_image").split("=", 1)
        params.pop("kind", None)
        params.pop("output", None)
        result = await self.cluster.run(KubernetesAction(name=name, params=params))
        return CommandResult(host=host, command=" ".join(argv), exit_status=0 if result.ok else 1, stdout=result.stdout, stderr=result.error)

    async def read_logs(self, source, start=None, end=None):
        return []

    async def read_metric(self, name):
        return []

    def hosts_in(self, group):
        return ["mgmt1"]

    def control_host(self):
        return "mgmt1"

    def log_sources(self):
        return []

    def infra(self):
        return InfraRecord()

    def repo(self):
        return {}


def executor(tmp_path: Path, cluster: RecordedCluster, approvers: list[str]) -> tuple[CatalogueKubernetesExecutor, ClusterHost, AuditLog]:
    host = ClusterHost(cluster)
    audit = AuditLog(tmp_path / "audit.jsonl")
    return CatalogueKubernetesExecutor(GuardedTools(host, "prod", audit, "deployer"), "mgmt1", approvers, poll_s=0.0), host, audit


async def test_a_rollout_and_its_automatic_rollback_run_as_catalogue_calls_approved_by_hash(tmp_path):
    cluster = RecordedCluster()
    run, host, audit = executor(tmp_path, cluster, ["kim", "park"])
    k8s = router(cluster)
    k8s.executor = run
    record = await run_rollout(Release(service="checkout", version="1.9.0", previous_version="1.8.2"), k8s,
                               ScriptedProvider([0.0, 0.2]), POLICY, clock=ScaledClock(0.001))
    assert record.status == "rolled_back" and record.verified, record.outcome_detail
    assert spec(cluster, "checkout") == (4, OLD) and spec(cluster, "checkout-canary") == (0, OLD)
    assert all(argv[0] == "kubectl" for argv in host.argvs)
    assert ["kubectl", "set", "image", "deployments", "checkout-canary", f"checkout={NEW}", "--namespace=shop"] in host.argvs
    assert ["kubectl", "get", "deployments", "checkout", "--namespace=shop", "--output=json"] in host.argvs
    changes = [e for e in audit.read() if e.get("event") == "command" and e.get("verdict") == "approve"]
    assert changes and all(e.get("approved_by") == ["kim", "park"] for e in changes), changes[:2]


async def test_without_approvers_the_guard_runs_no_change_and_the_router_stops(tmp_path):
    cluster = RecordedCluster()
    run, host, _ = executor(tmp_path, cluster, [])
    k8s = router(cluster)
    k8s.executor = run
    with pytest.raises(RouterError, match="kubernetes.scale checkout-canary failed"):
        await k8s._run("kubernetes.scale", name="checkout-canary", replicas=1)
    assert not any(argv[1] == "scale" for argv in host.argvs), "a change ran without approval"
    assert spec(cluster, "checkout-canary")[0] == 0


async def test_a_rollout_that_does_not_finish_in_time_is_a_failed_status(tmp_path):
    class Slow(RecordedCluster):
        async def run(self, action):
            result = await super().run(action)
            if action.name == "kubernetes.rollout_status":
                return result.model_copy(update={"stdout": 'Waiting for deployment "checkout" rollout to finish: 1 of 4 updated replicas are available...\n'})
            return result

    run, _, _ = executor(tmp_path, Slow(), ["kim"])
    result = await run.run(KubernetesAction(name="kubernetes.rollout_status", params={"namespace": "shop", "name": "checkout", "timeout_s": 0}))
    assert not result.ok and "not rolled out after 0 s" in result.error and "1 of 4" in result.error
