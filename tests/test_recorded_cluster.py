"""A cluster-wide list in replay: the namespaced recordings of the same read, joined as kubectl prints them."""

from __future__ import annotations

import asyncio

from agents.diagnosis.parsers import parse_output
from tools.world import NOT_RECORDED_STATUS, RecordedWorld, WorldRecord

PODS_SHOP = """NAME                    READY   STATUS             RESTARTS      AGE
cart-7d9f8c6b5-2xkqj    0/1     CrashLoopBackOff   7 (41s ago)   2d
orders-5c9d7f6b8-kq4zt  1/1     Running            0             5d
"""
PODS_SHOP_WIDE = """NAME                    READY   STATUS             RESTARTS      AGE   IP            NODE
cart-7d9f8c6b5-2xkqj    0/1     CrashLoopBackOff   7 (41s ago)   2d    10.0.1.17     ip-10-0-1-5
orders-5c9d7f6b8-kq4zt  1/1     Running            0             5d    10.0.1.18     ip-10-0-1-5
"""
PODS_PAY = """NAME                   READY   STATUS    RESTARTS   AGE   IP           NODE
pay-84c6d9f7b5-5kx2m   1/1     Running   0          1d    10.0.2.9     ip-10-0-2-7
"""


def ask(record: dict, *argv: str):
    world = RecordedWorld(WorldRecord.model_validate({"hosts": {"bastion": record}}))
    return asyncio.run(world.run_command("bastion", list(argv), 5))


def test_all_namespaces_joins_each_namespace_widest_table_and_nothing_else():
    result = ask({"kubectl get pods -n shop": PODS_SHOP, "kubectl get pods -n shop -o wide": PODS_SHOP_WIDE,
                  "kubectl get pods -n pay -o wide": PODS_PAY, "kubectl get deploy -n shop": "NAME READY\ncart 0/1\n"},
                 "kubectl", "get", "pods", "--all-namespaces", "--output=wide")
    assert result.exit_status == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"] and "NODE" in lines[0]
    assert [line.split()[:2] for line in lines[1:]] == [["pay", "pay-84c6d9f7b5-5kx2m"], ["shop", "cart-7d9f8c6b5-2xkqj"],
                                                       ["shop", "orders-5c9d7f6b8-kq4zt"]]
    facts = parse_output("kube_pods", result.stdout, command="kubectl get pods -A -o wide")
    crashing = [p for p in facts.unhealthy]
    assert [(p.namespace, p.name) for p in crashing] == [("shop", "cart-7d9f8c6b5-2xkqj")]


def test_a_read_with_other_identifying_parameters_or_another_kind_stays_unrecorded():
    record = {"kubectl get pods -n shop": PODS_SHOP}
    assert ask(record, "kubectl", "get", "pods", "--all-namespaces", "--selector=app=pay").exit_status == NOT_RECORDED_STATUS
    assert ask(record, "kubectl", "get", "services", "--all-namespaces").exit_status == NOT_RECORDED_STATUS
    assert ask(record, "kubectl", "get", "pods", "--namespace=pay").exit_status == NOT_RECORDED_STATUS


def test_a_database_read_recorded_by_its_sql_alone_answers_that_read_only():
    """Writers key a query by its SQL under the database's host; it answers the mysql read that runs it, from any host."""
    world = RecordedWorld(WorldRecord.model_validate({"hosts": {
        "shop-prod-mysql": {"SHOW FULL PROCESSLIST": "Id\tUser\tHost\tdb\tCommand\tTime\tState\tInfo\n5\tapp\th:1\tshop\tQuery\t3886\tWaiting for table metadata lock\tALTER TABLE orders\n"},
        "bastion": {}}}))
    processlist = asyncio.run(world.run_command("bastion", ["mysql", "--execute=SHOW FULL PROCESSLIST"], 5))
    status = asyncio.run(world.run_command("bastion", ["mysql", "--execute=SHOW GLOBAL STATUS LIKE 'Threads_connected'"], 5))
    assert processlist.exit_status == 0 and "metadata lock" in processlist.stdout
    assert status.exit_status == NOT_RECORDED_STATUS


def test_recorded_cloudwatch_cli_outputs_are_the_series_of_their_dimension():
    """`aws cloudwatch get-metric-statistics` JSON kept in a recording is the same series the API would give."""
    import json as _json

    def answer(points):
        return _json.dumps({"Label": "BurstBalance", "Datapoints": [{"Timestamp": t, "Average": v, "Unit": "Percent"} for t, v in points]})

    base = "aws cloudwatch get-metric-statistics --namespace AWS/RDS --metric-name BurstBalance --dimensions Name=DBInstanceIdentifier,Value=shop-prod-report"
    world = RecordedWorld(WorldRecord.model_validate({"hosts": {"bastion": {
        f"{base} --start-time 2026-06-04T03:30:00Z": answer([("2026-06-04T05:00:00Z", 0.0), ("2026-06-04T04:00:00Z", 38.0)]),
        f"{base} --start-time 2026-06-03T03:30:00Z": answer([("2026-06-03T05:00:00Z", 100.0)]),
        "aws cloudwatch list-metrics": "{}"}}}))
    assert world.metric_names(["shop-prod-report"]) == ["shop-prod-report.BurstBalance"]
    assert world.metric_names(["orders-api"]) == []
    series = asyncio.run(world.read_metric("shop-prod-report.BurstBalance"))
    assert [v for _, v in series] == [100.0, 38.0, 0.0]  # both windows, oldest first


