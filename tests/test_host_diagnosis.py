"""Host and database failure modes an operator recognises, each on an inline recording (only what is asked is answered).

- a systemd service in a restart loop after a package upgrade, its journal naming a configuration its new version refuses;
- a proxy refused by its local upstream while the application runs and listens elsewhere (another port, a unix socket);
- a host whose clock is left to drift (time sync stopped) and rejects fresh tokens as "used before issued";
- the kernel OOM killer killing the same large program run after run, although the host looks idle once it is gone.
"""

from __future__ import annotations

from pathlib import Path

from agents.context import AgentContext
from agents.diagnostician import diagnostician
from config.settings import Settings
from graphs.state import Alert, Request
from tests.test_diagnostician import cites, run_exact
from tools.guard import judge_command
from tools.world import RecordedWorld, WorldRecord


async def run_with_logs(request: Request, hosts: dict, logs: dict, tmp_path: Path) -> dict:
    world = RecordedWorld(WorldRecord.model_validate({"hosts": hosts, "logs": logs}))
    ctx = AgentContext(world=world, settings=Settings(data_dir=tmp_path))
    return await diagnostician({"request": request}, {"configurable": {"ctx": ctx}})


FREE_IDLE = """               total        used        free      shared  buff/cache   available
Mem:            3840         610        2100           1        1130        3010
Swap:              0           0           0
"""


