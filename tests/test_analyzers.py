"""Analyzers on combinations of real outputs and log lines, distractors included.

Each case builds evidence the way the collector does (parse_output on a
command's output, scan_lines on log lines) and asserts the ranked root cause,
what it cites, and that a single misleading line or a half-full disk does not win.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.diagnosis.analyzers import Situation, analyze
from agents.diagnosis.metrics import summarize_series
from agents.diagnosis.parsers import parse_output, parser_for_command
from agents.diagnosis.timeline import scan_lines
from graphs.state import Evidence

OUT = Path(__file__).parent / "fixtures" / "outputs"


class Book:
    """Evidence numbered like the collector numbers it."""

    def __init__(self) -> None:
        self.items: list[Evidence] = []

    def _id(self) -> str:
        return f"E{len(self.items) + 1}"

    def cmd(self, command: str, text: str | None = None, *, fixture: str | None = None, host: str = "web1", stderr: str = "") -> str:
        text = (OUT / fixture).read_text() if fixture else (text or "")
        facts = parse_output(parser_for_command(command), text, command=command, stderr=stderr)
        e = Evidence(id=self._id(), kind="command", source=f"{host}: {command}", host=host, command=command, summary=facts.summary(),
                     ok=facts.ok, facts=facts.model_dump(mode="json"))
        self.items.append(e)
        return e.id

    def log(self, source: str, lines: list[str]) -> str:
        facts = scan_lines(lines)
        e = Evidence(id=self._id(), kind="log", source=source, summary=facts.summary(), facts=facts.model_dump(mode="json"))
        self.items.append(e)
        return e.id

    def metric(self, name: str, points: list[tuple[str, float]]) -> str:
        facts = summarize_series(name, points)
        e = Evidence(id=self._id(), kind="metric", source=f"metric:{name}", summary=facts.summary(), facts=facts.model_dump(mode="json"))
        self.items.append(e)
        return e.id

    def incident(self, root_cause: str, score: float) -> str:
        e = Evidence(id=self._id(), kind="incident", source="incident:INC-1", summary="past", facts={"root_cause": root_cause, "score": score})
        self.items.append(e)
        return e.id


FREE_HIGH = """               total        used        free      shared  buff/cache   available
Mem:            7821        7390         112          18         318         201
Swap:           2047        1986          61
"""
DF_84 = """Filesystem      Size  Used Avail Use% Mounted on
/dev/nvme0n1p1   50G   42G  8.1G  84% /
"""
PS_LEAK = """USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
app        21877 38.2 81.6 9912344 6537216 ?    Ssl  08:02 142:11 node /srv/api/dist/server.js
root         912  0.4  1.1 1290012 92344 ?      Ssl  Mar01   9:02 /usr/bin/dockerd
app         1204  0.0  0.4 402112 33020 ?       Sl   Mar01   0:12 node /srv/metrics-agent/index.js
"""


def ranked(analysis):
    return [s.category for s in analysis.ranked]


# ------------------------------------------------------------------ memory


def test_memory_leak_rests_on_the_runaway_process_and_the_oom_killer_not_on_the_disk():
    b = Book()
    free = b.cmd("free -m", FREE_HIGH)
    ps = b.cmd("ps aux --sort=-%mem", PS_LEAK)
    df = b.cmd("df -h", DF_84)
    dmesg = b.cmd("dmesg -T", fixture="dmesg_oom.txt")
    b.log("cloudwatch:/shop/prod/api", ["2026-03-03T13:40:58+09:00 INFO upstream cache returned 429 once, retrying"])
    a = analyze(b.items, Situation(labels={"host": "web1", "service": "api"}))
    assert a.winner == "memory_leak"
    cited = [eid for eid, _ in a.get("memory_leak").evidence]
    assert ps in cited and dmesg in cited and free in cited and df not in cited
    assert "disk_full" not in ranked(a) and "rate_limited" not in ranked(a)[:1]
    assert sum(s.confidence for s in a.ranked) <= 1.0


def test_many_workers_and_several_oom_victims_are_pressure_not_a_leak():
    b = Book()
    b.cmd("free -m", fixture="free_m_procps_3_3_9.txt")
    b.cmd("ps aux --sort=-%mem", fixture="ps_aux_php_fpm_pressure.txt")
    b.cmd("dmesg -T", "[Thu Mar  5 10:58:12 2026] Out of memory: Killed process 3090 (php-fpm) total-vm:612000kB, anon-rss:250112kB\n"
                      "[Thu Mar  5 11:02:40 2026] Out of memory: Killed process 2211 (mysqld) total-vm:2011400kB, anon-rss:598200kB\n")
    b.cmd("df -h", DF_84)
    a = analyze(b.items, Situation(labels={"service": "php-fpm"}))
    assert a.winner == "memory_pressure"
    assert ranked(a).index("memory_pressure") < ranked(a).index("memory_leak") if "memory_leak" in ranked(a) else True


def test_a_logged_gauge_that_grows_and_resets_on_restart_is_a_leak():
    b = Book()
    lines = [f"2026-02-18T0{h}:00:00Z info stats rps=15 heap_used_mb={v} rss_mb={v + 80}" for h, v in enumerate([212, 318, 427, 535, 644, 219, 329, 437])]
    log = b.log("cloudwatch:/shop/staging/image-resizer", lines)
    b.cmd("kubectl describe pod image-resizer-7d9c8b6f5-k2xpl -n media", fixture="kubectl_describe_pod_oomkilled.txt")
    a = analyze(b.items, Situation(labels={"namespace": "media", "service": "image-resizer"}))
    assert a.winner == "memory_leak"
    assert log in [eid for eid, _ in a.get("memory_leak").evidence]


# ------------------------------------------------------------------ cpu, disks


def test_busy_cpu_with_a_hot_process_is_cpu_saturation():
    b = Book()
    b.cmd("top -bn1", fixture="top_bn1_busy.txt")
    b.cmd("nproc", "2\n")
    b.cmd("uptime", fixture="uptime_busy.txt")
    b.cmd("df -h", DF_84)
    assert analyze(b.items).winner == "cpu_saturation"


def test_high_load_with_iowait_is_the_disk_not_the_cpu():
    b = Book()
    b.cmd("iostat -x 1 3", fixture="iostat_x_saturated.txt")
    b.cmd("uptime", " 03:19:40 up 12 days,  1:02,  0 users,  load average: 9.12, 8.80, 6.40\n")
    b.cmd("dmesg -T", fixture="dmesg_hung_task.txt")
    b.cmd("vmstat 1 5", " r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st\n"
                         " 1  8      0 402112  20110 5802200    0    0  3300 10800 2200 3100  7  3 28 62  0\n"
                         " 0  9      0 401100  20110 5803100    0    0  3360 10920 2300 3200  6  3 29 62  0\n")
    a = analyze(b.items)
    assert a.winner == "disk_io_bottleneck"
    assert "cpu_saturation" not in ranked(a)[:1]


def test_full_space_is_disk_full():
    b = Book()
    df = b.cmd("df -h", fixture="df_h_full.txt")
    b.log("cloudwatch:/api", ["2026-03-07T03:51:02Z ERROR write failed: ENOSPC: no space left on device"] * 3)
    a = analyze(b.items)
    assert a.winner == "disk_full" and df in [eid for eid, _ in a.get("disk_full").evidence]


def test_no_space_left_with_free_space_but_no_inodes_is_inode_exhaustion():
    b = Book()
    b.cmd("df -h", "Filesystem      Size  Used Avail Use% Mounted on\n/dev/xvda1       40G   24G   16G  61% /\n")
    dfi = b.cmd("df -i", fixture="df_i_full.txt")
    b.log("file:/var/log/php/error.log", ["PHP Warning: session_start(): open(/var/lib/php/sessions/sess_9f, O_RDWR) failed: No space left on device (28)"] * 4)
    a = analyze(b.items)
    assert a.winner == "inode_exhaustion" and dfi in [eid for eid, _ in a.get("inode_exhaustion").evidence]
    assert ranked(a).index("inode_exhaustion") < ranked(a).index("disk_full") if "disk_full" in ranked(a) else True


# ------------------------------------------------------------------ databases and connections


MAX_151 = "Variable_name\tValue\nmax_connections\t151\n"


def test_close_wait_piles_and_idle_connections_are_a_leak_that_explains_the_pool_errors():
    b = Book()
    ss = b.cmd("ss -tanp", fixture="ss_tanp_close_wait.txt")
    b.cmd('mysql -e "SHOW FULL PROCESSLIST"', "\n".join(["Id\tUser\tHost\tdb\tCommand\tTime\tState\tInfo"] +
                                                           [f"{i}\tapp\t10.0.1.5:{40000 + i}\tshop\tSleep\t{900 + i}\t\tNULL" for i in range(40)]))
    b.log("cloudwatch:/ecs/orders", ["2026-03-11T16:31:02Z ERROR Error: Pool exhausted: timeout acquiring connection after 10000ms"] * 5)
    a = analyze(b.items)
    assert a.winner == "connection_leak"
    assert ss in [eid for eid, _ in a.get("connection_leak").evidence]


def test_connections_at_the_limit_with_busy_short_queries_are_exhaustion():
    b = Book()
    b.cmd("mysql -e \"SHOW GLOBAL STATUS LIKE 'Threads_connected'\"", "Variable_name\tValue\nThreads_connected\t151\n")
    b.cmd("mysql -e \"SHOW VARIABLES LIKE 'max_connections'\"", MAX_151)
    b.cmd('mysql -e "SHOW FULL PROCESSLIST"', "\n".join(["Id\tUser\tHost\tdb\tCommand\tTime\tState\tInfo"] +
                                                           [f"{i}\tapp\t10.0.{i % 9}.5:{40000 + i}\tshop\tQuery\t0\texecuting\tSELECT 1" for i in range(151)]))
    b.log("cloudwatch:/ecs/api", ["2026-03-10T12:01:12Z ERROR SequelizeConnectionError: Too many connections"] * 6)
    b.metric("api.requests_per_min", [("2026-03-10T11:40:00Z", 9000), ("2026-03-10T11:50:00Z", 15000), ("2026-03-10T12:00:00Z", 21000)])
    assert analyze(b.items).winner == "db_connection_exhaustion"


def test_long_lock_waiting_queries_are_slow_queries_not_exhaustion():
    b = Book()
    b.cmd('psql -c "select pid, state, now() - query_start as duration, wait_event_type, query from pg_stat_activity"',
          " pid | state  | duration | wait_event_type | query\n-----+--------+----------+-----------------+-------\n"
          + "\n".join(f" {100 + i} | active | 00:0{3 + i % 5}:12 | Lock | update orders set status = 'x' where id = {i}" for i in range(12))
          + "\n(12 rows)\n")
    b.log("cloudwatch:/ecs/api", ["2026-03-12T01:13:01Z ERROR Knex: Timeout acquiring a connection. The pool is probably full."] * 3)
    a = analyze(b.items)
    assert a.winner == "db_slow_query"


def test_the_client_error_decides_between_exhaustion_refusal_and_dns():
    for stderr, category in [("ERROR 1040 (HY000): Too many connections", "db_connection_exhaustion"),
                             ("ERROR 2003 (HY000): Can't connect to MySQL server on '10.0.2.10:3306' (111)", "db_unreachable"),
                             ("ERROR 2005 (HY000): Unknown MySQL server host 'db.shop.internal' (-2)", "dns_failure")]:
        b = Book()
        b.cmd('mysql -e "SHOW FULL PROCESSLIST"', "", stderr=stderr)
        assert analyze(b.items).winner == category, stderr


def test_connections_that_only_grow_at_a_flat_request_rate_are_a_leak():
    b = Book()
    b.metric("orders.db_pool.active", [(f"2026-03-11T1{h}:00:00Z", v) for h, v in enumerate([12, 31, 55, 83, 100])])
    b.metric("orders.requests_per_min", [(f"2026-03-11T1{h}:00:00Z", v) for h, v in enumerate([900, 910, 905, 899, 902])])
    b.log("cloudwatch:/ecs/orders", ["2026-03-11T16:31:02Z ERROR Error: Pool exhausted: timeout acquiring connection"] * 4)
    assert analyze(b.items).winner == "connection_leak"


# ------------------------------------------------------------------ names, paths, dependencies


@pytest.mark.parametrize("lines,category", [
    (["ERROR POST /checkout failed: getaddrinfo ENOTFOUND payments.shop.internal"] * 3, "dns_failure"),
    (["ERROR search failed: connect ETIMEDOUT 10.30.5.20:9200"] * 3 + ["eventName=RevokeSecurityGroupIngress groupId=sg-0a1b"], "network_unreachable"),
    (["ERROR charge failed: payments-gateway responded 503 Service Unavailable"] * 3 + ["WARN circuit breaker payments-gateway is OPEN"], "dependency_failure"),
    (["WARN request to http://inventory.internal/stock/1 still pending after 240s"] * 2 + ["ERROR all 64 workers are busy; request queue full"] * 2, "missing_timeout"),
    (["ERROR sync failed: x509: certificate has expired or is not yet valid"] * 2, "certificate_expired"),
    (["ERROR upload failed: An error occurred (AccessDenied) when calling the PutObject operation: not authorized to perform: s3:PutObject"] * 3, "permission_denied"),
    (["ERROR SendEmail failed: Throttling: Maximum sending rate exceeded."] * 4, "rate_limited"),
    (["ERROR sqlalchemy OperationalError: connection to server at \"db\" (10.0.3.15), port 5432 failed: Connection refused"] * 3, "db_unreachable"),
])
def test_log_messages_name_their_category(lines, category):
    b = Book()
    b.log("cloudwatch:/ecs/app", [f"2026-03-14T04:51:{10 + i:02d}Z {line}" for i, line in enumerate(lines)])
    assert analyze(b.items).winner == category


def test_dns_lookup_failing_outright_is_dns():
    b = Book()
    dig = b.cmd("dig payments.shop.internal", fixture="dig_nxdomain.txt")
    b.log("cloudwatch:/ecs/checkout", ["2026-03-14T04:52:00Z ERROR GET /cart 502 Bad Gateway"] * 2)
    a = analyze(b.items)
    assert a.winner == "dns_failure" and dig in [eid for eid, _ in a.get("dns_failure").evidence]


def test_expired_certificate_from_openssl_dates():
    b = Book()
    b.cmd("openssl x509 -enddate -noout -in /etc/ssl/certs/api.pem", fixture="openssl_x509_enddate.txt")
    from datetime import datetime, timezone
    assert analyze(b.items, Situation(at=datetime(2026, 3, 2, tzinfo=timezone.utc))).winner == "certificate_expired"
    assert analyze(b.items, Situation(at=datetime(2026, 1, 2, tzinfo=timezone.utc))).winner == "unknown"


# ------------------------------------------------------------------ runtime: crash loops, config, deploys, capacity


def test_a_missing_setting_explains_the_crash_loop():
    b = Book()
    b.cmd("systemctl status api", fixture="systemctl_status_crashloop.txt")
    b.cmd("journalctl -u api -n 200 --no-pager", fixture="journalctl_api_missing_env.txt")
    a = analyze(b.items)
    assert a.winner == "config_error" and "service_crashloop" in ranked(a)


def test_a_crash_loop_with_no_deeper_reason_is_a_crash_loop():
    b = Book()
    b.cmd("systemctl status api", fixture="systemctl_status_crashloop.txt")
    b.cmd("dmesg -T", "[Wed Mar 18 07:58:40 2026] resizer[22011]: segfault at 0 ip 00007f3b2c41a1e0 sp 00007ffd6c1f2e48 error 4 in libvips.so.42\n")
    assert analyze(b.items).winner == "service_crashloop"


def _deploy_lines(errors_before: int) -> list[str]:
    lines = ["2026-03-19T05:00:01Z INFO orders v3.7.2 listening on :8080"]
    lines += [f"2026-03-19T05:1{i}:00Z ERROR POST /orders 500 TypeError: Cannot read properties of undefined" for i in range(errors_before)]
    lines += ["2026-03-19T05:30:00Z INFO orders v3.8.0 listening on :8080"]
    lines += [f"2026-03-19T05:3{i}:30Z ERROR POST /orders 500 TypeError: Cannot read properties of undefined (reading 'percent')" for i in range(1, 6)]
    return lines


def test_errors_that_start_after_a_version_change_are_a_bad_deploy():
    b = Book()
    b.log("cloudwatch:/ecs/orders", _deploy_lines(errors_before=0))
    assert analyze(b.items).winner == "bad_deploy"


def test_errors_that_were_there_before_the_deploy_do_not_blame_it():
    b = Book()
    b.log("cloudwatch:/ecs/orders", _deploy_lines(errors_before=6))
    assert analyze(b.items).winner != "bad_deploy"


def _startup_lines(restart_version: str) -> list[str]:
    """A stream that never named the old version; the new process announces its own at start-up."""
    lines = [f"2026-03-19T05:0{i}:00Z INFO GET /v1/coupons/{i} 200 18ms" for i in range(5)]
    lines += [f"2026-03-19T05:10:00Z INFO coupon-api {restart_version} listening on :3000 (pod coupon-api-1)"]
    lines += [f"2026-03-19T05:1{i}:30Z ERROR GET /v1/coupons/{i} 500 TypeError: Cannot read properties of null (reading 'rate')" for i in range(1, 6)]
    return lines


def test_a_version_announced_at_start_up_marks_the_release_errors_follow():
    b = Book()
    b.log("cloudwatch:/shop/prod/coupon", _startup_lines("2.14.0"))
    assert analyze(b.items).winner == "bad_deploy"


def test_a_version_number_that_is_not_a_start_up_is_no_release():
    b = Book()
    lines = _startup_lines("2.14.0")
    lines[5] = "2026-03-19T05:10:00Z INFO loaded tariff table 2.14.0 from s3 (34 rows)"
    b.log("cloudwatch:/shop/prod/coupon", lines)
    assert analyze(b.items).winner != "bad_deploy"


def test_pending_pods_on_a_full_cluster_are_capacity():
    b = Book()
    b.cmd("kubectl get pods -A -o wide", fixture="kubectl_get_pods_wide.txt")
    b.cmd("kubectl describe pod worker-6c5d7f9d8-hv8lz -n shop", fixture="kubectl_describe_pod_pending.txt")
    a = analyze(b.items, Situation(labels={"namespace": "shop", "deployment": "worker"}))
    assert a.winner == "capacity_exhausted"


@pytest.mark.parametrize("fixture,category", [("terraform_state_lock.txt", "terraform_state_lock"),
                                              ("terraform_unsupported_attribute.txt", "terraform_config_error"),
                                              ("terraform_already_exists.txt", "resource_name_conflict"),
                                              ("terraform_access_denied_with_warning.txt", "permission_denied")])
def test_terraform_output_names_the_category(fixture, category):  # a deprecation warning beside the error is not the cause
    from agents.diagnosis.parsers.terraform import parse_terraform
    facts = parse_terraform((OUT / fixture).read_text())
    e = Evidence(id="E1", kind="terraform", source="terraform", summary=facts.summary(), facts=facts.model_dump(mode="json"))
    assert analyze([e]).winner == category


# ------------------------------------------------------------------ unknown, hints, normalisation


def test_words_and_past_incidents_alone_are_not_a_diagnosis():
    b = Book()
    b.incident("disk_full", 0.95)
    a = analyze(b.items, Situation(alert_name="HostOutOfDiskSpace", summary="disk full on web1"))
    assert a.winner == "unknown"
    assert a.ranked and a.ranked[0].category == "disk_full"  # still the leading candidate, just not supported


def test_healthy_outputs_give_unknown():
    b = Book()
    b.cmd("free -m", fixture="free_m_debian12.txt")
    b.cmd("df -h", fixture="df_h_local.txt")
    b.cmd("iostat -x 1 3", fixture="iostat_x_sysstat12.txt")
    assert analyze(b.items, Situation(alert_name="ApiLatencyHigh")).winner == "unknown"


def test_one_stray_line_does_not_outweigh_structured_evidence():
    b = Book()
    b.cmd("df -h", fixture="df_h_full.txt")
    b.log("cloudwatch:/api", ["2026-03-07T03:51:02Z INFO got 429 from partner api once",
                              "2026-03-07T03:51:03Z INFO certificate rotation scheduled next week"])
    assert analyze(b.items).winner == "disk_full"


def test_similar_incident_tips_a_close_call_but_cites_itself_separately():
    b = Book()
    b.cmd("free -m", FREE_HIGH)
    b.cmd("dmesg -T", fixture="dmesg_oom.txt")
    inc = b.incident("memory_leak", 0.9)
    a = analyze(b.items)
    assert a.winner == "memory_leak"
    assert inc in [eid for eid, _ in a.get("memory_leak").evidence]


def test_a_failing_analyzer_is_reported_not_raised(monkeypatch):
    import agents.diagnosis.analyzers as analyzers

    def broken(view):
        raise RuntimeError("boom")

    monkeypatch.setattr(analyzers, "ANALYZERS", (broken,) + analyzers.ANALYZERS)
    b = Book()
    b.cmd("df -h", fixture="df_h_full.txt")
    a = analyzers.analyze(b.items)
    assert a.winner == "disk_full" and a.failures and "boom" in a.failures[0]


def test_a_healthy_peer_does_not_argue_against_the_sick_host():
    b = Book()
    b.cmd("free -m", fixture="free_m_debian12.txt", host="web1")
    b.cmd("ps aux --sort=-%mem", fixture="ps_aux_debian12.txt", host="web1")
    b.cmd("free -m", FREE_HIGH, host="web2")
    ps = b.cmd("ps aux --sort=-%mem", PS_LEAK, host="web2")
    b.cmd("dmesg -T", fixture="dmesg_oom.txt", host="web2")
    a = analyze(b.items)
    assert a.winner == "memory_leak" and a.get("memory_leak").evidence[0][0] == ps


def test_requests_slowing_right_after_a_release_blame_the_release():
    b = Book()
    b.log("cloudwatch:/shop/prod/catalog", [
        "2026-03-26T01:05:40Z info GET /v1/categories/12/products 200 61ms version=3.7.4",
        "2026-03-26T01:06:10Z info GET /v1/categories/14/products 200 58ms version=3.7.4",
        "2026-03-26T01:09:12Z info deploy catalog-api 3.8.0 rollout started (was 3.7.4)",
        "2026-03-26T01:12:20Z info GET /v1/categories/12/products 200 402ms version=3.8.0",
        "2026-03-26T01:15:44Z info GET /v1/categories/31/products 200 611ms version=3.8.0",
        "2026-03-26T01:20:10Z info GET /v1/categories/14/products 200 1204ms version=3.8.0",
    ])
    assert analyze(b.items).winner == "bad_deploy"


def test_a_slow_query_long_before_the_incident_weighs_less():
    from datetime import datetime, timezone

    b = Book()
    b.log("cloudwatch:/rds/slowquery", ["# Time: 2026-03-25T22:41:11.004411Z", "# Query_time: 12.118804  Lock_time: 0.000009 Rows_sent: 31"])
    early = analyze(b.items, Situation(at=datetime(2026, 3, 25, 22, 50, tzinfo=timezone.utc))).get("db_slow_query").score
    late = analyze(b.items, Situation(at=datetime(2026, 3, 26, 1, 25, tzinfo=timezone.utc))).get("db_slow_query").score
    assert late < early


def _gc_lines(live_sets: list[int], heap: int = 768) -> list[str]:
    return [f"2026-05-12T0{i}:10:00Z [gc] GC({100 + i}) Pause Young (Normal) (G1 Evacuation Pause) {live + 40}M->{live}M({heap}M) 20.1ms"
            for i, live in enumerate(live_sets)]


def _oom_pod(b: "Book") -> None:
    b.cmd("kubectl describe pod indexer-1 -n catalog", fixture="kubectl_describe_pod_oomkilled.txt", host="mgmt1")


def test_a_live_heap_that_fills_the_heap_but_does_not_grow_is_pressure():
    b = Book()
    _oom_pod(b)
    b.log("cloudwatch:/shop/prod/indexer", _gc_lines([701, 712, 729, 699, 716]) +
          ["2026-05-12T06:00:00Z ERROR batch failed: java.lang.OutOfMemoryError: Java heap space"])
    assert analyze(b.items).winner == "memory_pressure"


def test_a_live_heap_that_grows_between_collections_is_a_leak():
    b = Book()
    _oom_pod(b)
    b.log("cloudwatch:/shop/prod/indexer", _gc_lines([210, 290, 365, 450, 540, 610]) +
          ["2026-05-12T07:00:00Z ERROR batch failed: java.lang.OutOfMemoryError: Java heap space"])
    assert analyze(b.items).winner == "memory_leak"


def test_memory_that_stepped_up_once_is_not_read_as_a_slow_leak():
    from agents.diagnosis.metrics import summarize_series

    step = summarize_series("svc.memory_mib", [["t1", 598], ["t2", 606], ["t3", 991], ["t4", 1001], ["t5", 1003]])
    climb = summarize_series("svc.memory_mib", [["t1", 400], ["t2", 520], ["t3", 650], ["t4", 790], ["t5", 905]])
    assert step.stepped and not climb.stepped


def _rds_available(b: "Book") -> str:
    text = (OUT / "aws_rds_describe_db_instances.txt").read_text().replace('"modifying"', '"available"')
    return b.cmd("aws rds describe-db-instances --db-instance-identifier shop-prod-orders-pg", text, host="bastion")


@pytest.mark.parametrize("free_gib,category", [(11.8, "disk_full"), (240.0, None)])
def test_free_storage_against_the_allocated_size_says_an_instance_is_filling_up(free_gib, category):
    b = Book()
    _rds_available(b)  # 400 GiB allocated
    b.metric("shop-prod-orders-pg.FreeStorageSpace", [(f"2026-06-0{d}T00:00:00Z", g * 1024**3) for d, g in
                                                      enumerate([310.0, 250.0, 160.0, 80.0, free_gib], start=1)])
    found = [s for s in analyze(b.items, Situation()).signals if s.category == "disk_full"]
    if category is None:
        assert found == []
    else:
        assert found and found[0].weight >= 2.5 and "11.8 GiB free of 400 GiB (3%)" in found[0].reason


def test_burst_credits_drained_to_zero_explain_the_slow_queries_they_cause():
    b = Book()
    b.cmd("mysql -e 'SHOW FULL PROCESSLIST'", "Id\tUser\tHost\tdb\tCommand\tTime\tState\tInfo\n"
          + "".join(f"{i}\treport\t10.0.0.{i}:5000\tshop\tQuery\t{600 + i}\texecuting\tSELECT * FROM settlements WHERE day = '{i}'\n"
                    for i in range(1, 6)), host="bastion")
    b.metric("shop-prod-report.BurstBalance", [(f"2026-06-04T0{h}:00:00Z", v) for h, v in enumerate([100, 71, 38, 9, 0])])
    analysis = analyze(b.items, Situation())
    assert analysis.winner == "disk_io_bottleneck", [(s.category, s.score) for s in analysis.ranked]
