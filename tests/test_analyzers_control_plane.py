"""Analyzers on what the cluster and cloud control planes say: releases, Secrets, RDS state, NACLs and security groups.

Same method as test_analyzers.py (its Book numbers evidence like the
collector): real outputs in, the ranked cause and its citations out, and the
counter-cases where the control plane clears a suspect.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from agents.diagnosis.analyzers import Situation, analyze
from agents.diagnosis.learn import learn_values
from tests.test_analyzers import OUT, Book

UTC = timezone.utc
READ_AT = datetime(2026, 5, 19, 5, 38, tzinfo=UTC)  # kubectl ran at 14:38 KST; checkout-6b8f7d9c54 is 31m old
RS_CMD = "kubectl get rs -n shop -l app=checkout -o wide"
CHECKOUT = {"service": "checkout", "namespace": "shop"}
NPE = "POST /v1/checkout 500 java.lang.NullPointerException: Cannot invoke \"CouponPolicy.apply(Order)\" because \"policy\" is null"


def checkout_log(b: Book, first_error: str = "05:08") -> str:
    h, m = map(int, first_error.split(":"))
    start = datetime(2026, 5, 19, h, m, tzinfo=UTC)
    lines = ["2026-05-19T04:41:12Z INFO  POST /v1/checkout 200 184ms",
             "2026-05-19T04:51:40Z ERROR PG approve call failed: Read timed out (pg=tosspay)",
             "2026-05-19T05:03:44Z INFO  POST /v1/checkout 200 172ms"]
    lines += [f"{(start + timedelta(minutes=4 * k)).strftime('%Y-%m-%dT%H:%M:%SZ')} ERROR {NPE}" for k in range(5)]
    return b.log("cloudwatch:/shop/prod/checkout", sorted(lines))


def cited(analysis, category: str) -> list[str]:
    scored = analysis.get(category)
    return [eid for eid, _ in scored.evidence] if scored else []


# ------------------------------------------------------------------ releases


def test_a_new_image_that_began_serving_just_before_the_alert_is_a_bad_deploy_cited_with_the_logs():
    b = Book()
    rs = b.cmd(RS_CMD, fixture="kubectl_get_rs_wide.txt", host="mgmt1")
    history = b.cmd("kubectl rollout history deployment/checkout -n shop", fixture="kubectl_rollout_history.txt", host="mgmt1")
    logs = checkout_log(b)
    a = analyze(b.items, Situation(labels=CHECKOUT, at=READ_AT, started_at=datetime(2026, 5, 19, 5, 12, tzinfo=UTC)))
    assert a.winner == "bad_deploy"
    assert {rs, logs, history} <= set(cited(a, "bad_deploy"))
    reasons = " ".join(a.get("bad_deploy").reasons)
    assert "checkout-6b8f7d9c54" in reasons and "checkout-7d5c9b8f66 is the rollback target" in reasons
    assert "5 error(s) since checkout-6b8f7d9c54" in reasons and "revision 14" in reasons


def test_the_same_logs_without_the_replicaset_name_no_release():
    b = Book()
    checkout_log(b)
    a = analyze(b.items, Situation(labels=CHECKOUT, at=READ_AT, started_at=datetime(2026, 5, 19, 5, 12, tzinfo=UTC)))
    assert a.winner != "bad_deploy"  # generic errors alone do not date a release


def test_a_release_days_before_the_alert_argues_against_a_bad_deploy():
    old = (OUT / "kubectl_get_rs_wide.txt").read_text().replace("   31m   ", "   6d    ")
    b = Book()
    rs = b.cmd(RS_CMD, old, host="mgmt1")
    checkout_log(b)
    a = analyze(b.items, Situation(labels=CHECKOUT, at=READ_AT, started_at=datetime(2026, 5, 19, 5, 12, tzinfo=UTC)))
    assert a.winner != "bad_deploy"
    assert any(s.category == "bad_deploy" and s.weight < 0 and s.evidence_id == rs for s in a.signals)


def test_a_restart_with_the_same_image_is_not_a_release():
    same = (OUT / "kubectl_get_rs_wide.txt").read_text().replace("checkout:2.13.2", "checkout:2.14.0").replace("checkout:2.13.1", "checkout:2.14.0")
    b = Book()
    b.cmd(RS_CMD, same, host="mgmt1")
    checkout_log(b)
    a = analyze(b.items, Situation(labels=CHECKOUT, at=READ_AT, started_at=datetime(2026, 5, 19, 5, 12, tzinfo=UTC)))
    assert not [s for s in a.signals if s.category == "bad_deploy" and s.weight > 0]


def test_another_deployments_release_is_not_this_services():
    b = Book()
    b.cmd("kubectl get rs -A -o wide", fixture="kubectl_get_rs_all_namespaces.txt", host="mgmt1")  # api 4.22.0 is 14m old
    a = analyze(b.items, Situation(labels=CHECKOUT, at=READ_AT, started_at=READ_AT - timedelta(minutes=10)))
    assert not [s for s in a.signals if s.category == "bad_deploy"]
    a = analyze(b.items, Situation(labels={"service": "api", "namespace": "shop"}, at=READ_AT, started_at=READ_AT - timedelta(minutes=10)))
    assert [s for s in a.signals if s.category == "bad_deploy" and s.weight >= 2.2]  # 2/6 ready adds to it


# ------------------------------------------------------------------ Secrets and ConfigMaps

PODS_STUCK = """NAMESPACE   NAME                       READY   STATUS                       RESTARTS     AGE
shop        payment-5f9c7b6d48-2kdp8   1/1     Running                      1 (4d ago)   6d
shop        payment-7f6d5c8b94-r7n2w   0/1     CreateContainerConfigError   0            6m
shop        payment-7f6d5c8b94-x2k8p   0/1     CreateContainerConfigError   0            6m
"""
SECRET_CMD = "kubectl describe secret payment-secrets -n shop"
PAYMENT = {"namespace": "shop", "deployment": "payment", "service": "payment"}


def test_a_key_the_pod_needs_and_the_secret_lacks_is_a_config_error_cited_from_the_secret():
    b = Book()
    b.cmd("kubectl get pods -A", PODS_STUCK, host="mgmt1")
    pod = b.cmd("kubectl describe pod payment-7f6d5c8b94-x2k8p -n shop", fixture="kubectl_describe_pod_config_error.txt", host="mgmt1")
    secret = b.cmd(SECRET_CMD, fixture="kubectl_describe_secret.txt", host="mgmt1")
    a = analyze(b.items, Situation(labels=PAYMENT))
    assert a.winner == "config_error" and {secret, pod} <= set(cited(a, "config_error"))
    assert a.get("config_error").reasons[0].startswith("Secret shop/payment-secrets has no key PG_WEBHOOK_SECRET (it holds DATABASE_URL")


def test_a_secret_that_holds_the_key_now_argues_against():
    fixed = (OUT / "kubectl_describe_secret.txt").read_text() + "PG_WEBHOOK_SECRET:  44 bytes\n"
    b = Book()
    b.cmd("kubectl describe pod payment-7f6d5c8b94-x2k8p -n shop", fixture="kubectl_describe_pod_config_error.txt", host="mgmt1")
    secret = b.cmd(SECRET_CMD, fixed, host="mgmt1")
    a = analyze(b.items, Situation(labels=PAYMENT))
    mine = [s for s in a.signals if s.evidence_id == secret]
    assert mine and all(s.category == "config_error" and s.weight < 0 for s in mine)


def test_a_secret_that_does_not_exist_is_cited():
    describe = (OUT / "kubectl_describe_pod_config_error.txt").read_text().replace(
        "couldn't find key PG_WEBHOOK_SECRET in Secret shop/payment-secrets", 'secret "payment-webhook" not found')
    b = Book()
    b.cmd("kubectl describe pod payment-7f6d5c8b94-x2k8p -n shop", describe, host="mgmt1")
    gone = b.cmd("kubectl describe secret payment-webhook -n shop", "", host="mgmt1",
                 stderr=(OUT / "kubectl_describe_secret_notfound_stderr.txt").read_text())
    a = analyze(b.items, Situation(labels=PAYMENT))
    assert a.winner == "config_error" and gone in cited(a, "config_error")
    assert any("payment-webhook does not exist" in r for r in a.get("config_error").reasons)


def test_a_secret_nobody_asked_about_says_nothing():
    b = Book()
    secret = b.cmd(SECRET_CMD, fixture="kubectl_describe_secret.txt", host="mgmt1")
    a = analyze(b.items, Situation(labels=PAYMENT))
    assert not [s for s in a.signals if s.evidence_id == secret]


# ------------------------------------------------------------------ RDS

RDS_CMD = "aws rds describe-db-instances --db-instance-identifier shop-prod-orders-pg"
PSQL_TIMEOUT = ('psql: error: connection to server at "shop-prod-orders-pg.c7qk2x9v1m3a.ap-northeast-2.rds.amazonaws.com" (10.10.21.37), '
                "port 5432 failed: Connection timed out\n\tIs the server running on that host and accepting TCP/IP connections?\n")
SS_SYN_DB = """State      Recv-Q Send-Q  Local Address:Port    Peer Address:Port  Process
SYN-SENT   0      1          10.10.11.45:51822  10.10.21.37:5432   users:(("node",pid=9931,fd=31))
SYN-SENT   0      1          10.10.11.45:51830  10.10.21.37:5432   users:(("node",pid=9931,fd=32))
SYN-SENT   0      1          10.10.11.45:51844  10.10.21.37:5432   users:(("node",pid=9931,fd=33))
ESTAB      0      0          10.10.11.45:40318  10.10.42.17:6379   users:(("node",pid=9931,fd=27))
"""


def rds(**changes) -> str:
    doc = json.loads((OUT / "aws_rds_describe_db_instances.txt").read_text())
    doc["DBInstances"][0].update(changes)
    return json.dumps(doc, indent=4)


def test_an_instance_that_is_modifying_while_clients_time_out_is_unreachable_and_cited():
    b = Book()
    b.cmd('psql -c "select pid, state from pg_stat_activity"', "", stderr=PSQL_TIMEOUT)
    b.cmd("ss -tanp", SS_SYN_DB)
    instance = b.cmd(RDS_CMD, fixture="aws_rds_describe_db_instances.txt")
    a = analyze(b.items, Situation(labels={"service": "orders"}))
    assert a.winner == "db_unreachable" and instance in cited(a, "db_unreachable")
    reason = next(r for r in a.get("db_unreachable").reasons if r.startswith("RDS"))
    assert "modifying" in reason and "single-AZ" in reason and "DBInstanceClass=db.r6g.xlarge" in reason
    assert any(s.category == "network_unreachable" and s.weight < 0 and s.evidence_id == instance for s in a.signals)


def test_an_available_instance_argues_the_database_is_up():
    b = Book()
    b.cmd("ss -tanp", SS_SYN_DB)
    instance = b.cmd(RDS_CMD, rds(DBInstanceStatus="available", PendingModifiedValues={}))
    a = analyze(b.items, Situation(labels={"service": "settlement"}))
    assert any(s.category == "db_unreachable" and s.weight < 0 and s.evidence_id == instance for s in a.signals)
    assert a.winner != "db_unreachable"


def test_a_stopped_instance_without_client_errors_is_a_weak_lead_only():
    b = Book()
    instance = b.cmd(RDS_CMD, rds(DBInstanceStatus="stopped"))
    a = analyze(b.items, Situation())
    assert a.winner == "unknown" and [s.weight for s in a.signals if s.evidence_id == instance] == [1.0]


def test_storage_full_is_a_full_disk():
    b = Book()
    b.log("cloudwatch:/shop/prod/orders", ["2026-05-12T05:33:41Z ERROR PSQLException: ERROR: could not extend file \"base/16401/91822\": No space left on device"])
    instance = b.cmd(RDS_CMD, rds(DBInstanceStatus="storage-full", PendingModifiedValues={}))
    a = analyze(b.items, Situation(labels={"service": "orders"}))
    assert a.winner == "disk_full" and instance in cited(a, "disk_full")


# ------------------------------------------------------------------ network ACLs and security groups

NACL_CMD = "aws ec2 describe-network-acls --filters Name=vpc-id,Values=vpc-0a7d3c9e5b1f24680"


def test_a_nacl_deny_for_the_clients_subnet_and_port_is_cited():
    b = Book()
    b.cmd("ss -tanp", SS_SYN_DB, host="stl1")
    nacl = b.cmd(NACL_CMD, fixture="aws_ec2_describe_network_acls.txt", host="stl1")
    a = analyze(b.items, Situation(labels={"service": "settlement"}))
    assert a.winner == "network_unreachable" and nacl in cited(a, "network_unreachable")
    assert a.get("network_unreachable").reasons[0].startswith("acl-0f1e2d3c4b5a69788 inbound rule 90: DENY tcp/5432 from 10.10.11.0/24 drops 10.10.11.45")


def test_a_nacl_that_admits_the_clients_subnet_says_nothing():
    b = Book()
    b.cmd("ss -tanp", SS_SYN_DB.replace("10.10.11.45", "10.10.12.34"), host="stl2")
    nacl = b.cmd(NACL_CMD, fixture="aws_ec2_describe_network_acls.txt", host="stl2")
    a = analyze(b.items, Situation(labels={"service": "settlement"}))
    assert not [s for s in a.signals if s.evidence_id == nacl]


def test_a_nacl_without_dropped_connections_says_nothing():
    b = Book()
    nacl = b.cmd(NACL_CMD, fixture="aws_ec2_describe_network_acls.txt")
    assert not [s for s in analyze(b.items).signals if s.evidence_id == nacl]


SS_SYN_REDIS = """State      Recv-Q Send-Q  Local Address:Port    Peer Address:Port  Process
SYN-SENT   0      1          10.10.11.21:56210  10.10.42.17:6379   users:(("node",pid=18511,fd=27))
SYN-SENT   0      1          10.10.11.21:56224  10.10.42.17:6379   users:(("node",pid=18511,fd=28))
SYN-SENT   0      1          10.10.11.21:56230  10.10.42.17:6379   users:(("node",pid=18511,fd=29))
"""
SG_CMD = "aws ec2 describe-security-groups --group-ids sg-0e1f2a3b4c5d6e7f8 sg-0d3c5b7a9e1f2d4c6"


def test_a_security_group_that_admits_only_another_group_on_the_port_is_cited():
    b = Book()
    b.cmd("ss -tanp", SS_SYN_REDIS)
    sg = b.cmd(SG_CMD, fixture="aws_ec2_describe_security_groups.txt")
    a = analyze(b.items, Situation(labels={"service": "api"}))
    assert a.winner == "network_unreachable" and sg in cited(a, "network_unreachable")
    reason = next(r for r in a.get("network_unreachable").reasons if r.startswith("sg-"))
    assert "shop-prod-redis" in reason and "sg-0b2d4f6a8c0e1a3b5" in reason and "sg-0d3c5b7a9e1f2d4c6" in reason


def test_a_security_group_that_admits_the_clients_group_argues_against():
    doc = json.loads((OUT / "aws_ec2_describe_security_groups.txt").read_text())
    doc["SecurityGroups"][0]["IpPermissions"][0]["UserIdGroupPairs"].append({"GroupId": "sg-0d3c5b7a9e1f2d4c6", "UserId": "123456789012"})
    b = Book()
    b.cmd("ss -tanp", SS_SYN_REDIS)
    sg = b.cmd(SG_CMD, json.dumps(doc))
    mine = [s for s in analyze(b.items, Situation(labels={"service": "api"})).signals if s.evidence_id == sg]
    assert mine and all(s.weight < 0 for s in mine)


def test_who_the_client_is_cannot_be_told_without_its_group():
    b = Book()
    b.cmd("ss -tanp", SS_SYN_REDIS)
    sg = b.cmd(SG_CMD, fixture="aws_ec2_describe_security_groups.txt")
    assert not [s for s in analyze(b.items, Situation()).signals if s.evidence_id == sg]  # no service: no client group


# ------------------------------------------------------------------ values learned for follow-up steps


def test_values_are_learned_from_what_the_tools_printed():
    b = Book()
    b.cmd("kubectl describe pod payment-7f6d5c8b94-x2k8p -n shop", fixture="kubectl_describe_pod_config_error.txt", host="mgmt1")
    b.cmd('psql -c "select pid, state from pg_stat_activity"', "", stderr=PSQL_TIMEOUT)
    b.cmd(RDS_CMD, fixture="aws_rds_describe_db_instances.txt")
    learned = learn_values(b.items, {"service": "payment"})
    assert learned == {"secret": "payment-secrets", "namespace": "shop", "deployment": "payment", "pod": "payment-7f6d5c8b94-x2k8p", "db": "shop-prod-orders-pg",
                       "db_endpoint": "shop-prod-orders-pg.c7qk2x9v1m3a.ap-northeast-2.rds.amazonaws.com",
                       "security_group": "sg-0c4e8a1f2b3d5e6f7", "vpc": "vpc-0a7d3c9e5b1f24680"}
    assert "namespace" not in learn_values(b.items, {"namespace": "payments"})  # the request's own values win


def test_nothing_unsafe_or_unrelated_is_learned():
    b = Book()
    b.log("cloudwatch:/shop/prod/api", ["2026-05-12T05:00:00Z ERROR secret \"x; rm -rf /\" not found",
                                        "2026-05-12T05:00:01Z ERROR connect to shop.cluster-c7qk2x9v1m3a.ap-northeast-2.rds.amazonaws.com failed"])
    assert learn_values(b.items, {}) == {}  # not a Kubernetes name; a cluster endpoint is not an instance


def test_alert_values_for_the_control_plane_steps():
    from agents.diagnosis.situation import placeholder_values
    from graphs.state import Alert, Request

    rds_alarm = Request(alert=Alert(source="cloudwatch", name="shop-prod-orders-pg-cpu", summary="Threshold Crossed (DBInstanceIdentifier=shop-prod-orders-pg)",
                                    labels={"namespace": "AWS/RDS", "metric": "CPUUtilization"}))
    values = placeholder_values(rds_alarm)
    assert values["db"] == "shop-prod-orders-pg" and "namespace" not in values  # CloudWatch's namespace is not a Kubernetes one
    pod = Request(alert=Alert(name="KubePodNotReady", labels={"namespace": "shop", "pod": "payment-7f6d5c8b94-x2k8p", "security_group": "sg-0c4e8a1f2b3d5e6f7"}))
    values = placeholder_values(pod)
    assert (values["namespace"], values["deployment"], values["security_group"]) == ("shop", "payment", "sg-0c4e8a1f2b3d5e6f7")