async def test_a_unit_that_an_upgrade_left_with_a_refused_configuration_is_a_config_error(tmp_path):
    journal = "\n".join([
        "Mar 02 03:10:11 edge7 haproxy[9911]: [ALERT]    (9911) : config : parsing [/etc/haproxy/haproxy.cfg:88] : The 'reqadd' directive is not supported anymore since HAProxy 2.1. Use 'http-request add-header' instead.",
        "Mar 02 03:10:11 edge7 haproxy[9911]: [ALERT]    (9911) : config : Fatal errors found in configuration.",
        "Mar 02 03:10:11 edge7 systemd[1]: haproxy.service: Control process exited, code=exited, status=1/FAILURE",
        "Mar 02 03:10:11 edge7 systemd[1]: haproxy.service: Failed with result 'exit-code'.",
        "Mar 02 03:10:16 edge7 systemd[1]: haproxy.service: Scheduled restart job, restart counter is at 5.",
        "Mar 02 03:10:16 edge7 systemd[1]: haproxy.service: Start request repeated too quickly.",
        "Mar 02 03:10:16 edge7 systemd[1]: haproxy.service: Failed with result 'start-limit-hit'.",
    ])
    status = """× haproxy.service - HAProxy Load Balancer
     Loaded: loaded (/lib/systemd/system/haproxy.service; enabled; vendor preset: enabled)
     Active: failed (Result: start-limit-hit) since Mon 2026-03-02 03:10:16 UTC; 5h ago
"""
    request = Request(text="after last night's patching the back-office site refuses connections", environment="prod")
    update = await run_with_logs(request, {"edge7": {"systemctl status haproxy": status, "journalctl -u haproxy": journal, "free -m": FREE_IDLE}},
                                 {"journald:haproxy.service": [
                                     "2026-03-02T03:10:11+0000 edge7 haproxy[9911]: [ALERT]    (9911) : config : Fatal errors found in configuration.",
                                     "2026-03-02T03:10:16+0000 edge7 systemd[1]: haproxy.service: Start request repeated too quickly."]}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error", d.summary
    assert "not supported anymore" in d.summary or "Fatal errors found in configuration" in d.summary
    assert cites(update, "journalctl -u haproxy")  # the unit the words never named was learned from its journal's source


async def test_a_proxy_refused_by_a_local_upstream_that_moved_is_a_config_error(tmp_path):
    error_log = ('2026/07/01 09:12:40 [error] 811#811: *5512 connect() failed (111: Connection refused) while connecting to upstream, '
                 'client: 10.9.1.4, server: shop.example, request: "GET /orders HTTP/1.1", upstream: "http://127.0.0.1:9000/orders", host: "shop.example"')
    sockets = """State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN 0      511          0.0.0.0:443        0.0.0.0:*     users:(("nginx",pid=811,fd=8))
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*     users:(("sshd",pid=700,fd=3))
ESTAB  0      0        10.9.2.5:443      10.9.1.4:51000  users:(("nginx",pid=811,fd=31))
"""
    status = """● orders.service - orders api (uwsgi)
     Loaded: loaded (/etc/systemd/system/orders.service; enabled; vendor preset: enabled)
     Active: active (running) since Wed 2026-07-01 09:10:02 UTC; 3min ago
   Main PID: 4410 (uwsgi)
     Memory: 210.0M
"""
    request = Request(alert=Alert(name="NginxHigh5xxRate", summary="nginx on app4 returns 502 for 30% of requests",
                                  labels={"host": "app4", "service": "orders"}), environment="prod")
    update = await run_with_logs(request, {"app4": {"ss -tanp": sockets, "systemctl status orders": status, "free -m": FREE_IDLE}},
                                 {"file:/var/log/nginx/error.log": [error_log]}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error", d.summary
    assert "9000" in d.summary and "listens" in d.summary
    assert cites(update, "ss -")


async def test_a_clock_left_to_drift_rejecting_fresh_tokens_is_a_config_error(tmp_path):
    def timedatectl(synced: str, ntp: str) -> str:
        return (f"               Local time: Tue 2026-05-12 07:30:02 UTC\n           Universal time: Tue 2026-05-12 07:30:02 UTC\n"
                f"System clock synchronized: {synced}\n              NTP service: {ntp}\n          RTC in local TZ: no\n")
    journal = ('May 12 07:29:51 web5 accounts[2001]: {"level":"warn","msg":"auth rejected","err":"Token used before issued","iat":1778570998}\n'
               'May 12 07:29:58 web5 accounts[2001]: {"level":"warn","msg":"auth rejected","err":"Token used before issued","iat":1778571005}\n')
    request = Request(alert=Alert(name="AuthRejectsHigh", summary="accounts rejects tokens on web5", labels={"host": "web5", "service": "accounts"}),
                      environment="prod")
    update, world = await run_exact(request, {"web5": {"journalctl -u accounts": journal, "timedatectl": timedatectl("no", "inactive"),
                                                       "free -m": FREE_IDLE}}, tmp_path)
    d = update["diagnosis"]
    assert ("web5", "timedatectl") in world.calls  # the clock playbook follows the token errors
    assert d.root_cause == "config_error" and "not synchronized" in d.summary, d.summary
    assert cites(update, "timedatectl")
    assert judge_command("timedatectl set-ntp true").verdict == "forbid" and judge_command("timedatectl set-time 10:00").verdict == "forbid"


async def test_the_oom_killer_killing_one_large_program_run_after_run_is_a_leak_though_the_host_is_idle_now(tmp_path):
    kill = ("[Mon May  4 02:{m:02d}:10 2026] Out of memory: Killed process {pid} (java) total-vm:9921204kB, anon-rss:3488112kB, "
            "file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:9112kB oom_score_adj:0")
    dmesg = "\n".join(f"[Mon May  4 02:{m:02d}:10 2026] java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0\n"
                      + kill.format(m=m, pid=pid) for m, pid in ((11, 31001), (23, 31877), (40, 32502)))
    ps = """USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root         640  0.1  0.4 120000 16000 ?        Ssl  Apr01   1:00 /usr/bin/amazon-ssm-agent
root         702  0.0  0.3  90000 12000 ?        Ssl  Apr01   0:40 /usr/bin/node_exporter
"""
    request = Request(text="the nightly export job on jobs2 died again with exit status 137", environment="prod")
    update, _ = await run_exact(request, {"jobs2": {"dmesg -T": dmesg, "free -m": FREE_IDLE, "ps aux": ps}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "memory_leak", d.summary
    assert "java 3 times" in d.summary
    assert cites(update, "dmesg")


async def test_redis_at_maxmemory_with_noeviction_outranks_a_busy_neighbour(tmp_path):
    info_memory = "# Memory\nused_memory:1073690000\nused_memory_human:1023.95M\nmaxmemory:1073741824\nmaxmemory_human:1.00G\nmaxmemory_policy:noeviction\n"
    info_stats = "# Stats\ntotal_commands_processed:991022\nevicted_keys:0\nrejected_connections:0\n"
    journal = ("Oct 03 19:02:11 shop2 checkout[771]: ERROR add to basket failed: OOM command not allowed when used memory > 'maxmemory'. (redis HSET basket:81)\n"
               "Oct 03 19:02:40 shop2 checkout[771]: ERROR session save failed: OOM command not allowed when used memory > 'maxmemory'. (redis SET s:1f EX 600)\n")
    top_busy = """top - 19:05:01 up 3 days,  2:01,  1 user,  load average: 7.80, 7.10, 6.90
Tasks: 140 total,   3 running, 137 sleeping,   0 stopped,   0 zombie
%Cpu(s): 91.0 us,  2.0 sy,  0.0 ni,  7.0 id,  0.0 wa,  0.0 hi,  0.0 si,  0.0 st
MiB Mem :   7821.0 total,   1120.4 free,   4402.1 used,   2317.5 buff/cache
MiB Swap:      0.0 total,      0.0 free,      0.0 used.   3211.0 avail Mem

    PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND
   3120 app       20   0 9412008 3201220  11204 S 688.0  41.0   801:41 java
"""
    request = Request(text="customers cannot add items to the basket since the sale started, checkout errors on shop2", environment="prod")
    update = await run_with_logs(request, {"shop2": {"journalctl -u checkout": journal, "free -m": FREE_IDLE},
                                           "kv1": {"redis-cli INFO memory": info_memory, "redis-cli INFO stats": info_stats, "free -m": FREE_IDLE},
                                           "index3": {"top -b -n 1": top_busy}},
                                 {"journald:checkout.service": [
                                     "2026-10-03T19:02:11+0000 shop2 checkout[771]: ERROR add to basket failed: OOM command not allowed when used memory > 'maxmemory'."]},
                                 tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "memory_pressure", d.summary
    assert "maxmemory" in d.summary and "noeviction" in d.summary
    assert cites(update, "redis-cli INFO")
    assert d.fix_kind == "command"  # raise maxmemory or change the policy: not a bigger host


async def test_a_deleted_log_still_held_open_is_named_and_cited_for_a_full_disk(tmp_path):
    df = "Filesystem      Size  Used Avail Use% Mounted on\n/dev/root        50G   50G   20M 100% /\ntmpfs           1.9G     0  1.9G   0% /dev/shm\n"
    lsof = """COMMAND     PID   USER   FD   TYPE DEVICE    SIZE/OFF NLINK   NODE NAME
nginx      2210    www    5w   REG  259,1     1048576     0 262001 /var/log/nginx/access.log.1 (deleted)
node       5150    app   21w   REG  259,1 32212254720     0 524001 /var/log/orders/out.log.1 (deleted)
"""
    request = Request(alert=Alert(name="HostOutOfDiskSpace", summary="Host out of disk space (instance app9:9100, / 0.1% left)",
                                  labels={"instance": "app9:9100", "host": "app9"}), environment="prod")
    update, _ = await run_exact(request, {"app9": {"df -h": df, "lsof +L1": lsof, "free -m": FREE_IDLE}}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "disk_full", d.summary
    assert "pid 5150" in d.summary and "/var/log/orders/out.log.1" in d.summary
    assert cites(update, "lsof")


async def test_a_unit_whose_environment_file_was_removed_is_a_config_error(tmp_path):
    journal = "\n".join([
        "Apr 06 06:30:02 worker3 systemd[1]: invoice-worker.service: Failed to load environment files: No such file or directory",
        "Apr 06 06:30:02 worker3 systemd[1]: invoice-worker.service: Failed to run 'start' task: No such file or directory",
        "Apr 06 06:30:02 worker3 systemd[1]: invoice-worker.service: Failed with result 'resources'.",
    ])
    request = Request(text="오늘 아침부터 인보이스 메일이 하나도 안 나가요. worker3 쪽인 것 같아요", environment="prod")
    update = await run_with_logs(request, {"worker3": {"journalctl -u invoice-worker": journal, "free -m": FREE_IDLE}},
                                 {"journald:invoice-worker.service": journal.splitlines()}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error" and "Failed to load environment files" in d.summary, d.summary


async def test_a_filesystem_the_kernel_remounted_read_only_is_a_disk_fault_not_a_permission(tmp_path):
    dmesg = "\n".join([
        "[Thu Apr  9 23:41:18 2026] blk_update_request: I/O error, dev nvme1n1, sector 812201472 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0",
        "[Thu Apr  9 23:41:19 2026] EXT4-fs error (device nvme1n1): ext4_journal_check_start:83: comm fluentd: Detected aborted journal",
        "[Thu Apr  9 23:41:19 2026] EXT4-fs (nvme1n1): Remounting filesystem read-only",
    ])
    journal = "Apr 09 23:41:20 log1 fluentd[811]: [error]: failed to write data into buffer by buffer overflow: Read-only file system @ rb_sysopen - /data/buffer/x.log (Errno::EROFS)\n" * 3
    request = Request(text="log1 stopped accepting logs around midnight, the shippers keep retrying", environment="prod")
    update = await run_with_logs(request, {"log1": {"dmesg -T": dmesg, "journalctl -u fluentd": journal, "free -m": FREE_IDLE}},
                                 {"journald:fluentd.service": journal.splitlines()}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "disk_io_bottleneck" and "remounted read-only" in d.summary, d.summary


async def test_a_provider_rejecting_an_expired_api_key_is_a_credential_to_rotate(tmp_path):
    journal = "\n".join(
        f"Apr 01 09:2{i}:04 pay1 java[3311]: 2026-04-01 09:2{i}:04.440 WARN  [exec-14] PayGateClient : POST /v1/payments/confirm mid=shopkr01 "
        f'-> 401 {{"code":"UNAUTHORIZED_KEY","message":"API key expired"}} (41 ms)' for i in range(4))
    request = Request(alert=Alert(name="PaymentConfirmFailures", summary="payment confirm failures 35% on pay1",
                                  labels={"host": "pay1", "unit": "payment-api"}), environment="prod")
    update = await run_with_logs(request, {"pay1": {"journalctl -u payment-api -n 200 --no-pager": journal, "free -m": FREE_IDLE}}, {}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "config_error" and "expired or revoked" in d.summary and "PayGateClient" in d.summary, d.summary
    assert d.fix_kind == "command" and "new key" in d.target["remedy"]


async def test_a_peer_host_named_in_failing_lines_is_read_too_and_its_fault_found(tmp_path):
    """The alert fires on the sender; its journal says the receiver (log1) does not answer: the run reads log1 as well."""
    shipper = "Apr 09 23:41:30 web1 fluent-bit[1022]: [error] [output:forward:forward.0] no ACK response from log1.internal:24224\n" * 3
    dmesg = "\n".join([
        "[Thu Apr  9 23:41:18 2026] I/O error, dev nvme1n1, sector 812201472 op 0x1:(WRITE) flags 0x800 phys_seg 32 prio class 2",
        "[Thu Apr  9 23:41:19 2026] EXT4-fs error (device nvme1n1): ext4_journal_check_start:83: comm fluentd: Detected aborted journal",
        "[Thu Apr  9 23:41:19 2026] EXT4-fs (nvme1n1): Remounting filesystem read-only",
    ])
    request = Request(alert=Alert(name="FluentBitOutputRetriesHigh", summary="fluent-bit output forward.0 retrying on web1",
                                  labels={"host": "web1", "service": "fluent-bit"}), environment="prod")
    update = await run_with_logs(request, {"web1": {"journalctl -u fluent-bit -n 200 --no-pager": shipper, "free -m": FREE_IDLE},
                                           "log1": {"dmesg -T": dmesg}, "web2": {"dmesg -T": dmesg}}, {}, tmp_path)
    d = update["diagnosis"]
    assert d.root_cause == "disk_io_bottleneck" and "remounted read-only" in d.summary, d.summary
    assert cites(update, "dmesg") and any("log1" in (e.source or "") for e in update["evidence"] if e.id in d.citations)
    assert not any(e.host == "web2" for e in update["evidence"])  # only the host the failing lines name
