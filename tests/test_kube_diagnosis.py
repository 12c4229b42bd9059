"""The failure modes issue 13 names, each shown on a recorded incident of the development set.

- clear evidence does not abstain: a container OOMKilled with exit code 137 at its memory limit is a memory cause, not `unknown`;
- the workload the alert or question names decides, not the noisiest object in the namespace;
- a Job's BackoffLimitExceeded is never capacity; its pod's termination (or log) is the reason;
- an image pull's "failed to resolve reference" / "no such host" is an image pull failure, not DNS;
- "CPU throttling" is CPU at its limit, not a provider's rate limit;
- slowness stated in words ("Database call completed in 10.01 seconds") is a slow query;
- a NetworkPolicy's description is read as a policy, and a policy that blocks the path is found;
- probes, node selectors, unbound claims, selectors that match nothing, cluster DNS: each from facts, with its finding.

Each test runs the diagnostician node on the scenario's recorded world (only what it asks is answered).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.diagnosis.analyzers import analyze
from agents.diagnosis.signals import match_rules
from agents.diagnosis.situation import situation_of
from evals.scenario import load_scenario
from graphs.state import Alert, Request
from tests.test_diagnostician import cites, run, run_exact

INCIDENTS = Path(__file__).resolve().parents[1] / "evals" / "scenarios" / "incidents"


async def diagnose(name: str, tmp_path: Path):
    scn = load_scenario(INCIDENTS / f"{name}.yaml")
    update = await run(scn.to_request(), scn.world, tmp_path)
    return update, scn


def signals_of(update, scn):
    return analyze(update["evidence"], situation_of(scn.to_request())).signals


async def test_oomkilled_137_at_the_limit_does_not_abstain(tmp_path):
    update, _ = await diagnose("memory-pressure-ledger-api-256mi-limit-yaml", tmp_path)
    d = update["diagnosis"]
    assert d.root_cause in ("memory_pressure", "memory_leak") and d.confidence >= 0.5, (d.root_cause, d.confidence, d.summary)
    assert "OOMKilled" in d.summary and "137" in d.summary


async def test_how_long_a_container_lived_tells_a_leak_from_a_small_limit(tmp_path):
    leak, _ = await diagnose("memory-leak-session-api-cache-no-eviction", tmp_path)
    small, _ = await diagnose("memory-pressure-search-indexer-jvm-over-limit", tmp_path)
    assert leak["diagnosis"].root_cause == "memory_leak" and small["diagnosis"].root_cause == "memory_pressure"


async def test_the_named_workload_wins_over_a_noisy_neighbour(tmp_path):
    update, scn = await diagnose("config-error-cart-redis-url-wrong-port", tmp_path)
    assert update["diagnosis"].root_cause == "config_error", update["diagnosis"].summary
    pulls = [s for s in signals_of(update, scn) if s.category == "image_pull_failure"]
    assert pulls and max(s.weight for s in pulls) <= 1.0  # old-sync's ImagePullBackOff counts a quarter
    alert, _ = await diagnose("image-pull-failure-checkout-tag-typo", tmp_path)
    assert alert["diagnosis"].root_cause == "image_pull_failure" and "checkout" in alert["diagnosis"].summary


def test_backoff_limit_exceeded_is_no_capacity_pattern():
    assert not match_rules("Warning  BackoffLimitExceeded  job/report-export-29520360  Job has reached the specified backoff limit")
    assert [r.id for r in match_rules("Error: VcpuLimitExceeded - You have requested more vCPU capacity")] == ["capacity"]


async def test_a_failed_job_takes_its_pods_reason(tmp_path):
    oom, scn = await diagnose("memory-pressure-month-end-settlement-job-oom", tmp_path)
    assert oom["diagnosis"].root_cause == "memory_pressure"
    assert not [s for s in signals_of(oom, scn) if s.category == "capacity_exhausted" and s.weight > 0]
    slow, _ = await diagnose("db-slow-query-ledger-reconcile-job-deadline", tmp_path)
    assert slow["diagnosis"].root_cause == "db_slow_query" and cites(slow, "kubectl logs")


async def test_an_image_pulls_resolver_error_is_not_dns(tmp_path):
    line = ('Failed to pull image "registry.internal.shop.example:5000/notify/notifications:1.9.0": failed to resolve reference '
            '"registry.internal.shop.example:5000/notify/notifications:1.9.0": dial tcp: lookup registry.internal.shop.example on 10.20.0.2:53: no such host')
    assert [r.id for r in match_rules(line)] == ["image_pull"]
    update, _ = await diagnose("image-pull-failure-notifications-registry-unresolvable", tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "image_pull_failure" and d.target.get("finding") == "registry_unreachable"


async def test_cpu_throttling_is_cpu_not_rate_limiting(tmp_path):
    assert [r.id for r in match_rules("91.2% throttling of CPU; CPUThrottlingHigh")] == ["cpu_throttle"]
    update, scn = await diagnose("cpu-saturation-search-api-throttled-at-limit", tmp_path)
    assert update["diagnosis"].root_cause == "cpu_saturation" and update["diagnosis"].target.get("finding") == "cpu_throttled_at_limit"
    assert not [s for s in signals_of(update, scn) if s.category == "rate_limited" and s.direct]


async def test_slowness_in_words_is_a_slow_query(tmp_path):
    assert [r.id for r in match_rules("INFO  Database call completed in 10.01 seconds (query=orders_by_customer)")] == ["slow_words"]
    assert not match_rules("INFO  Database call completed in 0.04 seconds")
    update, _ = await diagnose("db-slow-query-orders-by-customer-in-words", tmp_path)
    assert update["diagnosis"].root_cause == "db_slow_query"


@pytest.mark.parametrize("name,category,finding", [
    ("config-error-orders-readiness-probe-wrong-port", "config_error", "probe_misconfigured"),
    ("config-error-gpu-inference-node-selector", "config_error", "node_selector_mismatch"),
    ("config-error-etl-loader-untolerated-taint", "config_error", "untolerated_taint"),
    ("config-error-warehouse-pg-storageclass-missing", "config_error", "claim_unbound"),
    ("config-error-payments-service-selector-no-endpoints", "config_error", "service_selector_mismatch"),
    ("config-error-recommend-service-target-port", "config_error", "service_port_mismatch"),
    ("config-error-shop-ingress-backend-service-renamed", "config_error", "ingress_backend_missing"),
    ("dns-failure-coredns-forward-loop", "dns_failure", "cluster_dns"),
    ("dns-failure-payouts-egress-policy-blocks-port-53", "dns_failure", "network_policy_blocks"),
    ("network-unreachable-reporting-blocked-by-db-network-policy", "network_unreachable", "network_policy_blocks"),
    ("network-unreachable-storefront-catalog-policy-admits-checkout-only", "network_unreachable", "network_policy_blocks"),
    ("capacity-exhausted-orders-namespace-quota", "capacity_exhausted", "namespace_quota"),
    ("permission-denied-pod-cleaner-rbac-forbidden", "permission_denied", "kube_rbac"),
    ("image-pull-failure-billing-missing-pull-secret", "image_pull_failure", "registry_auth"),
])
async def test_each_kubernetes_cause_from_facts_with_its_finding(name, category, finding, tmp_path):
    update, scn = await diagnose(name, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == category, d.summary
    assert d.target.get("finding") == finding and d.target.get("remedy"), d.target
    for prefix in scn.expected.evidence or []:
        assert cites(update, prefix), (prefix, d.citations)


async def test_weak_evidence_abstains_and_names_the_read_that_would_decide(tmp_path):
    update, _ = await diagnose("unknown-cart-looks-healthy", tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "unknown" and d.fix_kind == "none"
    assert d.next_checks and d.next_checks[0].startswith("run `"), d.next_checks


async def test_a_question_with_no_alert_reaches_the_workload_it_names(tmp_path):
    update, scn = await diagnose("config-error-report-api-entrypoint-missing", tmp_path)
    assert scn.input.alert is None
    d = update["diagnosis"]
    assert d.root_cause == "config_error" and d.target.get("namespace") == "reporting" and str(d.target.get("pod", "")).startswith("report-api-")


# ------------------------------------------------------------------ told in words, recorded per namespace

_BATCH_PODS = """NAME                            READY   STATUS    RESTARTS   AGE
export-worker-6c9f8d7b5-4tkxp   0/1     Evicted   0          3d2h
search-reindex-7d8b9c6f4-hm5tq  0/1     Evicted   0          2d7h
invoice-api-5b8c7d9f6-qq2lx     1/1     Running   0          6d
"""


def _evictions(resource: str) -> str:
    return ("LAST SEEN   TYPE      REASON    OBJECT                               MESSAGE\n"
            f"25m         Warning   Evicted   pod/export-worker-6c9f8d7b5-4tkxp    The node was low on resource: {resource}. Container export-worker was using 188Ki.\n"
            f"22m         Warning   Evicted   pod/search-reindex-7d8b9c6f4-hm5tq   The node was low on resource: {resource}. Container search-reindex was using 1220Ki.\n")


@pytest.mark.parametrize("resource,category", [("ephemeral-storage", "disk_full"), ("memory", "memory_pressure")])
async def test_an_eviction_is_the_resource_the_kubelet_reclaimed_not_always_memory(resource, category, tmp_path):

    request = Request(text="batch 네임스페이스 파드들이 30분째 계속 Evicted 돼요. 원인 좀 봐주세요", environment="prod")
    update, _ = await run_exact(request, {"eks-prod": {"kubectl get pods -n batch": _BATCH_PODS,
                                                       "kubectl get events -n batch": _evictions(resource)}}, tmp_path)
    assert update["diagnosis"].root_cause == category, update["diagnosis"].summary
    assert resource in update["diagnosis"].summary


async def test_a_short_name_finds_its_namespace_in_the_cluster_wide_list_and_the_reads_follow_it(tmp_path):
    """"payments" names no pod exactly; every payments-* workload lives in namespace payments, so its Services are read."""

    pods = ("NAME                            READY   STATUS    RESTARTS   AGE\n"
            "payments-api-84c6d9f7b5-5kx2m   1/1     Running   0          5d3h\n"
            "payments-api-84c6d9f7b5-gq8vt   1/1     Running   0          5d3h\n")
    endpoints = "NAME           ENDPOINTS   AGE\npayments-api   <none>      5d3h\n"
    services = ("NAME           TYPE        CLUSTER-IP       EXTERNAL-IP   PORT(S)    AGE\n"
                "payments-api   ClusterIP   172.20.141.27    <none>        8080/TCP   210d\n")
    request = Request(text="payments 서비스 호출하면 503만 나와요. 파드는 전부 Running인데 뭐가 문제인가요?", environment="prod")
    update, world = await run_exact(request, {"eks-prod": {"kubectl get pods -n payments": pods,
                                                           "kubectl get endpoints -n payments": endpoints,
                                                           "kubectl get svc -n payments": services}}, tmp_path)
    asked = [c for _, c in world.calls]
    assert any("--all-namespaces" in c for c in asked) and any("endpoints --namespace=payments" in c for c in asked)
    assert update["diagnosis"].root_cause == "config_error" and "no ready endpoints" in " ".join(
        e.summary for e in update["evidence"] if e.id in update["diagnosis"].citations)


def test_a_person_reporting_last_nights_failure_is_not_told_its_lines_are_stale():
    """An alert's start bounds what is background; a person asking in the morning about the night allows a day."""
    from datetime import datetime, timedelta, timezone

    from agents.diagnosis.analyzers.base import EvidenceView, Situation
    from agents.diagnosis.analyzers.text import analyze_text
    from agents.diagnosis.timeline import scan_lines
    from graphs.state import Evidence

    line = ('2026-04-16T15:00:00.094Z ERROR launcher: create Job report-daily failed: jobs.batch is forbidden: '
            'User "system:serviceaccount:reports:report-scheduler" cannot create resource "jobs" in API group "batch"')
    logs = Evidence(id="E2", kind="log", source="kubectl logs report-scheduler", summary="", excerpt=line,
                    facts=scan_lines([line]).model_dump(mode="json"))
    asked = datetime(2026, 4, 17, 0, 40, tzinfo=timezone.utc)  # 09:40 KST, nine hours after the line

    def rbac_weight(situation: Situation) -> float:
        return max(s.weight for s in analyze_text(EvidenceView([logs], situation)) if s.category == "permission_denied")

    in_words = rbac_weight(Situation(text="nightly reports didn't run last night", at=asked))
    after_alert = rbac_weight(Situation(alert_name="ReportsMissing", at=asked, started_at=asked - timedelta(minutes=10)))
    assert in_words == pytest.approx(2 * after_alert) and in_words >= 1.5