POLICIES_SHOP = """Name:         catalog-api-allow
Namespace:    shop
Spec:
  PodSelector:     app=catalog-api
  Policy Types: Ingress


Name:         default-deny-all
Namespace:    shop
Spec:
  PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)
  Policy Types: Ingress, Egress
"""


def test_one_object_is_answered_by_its_block_of_a_recorded_describe_of_every_object_of_its_kind():
    record = {"kubectl describe networkpolicy -n shop": POLICIES_SHOP}
    one = ask(record, "kubectl", "describe", "networkpolicies", "default-deny-all", "--namespace=shop")
    assert one.exit_status == 0 and one.stdout.startswith("Name:         default-deny-all")
    assert "catalog-api-allow" not in one.stdout and "Ingress, Egress" in one.stdout
    assert ask(record, "kubectl", "describe", "networkpolicies", "storefront-egress", "--namespace=shop").exit_status == NOT_RECORDED_STATUS
    assert ask(record, "kubectl", "describe", "networkpolicies", "default-deny-all", "--namespace=web").exit_status == NOT_RECORDED_STATUS


def test_the_same_read_in_another_spelling_is_answered_by_the_recording_that_shows_the_same_view():
    """`--show-labels` and the plain listing are one read; the one asked for (labels or not) answers first."""
    plain = "NAME                 READY   STATUS    RESTARTS   AGE\napi-5b8c7d9f6-qq2lx  1/1     Running   0          6d\n"
    labelled = ("NAME                 READY   STATUS    RESTARTS   AGE   LABELS\n"
                "api-5b8c7d9f6-qq2lx  1/1     Running   0          6d    app=api,pod-template-hash=5b8c7d9f6\n")
    record = {"kubectl get pods -n shop": plain, "kubectl get pods -n shop --show-labels": labelled}
    assert "LABELS" in ask(record, "kubectl", "get", "pods", "--namespace=shop", "--show-labels").stdout
    assert "LABELS" not in ask(record, "kubectl", "get", "pods", "--namespace=shop").stdout
    facts = parse_output("kube_pods", labelled, command="kubectl get pods -n shop --show-labels")
    assert facts.pods[0].labels == {"app": "api", "pod-template-hash": "5b8c7d9f6"}


def test_a_read_kept_through_a_filter_answers_that_read_and_a_rewriting_stage_does_not():
    oom = "[Mon Apr 27 02:11:09 2026] Out of memory: Killed process 21877 (java) total-vm:9123456kB, anon-rss:7340032kB\n"
    record = {"sudo dmesg -T 2>/dev/null | tail -5": oom, "ps aux | awk '{print $11}'": "COMMAND\njava\n"}
    assert ask(record, "dmesg", "--ctime").stdout == oom
    assert ask(record, "ps", "aux").exit_status == NOT_RECORDED_STATUS


def test_each_kind_of_a_recorded_multi_kind_get_answers_the_one_kind_read_only():
    multi = ("NAME                          READY   AGE\nstatefulset.apps/cart-redis   0/1     188d\n\n"
             "NAME                 TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)    AGE\n"
             "service/cart-redis   ClusterIP   10.100.88.41   <none>        6379/TCP   188d\n")
    record = {"kubectl get sts,svc -n shop": multi}
    services = ask(record, "kubectl", "get", "services", "--namespace=shop")
    assert services.exit_status == 0 and "service/cart-redis" in services.stdout and "statefulset" not in services.stdout
    assert ask(record, "kubectl", "get", "endpoints", "--namespace=shop").exit_status == NOT_RECORDED_STATUS


def test_a_recorded_workload_log_answers_a_log_read_of_one_of_its_pods():
    lines = "2026-11-24T00:19:41.118Z ERROR [ioredis] connect ECONNREFUSED 10.100.88.41:6379\n"
    record = {"kubectl logs deploy/cart-api -n shop --tail=20": lines}
    assert ask(record, "kubectl", "logs", "cart-api-58c7b9d6f4-7mzxq", "--namespace=shop", "--tail=200").stdout == lines
    assert ask(record, "kubectl", "logs", "orders-api-5c9d7f6b8-kq4zt", "--namespace=shop").exit_status == NOT_RECORDED_STATUS
    assert ask(record, "kubectl", "logs", "cart-api-58c7b9d6f4-7mzxq", "--namespace=shop", "--previous").exit_status == NOT_RECORDED_STATUS
