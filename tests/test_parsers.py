"""Parsers on real command outputs (tests/fixtures/outputs): typed facts in, garbage refused, never an exception.

Most fixtures were captured on Debian 12 (procps-ng 4, sysstat 12, MariaDB
10.11, PostgreSQL 15, iputils, bind9 dig, OpenSSL 3); the systemd, kubectl,
dmesg and Terraform fixtures are copied from those tools' documented formats.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agents.diagnosis.parsers import FACT_MODELS, PARSERS, facts_of, parse_output, parser_for_command
from agents.diagnosis.parsers.database import interval_seconds
from agents.diagnosis.parsers.terraform import _builtin

OUT = Path(__file__).parent / "fixtures" / "outputs"


def parse(name: str, fixture: str, command: str = "", stderr: str = ""):
    facts = parse_output(name, (OUT / fixture).read_text(), command=command, stderr=stderr)
    assert facts.ok, getattr(facts, "error", "")
    return facts


# ------------------------------------------------------------------ memory, cpu, processes


def test_free_m_with_the_indented_header():
    facts = parse("free", "free_m_debian12.txt", "free -m")
    assert facts.total_mb == 24105 and facts.available_mb == 22674 and facts.swap_total_mb == 0
    assert facts.used_pct < 10


def test_free_h_reads_suffixed_sizes():
    facts = parse("free", "free_h_debian12.txt", "free -h")
    assert 23_000 <= facts.total_mb <= 24_600


def test_free_from_old_procps_uses_the_buffers_cache_line():
    facts = parse("free", "free_m_procps_3_3_9.txt", "free -m")
    assert facts.available_mb == 631 and round(facts.swap_used_pct) == 75
    assert facts.used_pct > 90


def test_vmstat_averages_samples_after_the_first():
    facts = parse("vmstat", "vmstat_busy.txt", "vmstat 1 3")
    assert facts.samples == 2 and facts.id <= 1 and facts.r >= 7


def test_uptime_and_top_headers():
    assert parse("uptime", "uptime_busy.txt").load1 == pytest.approx(3.83)
    top = parse("top", "top_bn1_busy.txt", "top -bn1")
    assert top.load1 == pytest.approx(3.83) and top.tasks_total == 102
    assert top.cpu_us == pytest.approx(73.3) and top.cpu_id == 0.0
    assert top.mem_total_mb == pytest.approx(24105.1) and top.mem_avail_mb == pytest.approx(20390.8)
    assert top.processes[0].pid == 15411 and top.processes[0].cpu_pct == pytest.approx(47.8)
    assert any(p.res_mb > 1000 for p in top.processes)  # "1.2g" RES


def test_ps_finds_the_process_far_above_its_peers():
    facts = parse("ps", "ps_aux_mem_hog.txt", "ps aux --sort=-%mem")
    assert facts.top_mem[0].pid == 16540 and facts.top_mem[0].rss_mb > 1500
    assert facts.top_cpu[0].cpu_pct >= 90


def test_ps_groups_many_workers():
    facts = parse("ps", "ps_aux_php_fpm_pressure.txt")
    group = facts.groups[0]
    assert group.name == "php-fpm:" or group.name.startswith("php-fpm")
    assert group.count == 12 and group.mem_pct > 60


def test_nproc():
    assert parse("cpu_count", "nproc.txt").cpus == 2


# ------------------------------------------------------------------ disks


def test_df_ignores_snap_loops_at_100_percent():
    facts = parse("df", "df_h_full.txt", "df -h")
    worst = facts.worst()
    assert worst.mount == "/" and worst.use_pct == 100
    assert all(f.pseudo for f in facts.filesystems if f.mount.startswith("/snap/"))


def test_df_inodes():
    facts = parse("df", "df_i_full.txt", "df -i")
    assert facts.inodes and facts.parser == "df_inodes"
    assert facts.worst().mount == "/" and facts.worst().use_pct == 100
    assert any(f.use_pct is None for f in facts.filesystems)  # "-" for /boot/efi


def test_iostat_uses_the_last_report():
    facts = parse("iostat", "iostat_x_saturated.txt", "iostat -x 1 3")
    assert facts.reports == 2 and facts.cpu_count == 4 and facts.iowait == pytest.approx(61.4)
    busiest = facts.busiest()
    assert busiest.device == "nvme1n1" and busiest.util_pct == 100 and busiest.worst_await > 290
    quiet = parse("iostat", "iostat_x_sysstat12.txt")
    assert quiet.busiest().util_pct == 0


# ------------------------------------------------------------------ network


def test_ss_summary():
    facts = parse("ss_summary", "ss_s_busy.txt", "ss -s")
    assert facts.tcp_total == 151 and facts.estab == 50


def test_ss_tanp_counts_close_wait_by_process():
    facts = parse("ss", "ss_tanp_close_wait.txt", "ss -tanp")
    assert facts.count("CLOSE-WAIT") == 40
    assert facts.close_wait_by_process[0].key.startswith("python3/") and facts.close_wait_by_process[0].count == 40


def test_netstat_tanp_reads_like_ss():
    facts = parse("ss", "netstat_tanp_close_wait.txt", "netstat -tanp")
    assert facts.count("CLOSE-WAIT") == 3 and facts.close_wait_by_peer[0].key == "10.30.2.10:3306"


def test_ss_state_filter_has_no_state_column():
    text = "Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n1 0 10.0.0.5:41000 10.0.2.10:3306 users:((\"node\",pid=9,fd=3))\n"
    facts = parse_output("ss", text, command="ss -tanp state close-wait")
    assert facts.ok and facts.count("CLOSE-WAIT") == 1


def test_dns_answers_and_failures():
    assert parse("dns", "dig_nxdomain.txt", "dig nonexistent.invalid").status == "NXDOMAIN"
    nx = parse("dns", "nslookup_nxdomain.txt", "nslookup db.shop.internal")
    assert nx.status == "NXDOMAIN" and nx.failed
    timeout = parse_output("dns", ";; communications error to 10.0.0.2#53: timed out\n;; no servers could be reached\n", command="dig api.internal")
    assert timeout.status == "TIMEOUT"


def test_ping_and_curl():
    assert parse("ping", "ping_loss.txt").loss_pct == 100
    curl = parse("curl", "curl_refused.txt", "curl -sS -m 5 -o /dev/null -w '%{http_code} %{time_total}' http://127.0.0.1:1/health")
    assert curl.error.code == "7" and curl.http_code == 0


# ------------------------------------------------------------------ services, kernel


def test_systemctl_status_crash_loop():
    facts = parse("systemctl_status", "systemctl_status_crashloop.txt")
    assert facts.unit == "api.service" and facts.active == "activating" and facts.sub == "auto-restart"
    assert facts.result == "exit-code" and facts.restart_counter == 7 and facts.main_exit == "status=1/FAILURE"


def test_systemctl_status_failed_and_running():
    failed = parse("systemctl_status", "systemctl_status_start_limit.txt")
    assert failed.active == "failed" and failed.result == "exit-code"
    assert any(h.category == "config_error" for h in failed.log.hits)  # nginx [emerg] in the journal tail
    running = parse("systemctl_status", "systemctl_status_running.txt")
    assert running.active == "active" and running.sub == "running" and running.main_pid == 21877
    assert running.memory_mb == pytest.approx(6.2 * 1024)


def test_journal_lines_become_rule_hits():
    facts = parse("journal", "journalctl_api_missing_env.txt", "journalctl -u api -n 200 --no-pager")
    assert facts.total_lines == 10
    assert {h.category for h in facts.hits} >= {"config_error", "service_crashloop"}


def test_dmesg_oom_kill():
    facts = parse("dmesg", "dmesg_oom.txt", "dmesg -T")
    kill = facts.oom_kills[0]
    assert kill.name == "node" and kill.pid == 19233 and kill.anon_rss_mb == pytest.approx(6564, abs=1)
    assert facts.oom_invokers == ["node"]


def test_dmesg_hung_tasks():
    facts = parse("dmesg", "dmesg_hung_task.txt")
    assert facts.hung_tasks == ["jbd2/nvme1n1-8", "mysqld"]


# ------------------------------------------------------------------ databases


@pytest.mark.parametrize("fixture", ["mysql_processlist_batch.txt", "mysql_processlist_boxed.txt", "mysql_processlist_vertical.txt"])
def test_mysql_processlist_in_every_client_format(fixture):
    facts = parse("mysql_processlist", fixture, 'mysql -e "SHOW FULL PROCESSLIST"')
    assert facts.total == 10 and facts.active == 9  # the SHOW PROCESSLIST row itself is not work
    assert facts.by_user[0].key == "app"


def test_mysql_processlist_sleeping_connections():
    facts = parse("mysql_processlist", "mysql_processlist_sleeping.txt")
    assert facts.sleeping == 12 and facts.by_command["Sleep"] == 12
    assert facts.long_running and facts.long_running[0].seconds >= 30


def test_mysql_counters_and_variables():
    status = parse("db_settings", "mysql_global_status.txt")
    assert status.number("Threads_connected") == 22 and status.number("max_used_connections") == 22
    assert parse("db_settings", "mysql_max_connections_boxed.txt").number("max_connections") == 151
    assert parse("db_settings", "psql_max_connections.txt").number("max_connections") == 100


@pytest.mark.parametrize("fixture,code", [("mysql_error_too_many.txt", "1040"), ("mysql_error_too_many_tls.txt", "1040"),
                                          ("mysql_error_access_denied.txt", "1045"), ("mysql_error_unreachable.txt", "2013")])
def test_mysql_client_errors_are_facts(fixture, code):
    facts = parse_output("mysql_processlist", "", stderr=(OUT / fixture).read_text())
    assert facts.ok and facts.parser == "db_error" and facts.code == code


def test_pg_stat_activity():
    facts = parse("pg_activity", "psql_pg_stat_activity.txt")
    assert facts.by_state["idle"] == 4 and facts.idle_in_transaction == 1 and facts.lock_waits == 1
    assert facts.long_running[0].query.startswith("update orders")
    grouped = parse("pg_activity", "psql_activity_by_state.txt")
    assert grouped.total == 8 and grouped.idle_in_transaction == 1


def test_pg_intervals():
    assert interval_seconds("00:05:12.5") == pytest.approx(312.5)
    assert interval_seconds("1 day 02:00:00") == 93600
    assert interval_seconds("42.5") == 42.5 and interval_seconds("") is None


# ------------------------------------------------------------------ kubernetes, tls, terraform


def test_kubectl_get_pods_wide():
    facts = parse("kube_pods", "kubectl_get_pods_wide.txt", "kubectl get pods -A -o wide")
    assert facts.total == 6 and facts.by_status == {"Running": 3, "CrashLoopBackOff": 1, "Pending": 2}
    crash = facts.with_status("CrashLoopBackOff")[0]
    assert crash.restarts == 7 and crash.namespace == "shop" and crash.node.startswith("ip-10-30-12-7")


def test_kubectl_describe_pod_last_state_and_events():
    facts = parse("kube_describe", "kubectl_describe_pod_oomkilled.txt")
    c = facts.containers[0]
    assert (c.state_reason, c.last_reason, c.exit_code, c.restart_count, c.memory_limit) == ("CrashLoopBackOff", "OOMKilled", 137, 7, "512Mi")
    assert facts.events[-1].reason == "BackOff" and facts.events[-1].count == 41
    pending = parse("kube_describe", "kubectl_describe_pod_pending.txt")
    assert pending.status == "Pending" and pending.events[0].reason == "FailedScheduling"
    assert any(h.category == "capacity_exhausted" for h in pending.log.hits)


def test_kubectl_get_events():
    facts = parse("kube_events", "kubectl_get_events.txt", "kubectl get events -A")
    assert facts.warnings_by_reason == {"FailedScheduling": 1, "BackOff": 1}
    assert "Insufficient cpu" in facts.events[1].message


def test_tls_dates_and_verification():
    enddate = parse("tls", "openssl_x509_enddate.txt")
    assert enddate.certificates[0].not_after == datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert enddate.expired_at(datetime(2026, 3, 2, tzinfo=timezone.utc)) and not enddate.expired_at(datetime(2026, 2, 1, tzinfo=timezone.utc))
    assert parse("tls", "openssl_verify_expired.txt").errors
    certbot = parse("tls", "certbot_certificates_expired.txt", "certbot certificates")
    assert certbot.certificates[0].name == "api.shop.example" and "EXPIRED" in certbot.certificates[0].invalid_reason


@pytest.mark.parametrize("fixture,category", [("terraform_state_lock.txt", "terraform_state_lock"),
                                              ("terraform_unsupported_attribute.txt", "terraform_config_error"),
                                              ("terraform_already_exists.txt", "resource_name_conflict")])
def test_terraform_categories(fixture, category):
    text = (OUT / fixture).read_text()
    assert parse("terraform", fixture).issues[0].category == category
    builtin = _builtin(text)  # the fallback when tools.terraform_errors is absent reads the same
    assert builtin[0].category == category
    if category == "terraform_state_lock":
        assert builtin[0].lock.id == "7bb26e87-0b31-203c-8539-14a5d96fd760" and builtin[0].lock.who == "runner@fv-az1234-567"


# ------------------------------------------------------------------ releases, Secrets and the AWS control plane


def test_kubectl_get_rs_wide_groups_releases_by_deployment():
    facts = parse("kube_replicasets", "kubectl_get_rs_wide.txt", "kubectl get rs -n shop -l app=checkout -o wide")
    (key, sets), = facts.by_deployment().items()
    assert key == ("", "checkout") and [r.name for r in sets] == ["checkout-6b8f7d9c54", "checkout-7d5c9b8f66", "checkout-85f4c6d7b9"]
    new, old = sets[0], sets[1]
    assert (new.desired, new.ready, new.age_s) == (6, 6, 31 * 60) and new.images[0].endswith("/shop/checkout:2.14.0")
    assert (old.desired, old.age_s) == (0, 9 * 86400) and old.image_tags() == "shop/checkout:2.13.2"


def test_kubectl_get_rs_all_namespaces_with_two_containers():
    facts = parse("kube_replicasets", "kubectl_get_rs_all_namespaces.txt", "kubectl get rs -A -o wide")
    api = facts.by_deployment()[("shop", "api")]
    assert [r.name for r in api] == ["api-5b7f9d8c66", "api-7c9d8b6f45"]
    assert api[0].containers == ["api", "envoy"] and len(api[0].images) == 2 and api[0].ready == 2
    assert api[1].age_s == 6 * 86400 + 4 * 3600
    assert ("kube-system", "coredns") in facts.by_deployment()


def test_kubectl_rollout_history():
    facts = parse("kube_rollout_history", "kubectl_rollout_history.txt", "kubectl rollout history deployment/checkout -n shop")
    assert (facts.kind, facts.name) == ("deployment", "checkout")
    assert [r.number for r in facts.revisions] == [12, 13, 14, 15] and facts.revisions[0].change_cause == ""
    assert facts.current.change_cause == "checkout 2.14.0 (argocd sync 9e7a6c2)" and facts.previous.number == 14


def test_kubectl_describe_secret_lists_keys_and_sizes_only():
    facts = parse("kube_keys", "kubectl_describe_secret.txt", "kubectl describe secret payment-secrets -n shop")
    secret = facts.objects[0]
    assert (secret.kind, secret.name, secret.namespace, secret.type) == ("Secret", "payment-secrets", "shop", "Opaque")
    assert secret.keys == {"DATABASE_URL": 96, "PG_API_KEY": 40, "PG_MERCHANT_ID": 12, "REDIS_URL": 61}


def test_kubectl_describe_secret_after_redaction_keeps_every_key():
    from tools.redact import redact

    text = redact((OUT / "kubectl_describe_secret.txt").read_text())
    assert "PG_API_KEY:      40 bytes" in text  # a size is not a secret: it stays readable after *_API_KEY
    facts = parse_output("kube_keys", text)
    assert facts.objects[0].keys == {"DATABASE_URL": 96, "PG_API_KEY": 40, "PG_MERCHANT_ID": 12, "REDIS_URL": 61}


def test_kubectl_describe_configmap_keys():
    facts = parse("kube_keys", "kubectl_describe_configmap.txt", "kubectl describe configmap cart-config -n shop")
    cm = facts.objects[0]
    assert (cm.kind, cm.name) == ("ConfigMap", "cart-config") and list(cm.keys) == ["CART_TTL_SEC", "LOG_LEVEL", "features.yaml"]


def test_a_missing_secret_is_a_fact_from_stderr():
    stderr = (OUT / "kubectl_describe_secret_notfound_stderr.txt").read_text()
    facts = parse_output("kube_keys", "", command="kubectl describe secret payment-webhook -n shop", stderr=stderr)
    assert facts.ok and not facts.objects
    assert [(m.kind, m.name, m.namespace) for m in facts.not_found] == [("Secret", "payment-webhook", "shop")]


def test_kubectl_describe_pod_names_its_replicaset_and_secret_keys():
    facts = parse("kube_describe", "kubectl_describe_pod_config_error.txt")
    assert facts.controlled_by == "ReplicaSet/payment-7f6d5c8b94"
    assert facts.containers[0].state_reason == "CreateContainerConfigError"
    assert [(r.kind, r.name, r.key) for r in facts.key_refs] == [
        ("Secret", "payment-secrets", "DATABASE_URL"), ("Secret", "payment-secrets", "PG_API_KEY"),
        ("Secret", "payment-secrets", "PG_WEBHOOK_SECRET"), ("ConfigMap", "payment-config", "LOG_LEVEL")]
    assert "couldn't find key PG_WEBHOOK_SECRET" in facts.events[3].message and facts.events[3].count == 12


def test_aws_rds_describe_db_instances():
    facts = parse("aws_rds", "aws_rds_describe_db_instances.txt", "aws rds describe-db-instances --db-instance-identifier shop-prod-orders-pg")
    db = facts.instances[0]
    assert (db.id, db.status, db.engine, db.instance_class, db.multi_az) == ("shop-prod-orders-pg", "modifying", "postgres", "db.r6g.large", False)
    assert db.pending_modified == {"DBInstanceClass": "db.r6g.xlarge"} and db.port == 5432
    assert db.security_groups == ["sg-0c4e8a1f2b3d5e6f7"] and db.vpc_id == "vpc-0a7d3c9e5b1f24680"
    assert (db.allocated_storage_gb, db.max_allocated_storage_gb, db.storage_type) == (400, 1000, "gp3")


def test_aws_security_groups_rules():
    facts = parse("aws_security_groups", "aws_ec2_describe_security_groups.txt", "aws ec2 describe-security-groups --group-ids sg-0e1f2a3b4c5d6e7f8")
    redis, api = facts.groups
    assert redis.label == "sg-0e1f2a3b4c5d6e7f8 (shop-prod-redis)" and redis.tags["Name"] == "shop-prod-redis"
    rule = redis.ingress[0]
    assert rule.covers(6379) and not rule.covers(6380) and rule.groups == ["sg-0b2d4f6a8c0e1a3b5"] and not rule.cidrs
    assert redis.egress[0].protocol == "all" and redis.egress[0].covers(5432) and redis.egress[0].admits_ip("10.10.21.37")
    assert api.ingress[1].admits_ip("10.10.1.10") and not api.ingress[1].admits_ip("10.10.11.21")


def test_aws_network_acls_are_evaluated_lowest_rule_first():
    facts = parse("aws_network_acls", "aws_ec2_describe_network_acls.txt", "aws ec2 describe-network-acls --filters Name=vpc-id,Values=vpc-0a7d3c9e5b1f24680")
    db, default = facts.acls
    assert db.subnets == ["subnet-0d1e2f3a4b5c6d7e8", "subnet-0f9e8d7c6b5a4f3e2"] and default.is_default
    deny = db.decide(egress=False, ip="10.10.11.45", port=5432)
    assert (deny.rule_number, deny.action) == (90, "deny") and "DENY tcp/5432 from 10.10.11.0/24" in deny.show()
    assert db.decide(egress=False, ip="10.10.12.34", port=5432).rule_number == 100  # another subnet: allowed
    assert db.decide(egress=False, ip="172.16.0.9", port=5432).default  # outside the VPC: the * rule
    assert default.decide(egress=False, ip="10.10.11.45", port=5432).action == "allow"


@pytest.mark.parametrize("parser,command,fixture", [
    # the recording answers a command with another subcommand's output of the same program: refused, never misread
    ("kube_replicasets", "kubectl get rs -n shop -l app=api -o wide", "kubectl_get_pods_wide.txt"),
    ("kube_replicasets", "kubectl get rs -n shop -l app=api -o wide", "kubectl_get_events.txt"),
    ("kube_rollout_history", "kubectl rollout history deployment/api -n shop", "kubectl_get_rs_wide.txt"),
    ("kube_rollout_history", "kubectl rollout history deployment/api -n shop", "kubectl_describe_pod_oomkilled.txt"),
    ("kube_keys", "kubectl describe secret api -n shop", "kubectl_describe_pod_oomkilled.txt"),
    ("kube_keys", "kubectl describe secret api -n shop", "kubectl_get_pods_wide.txt"),
    ("kube_describe", "kubectl describe pod api-1 -n shop", "kubectl_describe_secret.txt"),
    ("kube_pods", "kubectl get pods -A", "kubectl_get_rs_all_namespaces.txt"),
    ("aws_rds", "aws rds describe-db-instances --db-instance-identifier x", "aws_ec2_describe_security_groups.txt"),
    ("aws_security_groups", "aws ec2 describe-security-groups --group-ids sg-1", "aws_ec2_describe_network_acls.txt"),
    ("aws_network_acls", "aws ec2 describe-network-acls", "aws_rds_describe_db_instances.txt"),
])
def test_another_subcommands_output_is_refused(parser, command, fixture):
    facts = parse_output(parser, (OUT / fixture).read_text(), command=command)
    assert facts.ok is False and facts.error


def test_aws_output_reshaped_by_query_or_text_is_refused():
    shaped = '[\n    "shop-dev-mysql",\n    "stopped",\n    "db.t3.micro"\n]\n'
    assert "--query" in parse_output("aws_rds", shaped).error
    text = "DBINSTANCES\tshop-dev-mysql\tstopped\tdb.t3.micro\n"
    assert parse_output("aws_rds", text).ok is False
    assert parse_output("aws_rds", "{\"DBInstances\": []}").ok is False
    assert parse_output("aws_security_groups", "{\"SecurityGroups\": \"x\"}").ok is False
    assert parse_output("aws_network_acls", "{not json").ok is False


# ------------------------------------------------------------------ garbage and robustness


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_parser_refuses_garbage(name):
    garbage = (OUT / "garbage.txt").read_text()
    facts = parse_output(name, garbage)
    if name == "journal":  # any text is log lines; binary data is not
        assert parse_output(name, "\x00\x01\x02\x03" * 200).ok is False
    else:
        assert facts.ok is False and facts.error
    assert parse_output(name, "").ok is False


def test_no_parser_raises_on_any_fixture_or_noise():
    rng = random.Random(4)
    inputs = [p.read_text() for p in sorted(OUT.glob("*.txt"))]
    inputs += ["".join(chr(rng.randrange(1, 0x3000)) for _ in range(500)) for _ in range(5)]
    inputs += ["| a | b |\n+--+\n" * 3, "Filesystem\n", "PID\n", "Name:\n", "NAME READY STATUS RESTARTS\n", "x" * 100_000]
    for name in PARSERS:
        for text in inputs:
            facts = parse_output(name, text, command="x", stderr=text[:100])
            assert facts.parser  # a result, never an exception


def test_facts_round_trip_through_evidence_dicts():
    facts = parse("ps", "ps_aux_mem_hog.txt")
    again = facts_of(facts.model_dump(mode="json"))
    assert type(again) is FACT_MODELS["ps"] and again.top_mem[0].pid == facts.top_mem[0].pid
    assert facts_of({"parser": "free", "ok": False, "error": "x"}) is None


@pytest.mark.parametrize("command,parser", [
    ("free -m", "free"), ("vmstat 1 5", "vmstat"), ("top -bn1", "top"), ("ps aux --sort=-%mem", "ps"), ("df -i", "df"),
    ("iostat -x 1 3", "iostat"), ("ss -s", "ss_summary"), ("ss -tanp", "ss"), ("netstat -tanp", "ss"), ("dmesg -T", "dmesg"),
    ("systemctl status api", "systemctl_status"), ("journalctl -u api -n 200 --no-pager", "journal"), ("journalctl -k", "dmesg"),
    ('mysql -e "SHOW FULL PROCESSLIST"', "mysql_processlist"), ("mysql -e \"SHOW GLOBAL STATUS LIKE 'Threads_connected'\"", "db_settings"),
    ('psql -c "select pid, state from pg_stat_activity"', "pg_activity"), ("kubectl get pods -A -o wide", "kube_pods"),
    ("kubectl describe pod api-1 -n shop", "kube_describe"), ("kubectl get events -A", "kube_events"), ("kubectl logs api-1", "journal"),
    ("cat /etc/resolv.conf", "resolv_conf"), ("tail -n 200 /var/log/nginx/error.log", "journal"), ("dig api.internal", "dns"),
    ("openssl x509 -enddate -noout -in /etc/ssl/certs/a.pem", "tls"), ("nginx -t", "nginx_test"), ("uname -a", None), ("systemctl restart api", None),
    ("kubectl get rs -n shop -l app=api -o wide", "kube_replicasets"), ("kubectl -n shop get replicasets.apps", "kube_replicasets"),
    ("kubectl rollout history deployment/api -n shop", "kube_rollout_history"), ("kubectl rollout status deployment/api", None),
    ("kubectl describe secret api-secrets -n shop", "kube_keys"), ("kubectl describe cm api-config", "kube_keys"),
    ("kubectl describe secret/api-secrets", "kube_keys"), ("kubectl get secrets -n shop", None),
    ("aws rds describe-db-instances --db-instance-identifier shop-prod", "aws_rds"),
    ("aws --region ap-northeast-2 ec2 describe-security-groups --group-ids sg-1", "aws_security_groups"),
    ("aws ec2 describe-network-acls --filters Name=vpc-id,Values=vpc-1", "aws_network_acls"),
    ("aws ec2 describe-subnets", None), ("aws logs filter-log-events --log-group-name /shop/api", None),
])
def test_parser_for_command(command, parser):
    assert parser_for_command(command) == parser


def test_the_rule_pre_check_never_hides_a_match():
    """signals.NEEDS lets most lines skip most regexes; on every line we have, it must change nothing."""
    import yaml

    from agents.diagnosis.signals import match_rules, match_rules_slowly

    lines = [line for p in sorted(OUT.glob("*.txt")) for line in p.read_text().splitlines()]
    for path in sorted((Path(__file__).parent / "fixtures" / "diagnosis").glob("*.yaml")):
        world = (yaml.safe_load(path.read_text()) or {}).get("world") or {}
        for source_lines in (world.get("logs") or {}).values():
            lines += [str(x) for x in source_lines]
        for outputs in (world.get("hosts") or {}).values():
            for out in outputs.values():
                lines += str(out if not isinstance(out, dict) else out.get("stdout", "") + out.get("stderr", "")).splitlines()
    assert len(lines) > 1000
    for line in lines:
        assert [r.id for r in match_rules(line)] == [r.id for r in match_rules_slowly(line)], line