_SHOP_PODS = ("NAME                           READY   STATUS    RESTARTS   AGE\n"
              "storefront-6c9f8d7b5-4tkxp     1/1     Running   0          2d\n"
              "catalog-api-7d8b9c6f4-hm5tq    1/1     Running   0          2d\n")
_SHOP_POLICIES = ("NAME                POD-SELECTOR      AGE\n"
                  "catalog-api-allow   app=catalog-api   40d\n"
                  "default-deny-all    <none>            35m\n")
_SHOP_POLICIES_DESCRIBED = (
    "Name:         catalog-api-allow\nNamespace:    shop\nSpec:\n  PodSelector:     app=catalog-api\n  Allowing ingress traffic:\n"
    "    To Port: 8080/TCP\n    From:\n      PodSelector: app=storefront\n  Not affecting egress traffic\n  Policy Types: Ingress\n\n\n"
    "Name:         default-deny-all\nNamespace:    shop\nSpec:\n"
    "  PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)\n"
    "  Allowing ingress traffic:\n    <none> (Selected pods are isolated for ingress connectivity)\n"
    "  Allowing egress traffic:\n    <none> (Selected pods are isolated for egress connectivity)\n  Policy Types: Ingress, Egress\n")


async def test_a_deny_all_beside_the_allow_rule_is_found_in_the_describe_of_every_policy(tmp_path):
    """The listing shows two policies; the namespace's describe holds both, and the new deny-all is what blocks."""

    request = Request(text="storefront in the shop namespace cannot reach the catalog service since 10:35, pages time out", environment="prod")
    update, world = await run_exact(request, {"eks-prod": {"kubectl get pods -n shop": _SHOP_PODS,
                                                           "kubectl get networkpolicy -n shop": _SHOP_POLICIES,
                                                           "kubectl describe networkpolicy -n shop": _SHOP_POLICIES_DESCRIBED}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "network_unreachable" and "default-deny-all" in d.summary, d.summary
    assert any(c == "kubectl describe networkpolicies --namespace=shop" for _, c in world.calls)


async def test_a_replicaset_over_quota_seen_only_in_events_is_why_the_named_service_does_not_scale(tmp_path):
    """"the orders service" names orders-api loosely; its ReplicaSet's FailedCreate beats a neighbour's image pull."""

    pods = ("NAME                           READY   STATUS             RESTARTS   AGE\n"
            "orders-api-6c9f8d7b5-4tkxp     1/1     Running            0          2d\n"
            "legacy-sync-7d8b9c6f4-hm5tq    0/1     ImagePullBackOff   0          9d\n")
    events = ("LAST SEEN   TYPE      REASON         OBJECT                            MESSAGE\n"
              "2m          Warning   FailedCreate   replicaset/orders-api-5b8c7d9f6   Error creating: pods \"orders-api-5b8c7d9f6-x7k2p\" "
              "is forbidden: exceeded quota: orders-quota, requested: requests.cpu=500m, used: requests.cpu=3800m, limited: requests.cpu=4\n")
    request = Request(text="the orders service in orders namespace is not scaling up, new pods never appear", environment="prod")
    update, _ = await run_exact(request, {"eks-prod": {"kubectl get pods -n orders": pods, "kubectl get events -n orders": events}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "capacity_exhausted" and "exceeded quota" in d.summary, d.summary


async def test_a_service_without_endpoints_is_described_and_its_selector_held_against_the_pods_labels(tmp_path):
    """The listing says only "no endpoints"; the Service's description and `--show-labels` say which label is wrong."""

    pods = ("NAME                         READY   STATUS    RESTARTS   AGE\n"
            "billing-api-84c6d9f7b5-5kx2m   1/1     Running   0          5d3h\n")
    labelled = ("NAME                           READY   STATUS    RESTARTS   AGE    LABELS\n"
                "billing-api-84c6d9f7b5-5kx2m   1/1     Running   0          5d3h   app.kubernetes.io/name=billing-api,pod-template-hash=84c6d9f7b5\n")
    described = ("Name:              billing-api\nNamespace:         billing\nSelector:          app.kubernetes.io/name=billing\n"
                 "Type:              ClusterIP\nIP:                172.20.61.208\nPort:              http  80/TCP\nTargetPort:        http/TCP\n"
                 "Endpoints:         <none>\nEvents:            <none>\n")
    request = Request(text="billing-api in namespace billing returns 503 for every call since the GitOps sync", environment="prod")
    update, world = await run_exact(request, {"eks-prod": {
        "kubectl get pods -n billing": pods, "kubectl get pods -n billing --show-labels": labelled,
        "kubectl get endpoints -n billing": "NAME          ENDPOINTS   AGE\nbilling-api   <none>      389d\n",
        "kubectl describe svc billing-api -n billing": described}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error" and "app.kubernetes.io/name=billing and no pod matches" in d.summary, d.summary
    assert "app.kubernetes.io/name=billing-api" in d.summary
    assert cites(update, "kubectl get endpoints") and cites(update, "kubectl get pods --namespace=billing --show-labels")


async def test_an_autoscaler_at_its_ceiling_is_described_and_its_pods_usage_cited(tmp_path):
    """The listing shows the HPA at max; its description (metrics, ScalingLimited) and `kubectl top` back the finding."""

    pods = "".join(f"web-7b8c9d6f5-{s}   1/1     Running   0          3d\n" for s in ("2lqzr", "4jv8k", "5xwq9", "8dnm2"))
    hpa = ("NAME   REFERENCE        TARGETS        MINPODS   MAXPODS   REPLICAS   AGE\n"
           "web    Deployment/web   cpu: 97%/60%   2         4         4          301d\n")
    described = ("Name:                                                  web\nNamespace:                                             shop\n"
                 "Reference:                                             Deployment/web\nMetrics:                                               ( current / target )\n"
                 "  resource cpu on pods  (as a percentage of request):  97% (970m) / 60%\nMin replicas:                                          2\n"
                 "Max replicas:                                          4\nDeployment pods:                                       4 current / 4 desired\n"
                 "Conditions:\n  Type            Status  Reason            Message\n  ----            ------  ------            -------\n"
                 "  ScalingLimited  True    TooManyReplicas   the desired replica count is more than the maximum replica count\nEvents:           <none>\n")
    top = "NAME                CPU(cores)   MEMORY(bytes)\n" + "".join(f"web-7b8c9d6f5-{s}   996m         611Mi\n" for s in ("2lqzr", "4jv8k"))
    request = Request(text="the web deployment in shop is slow since the campaign started, p99 is 4s", environment="prod")
    update, _ = await run_exact(request, {"eks-prod": {"kubectl get pods -n shop": "NAME   READY   STATUS    RESTARTS   AGE\n" + pods,
                                                       "kubectl get hpa -n shop": hpa, "kubectl describe hpa web -n shop": described,
                                                       "kubectl top pods -n shop": top}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "cpu_saturation" and "maximum 4 replicas" in d.summary, d.summary
    assert cites(update, "kubectl describe horizontalpodautoscalers web") and cites(update, "kubectl top pods")


async def test_the_node_pods_were_evicted_from_is_described(tmp_path):

    node = "ip-10-30-13-117.ap-northeast-2.compute.internal"
    wide = ("NAME                            READY   STATUS    RESTARTS   AGE    IP       NODE\n"
            f"export-worker-6c9f8d7b5-4tkxp   0/1     Evicted   0          3d2h   <none>   {node}\n"
            f"search-reindex-7d8b9c6f4-hm5tq  0/1     Evicted   0          2d7h   <none>   {node}\n")
    described = (f"Name:               {node}\nRoles:              <none>\nConditions:\n"
                 "  Type             Status  LastHeartbeatTime                 LastTransitionTime                Reason                       Message\n"
                 "  ----             ------  -----------------                 ------------------                ------                       -------\n"
                 "  DiskPressure     True    Mon, 27 Apr 2026 16:20:11 +0000   Mon, 27 Apr 2026 15:48:02 +0000   KubeletHasDiskPressure       kubelet has disk pressure\n"
                 "  Ready            True    Mon, 27 Apr 2026 16:20:11 +0000   Mon, 21 Apr 2026 02:11:40 +0000   KubeletReady                 kubelet is posting ready status\n")
    request = Request(text="batch 네임스페이스 파드들이 30분째 계속 Evicted 돼요. 원인 좀 봐주세요", environment="prod")
    update, world = await run_exact(request, {"eks-prod": {"kubectl get pods -n batch -o wide": wide,
                                                           "kubectl get events -n batch": _evictions("ephemeral-storage"),
                                                           f"kubectl describe node {node}": described}}, tmp_path)
    assert update["diagnosis"].root_cause == "disk_full", update["diagnosis"].summary
    assert any(c == f"kubectl describe nodes {node}" for _, c in world.calls)
    assert cites(update, "kubectl describe nodes")


async def test_a_vague_complaint_in_an_environment_with_a_cluster_sweeps_it_and_the_crashing_pods_log_says_why(tmp_path):
    """No host, no workload named: the spec gives prod a cluster, so its unhealthy pods are found; the crash-looping
    container's previous log (a read-only filesystem) is the cause, the crash loop its symptom."""

    pods = ("NAMESPACE   NAME                           READY   STATUS             RESTARTS       AGE\n"
            "media       thumbs-79d5b6c8f7-2mq9z        0/1     CrashLoopBackOff   12 (2m ago)    41m\n"
            "media       upload-api-6c9f8d7b5-4tkxp     1/1     Running            0              9d\n")
    previous = ("[2026-11-19 05:07:52 +0000] [1] [INFO] Starting gunicorn 23.0.0\n"
                "OSError: [Errno 30] Read-only file system: '/tmp/wgunicorn-x1'\n"
                "[2026-11-19 05:07:53 +0000] [1] [ERROR] Worker (pid:7) exited with code 3\n")
    request = Request(text="썸네일이 한참 뒤에 생기거나 아예 안 생긴다는 문의가 오후부터 계속 들어와요", environment="prod")
    update, world = await run_exact(request, {"bastion": {"kubectl get pods -A": pods,
                                                          "kubectl logs thumbs-79d5b6c8f7-2mq9z -n media --previous": previous}}, tmp_path)
    assert any("get pods --all-namespaces" in c for _, c in world.calls)
    d = update["diagnosis"]
    assert d.root_cause == "permission_denied" and "Read-only file system" in d.summary, d.summary
    assert d.fix_kind == "command" and "emptyDir" in d.target["remedy"]  # a manifest change, not an IAM grant


async def test_an_init_container_that_keeps_exiting_is_read_by_name_and_its_log_names_the_database(tmp_path):

    pods = ("NAME                         READY   STATUS                  RESTARTS      AGE\n"
            "orders-api-7b9c6d5f8-x2kqp   0/1     Init:CrashLoopBackOff   9 (2m ago)    31m\n")
    migrate = ("WARNING: Connection error: The connection attempt failed. (Caused by Connect timed out) Retrying in 1 sec...\n"
               "ERROR: Unable to obtain connection from database (jdbc:postgresql://orders-stg.c9xk2m4bq1zr.ap-northeast-2.rds.amazonaws.com:5432/orders)"
               " for user 'orders_app': The connection attempt failed.\nSQL State  : 08001\n")
    described = ("Name:         orders-api-7b9c6d5f8-x2kqp\nNamespace:    orders\nStatus:       Pending\nInit Containers:\n  migrate:\n"
                 "    Image:          flyway/flyway:10.17.0\n    State:          Waiting\n      Reason:       CrashLoopBackOff\n"
                 "    Last State:     Terminated\n      Reason:       Error\n      Exit Code:    1\n    Ready:          False\n    Restart Count:  9\n"
                 "Containers:\n  orders-api:\n    Image:          registry.shop.example/orders-api:4.2.0\n    State:          Waiting\n"
                 "      Reason:       PodInitializing\n    Ready:          False\n    Restart Count:  0\n")
    request = Request(text="orders-api on staging won't come up after this morning's deploy, pods stay in Init", environment="staging")
    update, world = await run_exact(request, {"eks-stg": {"kubectl get pods -n orders": pods, "kubectl describe pod orders-api-7b9c6d5f8-x2kqp -n orders": described,
                                                          "kubectl logs orders-api-7b9c6d5f8-x2kqp -n orders -c migrate --previous": migrate}}, tmp_path)
    assert any("--container=migrate" in c for _, c in world.calls)
    d = update["diagnosis"]
    assert d.root_cause == "db_unreachable" and "Unable to obtain connection from database" in d.summary, d.summary


async def test_a_service_the_client_is_refused_at_is_described_and_its_target_port_held_against_its_pods(tmp_path):

    pods = ("NAME                            READY   STATUS    RESTARTS   AGE\n"
            "cart-69c8d7b5f4-gx2mk           1/1     Running   0          2h\n"
            "checkout-web-7f5b9d6c8-4hn7r    1/1     Running   0          6d\n")
    services = ("NAME           TYPE        CLUSTER-IP      EXTERNAL-IP   PORT(S)   AGE\n"
                "cart           ClusterIP   172.20.91.14    <none>        80/TCP    300d\n"
                "checkout-web   ClusterIP   172.20.40.227   <none>        80/TCP    300d\n")
    logs = '2026-08-12T06:03:11.402Z error GET /checkout -> 502 upstream=cart err="connect ECONNREFUSED 172.20.91.14:80"\n' * 3
    service = ("Name:              cart\nNamespace:         shop\nSelector:          app=cart\nType:              ClusterIP\nIP:                172.20.91.14\n"
               "Port:              http  80/TCP\nTargetPort:        8080/TCP\nEndpoints:         10.11.21.140:8080\nEvents:            <none>\n")
    pod = ("Name:         cart-69c8d7b5f4-gx2mk\nNamespace:    shop\nLabels:       app=cart\nStatus:       Running\nContainers:\n  cart:\n    Image:          cart:0.14.0\n"
           "    Port:           3000/TCP\n    State:          Running\n    Ready:          True\n    Restart Count:  0\n")
    request = Request(text="checkout-web in shop namespace returns 502 on every checkout since the cart chart upgrade", environment="prod")
    update, world = await run_exact(request, {"eks-prod": {"kubectl get pods -n shop": pods, "kubectl get svc -n shop": services,
                                                           "kubectl logs checkout-web-7f5b9d6c8-4hn7r -n shop": logs,
                                                           "kubectl describe svc cart -n shop": service, "kubectl describe pod cart-69c8d7b5f4-gx2mk -n shop": pod}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error" and "target port 8080; its pods serve 3000" in d.summary, d.summary


async def test_a_503_at_the_edge_with_healthy_pods_finds_the_ingress_routing_to_a_service_that_is_gone(tmp_path):

    pods = ("NAMESPACE    NAME                               READY   STATUS    RESTARTS   AGE\n"
            "storefront   storefront-web-6c9f7d8b5-4vtkp     1/1     Running   0          3h\n"
            "batch        export-29621840-xk2mr              0/1     Error     0          2h\n")
    ingresses = ("NAME         CLASS   HOSTS                                       ADDRESS   PORTS     AGE\n"
                 "storefront   nginx   shop.example.co.kr,www.shop.example.co.kr   elb       80, 443   512d\n")
    described = ("Name:             storefront\nNamespace:        storefront\nIngress Class:    nginx\nRules:\n"
                 "  Host                    Path  Backends\n  ----                    ----  --------\n  shop.example.co.kr\n"
                 "                          /       web:80 (<error: services \"web\" not found>)\nAnnotations:      <none>\nEvents:           <none>\n")
    request = Request(text="쇼핑몰 접속하면 503 Service Temporarily Unavailable 떠요. 웹이 전부 안 열립니다", environment="prod")
    update, world = await run_exact(request, {"bastion": {"kubectl get pods -A": pods, "kubectl get ingress -n storefront": ingresses,
                                                          "kubectl describe ingress storefront -n storefront": described}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error" and "routes to service web, which is not found" in d.summary, d.summary


async def test_an_autoscaler_blind_to_its_metrics_leads_to_the_metrics_server_and_why_it_is_down(tmp_path):

    hpa = ("NAME          REFERENCE                TARGETS              MINPODS   MAXPODS   REPLICAS   AGE\n"
           "catalog-api   Deployment/catalog-api   cpu: <unknown>/70%   3         20        3          200d\n")
    pods = ("NAMESPACE     NAME                              READY   STATUS             RESTARTS       AGE\n"
            "catalog       catalog-api-68d9c7b5f4-2hqxn      1/1     Running            0              3d\n"
            "kube-system   metrics-server-7c9d8f6b54-qm4xz   0/1     CrashLoopBackOff   14 (2m ago)    34d\n")
    described = ("Name:         metrics-server-7c9d8f6b54-qm4xz\nNamespace:    kube-system\nStatus:       Running\nContainers:\n  metrics-server:\n"
                 "    Image:          registry.k8s.io/metrics-server/metrics-server:v0.7.2\n    State:          Waiting\n      Reason:       CrashLoopBackOff\n"
                 "    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n"
                 "      Started:      Fri, 25 Sep 2026 12:49:20 +0900\n      Finished:     Fri, 25 Sep 2026 12:50:02 +0900\n"
                 "    Ready:          False\n    Restart Count:  14\n    Limits:\n      memory:  100Mi\n")
    request = Request(text="catalog-api in the catalog namespace is slow at lunch peak and the autoscaler never adds pods", environment="prod")
    update, world = await run_exact(request, {"eks-prod": {"kubectl get pods -A": pods, "kubectl get hpa -n catalog": hpa,
                                                           "kubectl describe pod metrics-server-7c9d8f6b54-qm4xz -n kube-system": described}}, tmp_path)
    assert any(c == "kubectl describe pods metrics-server-7c9d8f6b54-qm4xz --namespace=kube-system" for _, c in world.calls)
    d = update["diagnosis"]
    assert d.root_cause in ("dependency_failure", "memory_pressure") and "metrics-server" in d.summary, d.summary
    assert [c.category for c in d.runners_up][:1] == ["memory_pressure" if d.root_cause == "dependency_failure" else "dependency_failure"]


async def test_a_namespace_named_bare_is_the_focus_and_its_hottest_pod_is_described_for_its_limit(tmp_path):
    """"the shop is slow": shop is a namespace, nothing is sick; the pod using the most CPU is at its limit (throttled)."""

    pods = ("NAMESPACE   NAME                           READY   STATUS             RESTARTS     AGE\n"
            "shop        product-api-84d6c9f7b5-fn8xk   1/1     Running            0            3d\n"
            "shop        review-api-5c7b8d9f6-2lq4x     1/1     Running            0            3d\n"
            "sandbox     kafka-ui-6d9f8c7b5-mn2kq       0/1     CrashLoopBackOff   1307         9d\n")
    top = ("NAME                           CPU(cores)   MEMORY(bytes)\nproduct-api-84d6c9f7b5-fn8xk   500m         598Mi\n"
           "review-api-5c7b8d9f6-2lq4x     36m          288Mi\n")
    described = ("Name:         product-api-84d6c9f7b5-fn8xk\nNamespace:    shop\nStatus:       Running\nContainers:\n  product-api:\n"
                 "    Image:          product-api:3.1.0\n    State:          Running\n    Ready:          True\n    Restart Count:  0\n"
                 "    Limits:\n      cpu:     500m\n      memory:  1Gi\n    Requests:\n      cpu:        250m\n      memory:     512Mi\n")
    request = Request(text="the shop is slow. product pages take 3+ seconds since the promo went out", environment="prod")
    update, world = await run_exact(request, {"bastion": {"kubectl get pods -A": pods, "kubectl top pods -n shop": top,
                                                          "kubectl describe pod product-api-84d6c9f7b5-fn8xk -n shop": described}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "cpu_saturation" and "500m of its 500m CPU limit" in d.summary, d.summary


async def test_a_node_gone_notready_after_system_oom_kills_is_memory_not_its_crashing_neighbours(tmp_path):

    node = "ip-10-50-12-201.ap-northeast-2.compute.internal"
    nodes = (f"NAME                                              STATUS     ROLES    AGE   VERSION\n{node}   NotReady   <none>   41d   v1.30.2\n"
             "ip-10-50-11-88.ap-northeast-2.compute.internal    Ready      <none>   41d   v1.30.2\n")
    pods = ("NAMESPACE   NAME                                        READY   STATUS             RESTARTS   AGE\n"
            "tools       grafana-image-renderer-5c7d8b9f4-xk2pv      0/1     CrashLoopBackOff   1022       90d\n")
    described = (f"Name:               {node}\nConditions:\n"
                 "  Type             Status    LastHeartbeatTime                 LastTransitionTime                Reason              Message\n"
                 "  ----             ------    -----------------                 ------------------                ------              -------\n"
                 "  Ready            Unknown   Wed, 22 Jul 2026 02:37:52 +0900   Wed, 22 Jul 2026 02:42:34 +0900   NodeStatusUnknown   Kubelet stopped posting node status.\n"
                 "Events:\n  Type     Reason           Age                 From     Message\n  ----     ------           ----                ----     -------\n"
                 "  Warning  SystemOOM        37m (x23 over 58m)  kubelet  System OOM encountered, victim process: python, pid: 3402275\n"
                 f"  Normal   NodeNotReady     35m                 kubelet  Node {node} status is now: NodeNotReady\n")
    request = Request(alert=Alert(name="KubeNodeNotReady", summary=f"{node} has been unready for more than 15 minutes.",
                                  labels={"node": node, "condition": "Ready"}), environment="prod")
    update, _ = await run_exact(request, {"bastion": {"kubectl get nodes": nodes, "kubectl get pods -A": pods,
                                                      f"kubectl describe node {node}": described}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "memory_pressure" and "23 system OOM kill(s)" in d.summary, d.summary


async def test_a_pod_pending_on_a_volume_node_affinity_conflict_is_a_zone_problem_fixed_in_the_node_group(tmp_path):

    pods = ("NAME         READY   STATUS    RESTARTS   AGE\nrabbitmq-0   1/1     Running   0          40d\nrabbitmq-2   0/1     Pending   0          3h\n")
    events = ("LAST SEEN   TYPE      REASON             OBJECT           MESSAGE\n"
              "2m          Warning   FailedScheduling   pod/rabbitmq-2   0/6 nodes are available: 2 node(s) had volume node affinity conflict, "
              "4 node(s) didn't match Pod's node affinity/selector. preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling.\n")
    request = Request(text="rabbitmq in messaging namespace is down to 2 of 3 since the node group change", environment="prod")
    update, _ = await run_exact(request, {"eks-prod": {"kubectl get pods -n messaging": pods, "kubectl get events -n messaging": events}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error" and "volume node affinity conflict" in d.summary, d.summary
    assert d.fix_kind == "terraform"


async def test_a_korean_complaint_about_payments_focuses_the_payments_workloads_not_a_noisy_sandbox(tmp_path):

    pods = ("NAMESPACE   NAME                                  READY   STATUS             RESTARTS   AGE\n"
            "payments    payments-api-7d9c6b5f8-l4hvn          1/1     Running            0          25m\n"
            "sandbox     pricing-experiment-6c7d8f9b4-zw4lp    0/1     ImagePullBackOff   0          2d\n")
    logs = ('2026-11-17T04:47:31Z ERROR HikariPool-1 - Exception during pool initialization: org.postgresql.util.PSQLException: '
            'FATAL: password authentication failed for user "payments_app"\n') * 4
    request = Request(text="결제가 가끔 실패해요. 오후부터 고객 문의가 계속 들어와요", environment="prod")
    update, _ = await run_exact(request, {"bastion": {"kubectl get pods -A": pods,
                                                      "kubectl logs payments-api-7d9c6b5f8-l4hvn -n payments": logs}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "permission_denied" and "payments/payments-api" in d.summary and "password authentic" in d.summary, d.summary


async def test_a_crash_looping_daemonset_whose_sibling_shows_oomkilled_is_memory(tmp_path):

    pods = ("NAME               READY   STATUS             RESTARTS      AGE\n"
            "fluent-bit-7xk2q   0/1     CrashLoopBackOff   9 (2m ago)    31m\n"
            "fluent-bit-c4m8w   0/1     OOMKilled          9 (1m ago)    31m\n"
            "fluent-bit-hq9rt   0/1     CrashLoopBackOff   8 (3m ago)    30m\n")
    request = Request(alert=Alert(name="KubePodCrashLooping", summary="logging/fluent-bit-7xk2q is restarting",
                                  labels={"namespace": "logging", "pod": "fluent-bit-7xk2q", "daemonset": "fluent-bit"}), environment="prod")
    update, _ = await run_exact(request, {"bastion": {"kubectl get pods -n logging": pods}}, tmp_path)
    assert update["diagnosis"].root_cause == "memory_pressure", update["diagnosis"].summary


async def test_a_rollout_past_its_deadline_whose_new_pods_never_get_ready_is_a_bad_deploy(tmp_path):
    """"the catalog deploy" is catalog-api; its new ReplicaSet's pod fails readiness while the old ones serve."""

    pods = ("NAME                           READY   STATUS    RESTARTS   AGE\n"
            "catalog-api-6c8b7d9f5-4dxkq    1/1     Running   0          9d\n"
            "catalog-api-6c8b7d9f5-9wzhm    1/1     Running   0          9d\n"
            "catalog-api-84f6c5b7d9-qx7kp   0/1     Running   0          26m\n")
    described = ("Name:                   catalog-api\nNamespace:              catalog\nSelector:               app=catalog-api\n"
                 "Replicas:               2 desired | 1 updated | 3 total | 2 available | 1 unavailable\nStrategyType:           RollingUpdate\n"
                 "Conditions:\n  Type           Status  Reason\n  ----           ------  ------\n"
                 "  Available      True    MinimumReplicasAvailable\n  Progressing    False   ProgressDeadlineExceeded\n"
                 "OldReplicaSets:  catalog-api-6c8b7d9f5 (2/2 replicas created)\nNewReplicaSet:   catalog-api-84f6c5b7d9 (1/1 replicas created)\n")
    request = Request(text="the catalog deploy has been hanging in the pipeline for 25 min, argo shows Degraded. can someone check?", environment="prod")
    update, world = await run_exact(request, {"bastion": {"kubectl get pods -n catalog": pods, "kubectl describe deploy catalog-api -n catalog": described}},
                                    tmp_path)
    assert any(c == "kubectl describe deployments catalog-api --namespace=catalog" for _, c in world.calls)
    d = update["diagnosis"]
    assert d.root_cause == "bad_deploy" and "never become ready" in d.summary, d.summary


async def test_a_drain_stuck_on_a_cordoned_node_is_the_budget_that_allows_no_disruption(tmp_path):

    node = "ip-10-20-42-95.ap-northeast-2.compute.internal"
    nodes = ("NAME                                              STATUS                     ROLES    AGE   VERSION\n"
             f"{node}    Ready,SchedulingDisabled   <none>   24d   v1.30.4\n"
             "ip-10-20-41-17.ap-northeast-2.compute.internal    Ready                      <none>   24d   v1.30.4\n")
    pods = ("NAMESPACE   NAME                         READY   STATUS    RESTARTS   AGE   IP            NODE\n"
            f"ledger      pgbouncer-7c9d5f6b8-wq4zt    1/1     Running   0          58d   10.20.42.11   {node}\n"
            "ledger      pgbouncer-7c9d5f6b8-x2kzp    1/1     Running   0          58d   10.20.41.12   ip-10-20-41-17.ap-northeast-2.compute.internal\n")
    budgets = ("NAMESPACE   NAME        MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE\n"
               "ledger      pgbouncer   2               N/A               0                     58d\n"
               "shop        cart-api    N/A             1                 1                     201d\n")
    request = Request(text="노드 그룹 업그레이드가 한 시간째 안 끝나요. 노드 하나가 SchedulingDisabled로 멈춰 있어요. 뭐가 막고 있는지 봐주세요", environment="prod")
    update, _ = await run_exact(request, {"bastion": {"kubectl get nodes": nodes, "kubectl get pods -A -o wide": pods, "kubectl get pdb -A": budgets}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error" and "PodDisruptionBudget ledger/pgbouncer" in d.summary and "allows 0 disruptions" in d.summary, d.summary


async def test_a_report_that_stopped_arriving_is_the_cronjob_left_suspended(tmp_path):

    crons = ("NAMESPACE   NAME                SCHEDULE       TIMEZONE     SUSPEND   ACTIVE   LAST SCHEDULE   AGE\n"
             "finance     invoice-sync        */15 * * * *   Asia/Seoul   False     0        10m             402d\n"
             "finance     settlement-report   0 6 * * *      Asia/Seoul   True      0        3d3h            402d\n"
             "ml          feature-backfill    0 * * * *      Asia/Seoul   True      0        20d             90d\n")
    pods = ("NAMESPACE   NAME                          READY   STATUS    RESTARTS   AGE\n"
            "finance     invoice-sync-29397960-x9wrd   0/1     Completed 0          10m\n")
    request = Request(text="매일 아침 오는 정산 리포트 메일이 토요일부터 안 와요. 확인 부탁드려요", environment="prod")
    update, _ = await run_exact(request, {"bastion": {"kubectl get cronjobs -A": crons, "kubectl get pods -A": pods}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error" and "finance/settlement-report is suspended" in d.summary, d.summary


async def test_a_client_refused_at_a_service_whose_only_pod_cannot_be_scheduled_is_capacity(tmp_path):

    pods = ("NAME                        READY   STATUS    RESTARTS   AGE\n"
            "cart-api-58c7b9d6f4-7mzxq   1/1     Running   0          4d\n"
            "cart-redis-0                0/1     Pending   0          47m\n")
    services = ("NAME         TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)    AGE\n"
                "cart-api     ClusterIP   10.100.61.17   <none>        80/TCP     402d\n"
                "cart-redis   ClusterIP   10.100.88.41   <none>        6379/TCP   188d\n")
    events = ("LAST SEEN   TYPE      REASON             OBJECT             MESSAGE\n"
              "2m          Warning   FailedScheduling   pod/cart-redis-0   0/4 nodes are available: 4 Insufficient memory. "
              "preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod.\n")
    logs = "2026-11-24T00:19:41.118Z ERROR [ioredis] Unhandled error event: Error: connect ECONNREFUSED 10.100.88.41:6379\n" * 2
    request = Request(alert=Alert(name="CartApiHighErrorRate", summary="cart-api 5xx ratio 62% over 5m",
                                  labels={"namespace": "shop", "service": "cart-api"}), environment="prod")
    update, _ = await run_exact(request, {"bastion": {"kubectl get pods -n shop": pods, "kubectl get svc -n shop": services,
                                                      "kubectl get events -n shop": events, "kubectl logs deploy/cart-api -n shop": logs}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "capacity_exhausted" and "cart-redis-0 Pending: insufficient memory on every node" in d.summary, d.summary


async def test_a_service_word_finds_the_workload_it_begins_even_without_a_hyphen(tmp_path):
    """썸네일 names thumbnail(s): thumbnailer is the workload, not only image-upload-api that 이미지 also names."""

    pods = ("NAMESPACE   NAME                                READY   STATUS             RESTARTS      AGE\n"
            "media       thumbnailer-79d5b6c8f7-2mq9z        0/1     CrashLoopBackOff   12 (2m ago)   41m\n"
            "media       image-upload-api-6c9f8d7b5-4tkxp    1/1     Running            0             9d\n"
            "sandbox     kafka-ui-6d9f8c7b5-mn2kq            0/1     ImagePullBackOff   0             9d\n")
    previous = "OSError: [Errno 30] Read-only file system: '/tmp/wgunicorn-x1'\n[ERROR] Worker (pid:7) exited with code 3\n"
    request = Request(text="상품 이미지 업로드는 되는데 썸네일이 아예 안 생긴다는 문의가 계속 들어와요", environment="prod")
    update, _ = await run_exact(request, {"bastion": {"kubectl get pods -A": pods,
                                                      "kubectl logs thumbnailer-79d5b6c8f7-2mq9z -n media --previous": previous}}, tmp_path)
    assert update["diagnosis"].root_cause == "permission_denied", update["diagnosis"].summary


async def test_a_replicaset_short_of_pods_is_described_and_an_admission_webhook_that_times_out_is_the_path(tmp_path):
    pods = ("NAME                             READY   STATUS    RESTARTS   AGE\n"
            "search-gateway-7c6d9f8b5-9kx2m   1/1     Running   0          16d\n")
    replicasets = "NAME                       DESIRED   CURRENT   READY   AGE\nsearch-gateway-7c6d9f8b5   4         1         1       16d\n"
    described = ("Name:           search-gateway-7c6d9f8b5\nNamespace:      search\nReplicas:       1 current / 4 desired\nConditions:\n"
                 "  Type             Status  Reason\n  ----             ------  ------\n  ReplicaFailure   True    FailedCreate\n"
                 "Events:\n  Type     Reason        Age                From                   Message\n  ----     ------        ----               ----                   -------\n"
                 '  Warning  FailedCreate  2m (x19 over 31m)  replicaset-controller  Error creating: Internal error occurred: failed calling webhook '
                 '"validate.kyverno.svc-fail": failed to call webhook: Post "https://kyverno-svc.kyverno.svc:443/validate/fail?timeout=10s": context deadline exceeded\n')
    request = Request(alert=Alert(name="KubeDeploymentReplicasMismatch", summary="Deployment search/search-gateway has not matched the expected number of replicas",
                                  labels={"namespace": "search", "deployment": "search-gateway"}), environment="prod")
    update, world = await run_exact(request, {"bastion": {"kubectl get pods -n search": pods, "kubectl get rs -n search": replicasets,
                                                          "kubectl describe rs search-gateway-7c6d9f8b5 -n search": described}}, tmp_path)
    assert any(c == "kubectl describe replicasets search-gateway-7c6d9f8b5 --namespace=search" for _, c in world.calls)
    d = update["diagnosis"]
    assert d.root_cause == "network_unreachable" and "admission webhook validate.kyverno.svc-fail" in d.summary, d.summary
