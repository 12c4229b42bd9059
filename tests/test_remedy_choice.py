"""Which remedy the evidence supports: real command outputs through the real parsers, then the choice.

Each case has its counter-case, where the same diagnosis with other evidence
gets another action or none (and a note that says what a person must do).
"""

from __future__ import annotations

import pytest

from agents.diagnosis.analyzers.base import EvidenceView
from agents.diagnosis.parsers import parse_output
from agents.diagnosis.parsers.processes import parse_ps
from agents.diagnosis.remedy_choice import RemedyDefaults, choose_remedies
from agents.diagnosis.timeline import scan_lines
from graphs.state import Evidence
from tools.catalogue import ToolCall, ToolParamError, default_catalogue
from tools.guard import judge_command

DEFAULTS = RemedyDefaults()
CATALOGUE = default_catalogue()

NGINX_T_FAILED = ('nginx: [emerg] unknown directive "proxy_read_timout" in /etc/nginx/conf.d/api.conf:27\n'
                  "nginx: configuration file /etc/nginx/nginx.conf test failed\n")
NGINX_DOWN = """× nginx.service - A high performance web server and a reverse proxy server
     Loaded: loaded (/lib/systemd/system/nginx.service; enabled; vendor preset: enabled)
     Active: failed (Result: exit-code) since Thu 2026-01-22 14:01:37 KST; 7min ago
"""
CONF_LISTING = """total 24
-rw-r--r-- 1 root root 2214 Jan 22 14:01 api.conf
-rw-r--r-- 1 root root 2209 Jan 22 14:01 api.conf.dpkg-dist
-rw-r--r-- 1 root root 2209 Jan 20 03:00 api.conf.48817.2026-01-22@14:01:31~
-rw-r--r-- 1 root root 2101 Jan  2 09:00 api.conf.bak
-rw-r--r-- 1 root root  412 Nov  3 10:12 healthz.conf
"""
CERTBOT_EXPIRED = """Found the following certs:
  Certificate Name: partner-api.shop.co.kr
    Domains: partner-api.shop.co.kr
    Expiry Date: 2026-04-10 00:12:44+00:00 (INVALID: EXPIRED)
    Certificate Path: /etc/letsencrypt/live/partner-api.shop.co.kr/fullchain.pem
"""
HISTORY = """deployment.apps/cart
REVISION  CHANGE-CAUSE
16        helm upgrade cart 3.4.1
17        helm upgrade cart 3.4.2
18        helm upgrade cart 3.4.2 (values)
"""


class Book:
    """Evidence the way the collector keeps it: parsed facts and the excerpt analyzers read."""

    def __init__(self) -> None:
        self.items: list[Evidence] = []

    def cmd(self, command: str, stdout: str = "", stderr: str = "") -> None:
        """Parsed by the parser the catalogue names for this command (as the collector does)."""
        verdict = judge_command(command)
        assert verdict.verdict == "allow", (command, verdict.reason)
        parser = CATALOGUE.get(verdict.tool).parser_for(verdict.params)
        facts = parse_output(parser, stdout, command=command, stderr=stderr)
        self.items.append(Evidence(id=f"E{len(self.items) + 1}", kind="command", source=f"web2: {command}", host="web2",
                                   command=command, summary=facts.summary(), ok=facts.ok, excerpt=(stdout + stderr)[:2000],
                                   facts=facts.model_dump(mode="json")))

    def log(self, source: str, lines: list[str]) -> None:
        facts = scan_lines(lines)
        self.items.append(Evidence(id=f"E{len(self.items) + 1}", kind="log", source=source, summary=facts.summary(),
                                   excerpt="\n".join(lines)[:2000], facts=facts.model_dump(mode="json")))

    def choose(self, category: str, target: dict):
        return choose_remedies(category, EvidenceView(self.items), target, DEFAULTS, None)


def test_a_broken_nginx_file_is_restored_from_its_newest_earlier_copy_then_nginx_started():
    book = Book()
    book.cmd("nginx -t", stderr=NGINX_T_FAILED)
    book.cmd("systemctl status --no-pager --full nginx.service", NGINX_DOWN)
    book.cmd("ls -l --all -t /etc/nginx/conf.d", CONF_LISTING)
    choices, note = book.choose("config_error", {"config_path": "/etc/nginx/conf.d/api.conf", "unit": "nginx.service"})
    assert note == ""
    assert [c.tool for c in choices] == ["nginx.restore_config", "systemd.restart_unit"]
    # ansible's backup is the newest earlier copy; dpkg's .dpkg-dist is the package's new default, never "last good"
    assert choices[0].params == {"backup": "/etc/nginx/conf.d/api.conf.48817.2026-01-22@14:01:31~", "path": "/etc/nginx/conf.d/api.conf"}
    assert choices[0].capture == {"tool": "files.read", "params": {"path": "/etc/nginx/conf.d/api.conf"}}


def test_without_an_earlier_copy_or_for_another_directory_no_restore_is_guessed():
    book = Book()
    book.cmd("nginx -t", stderr=NGINX_T_FAILED)
    book.cmd("ls -l --all -t /etc/nginx/conf.d", "total 4\n-rw-r--r-- 1 root root 2214 Jan 22 14:01 api.conf\n")
    choices, note = book.choose("config_error", {"config_path": "/etc/nginx/conf.d/api.conf"})
    assert choices == [] and "no earlier copy of /etc/nginx/conf.d/api.conf" in note
    other = Book()
    other.cmd("ls -l --all -t /etc/nginx/sites-enabled", CONF_LISTING)  # a listing of another directory proves nothing here
    choices, note = other.choose("config_error", {"config_path": "/etc/nginx/conf.d/api.conf"})
    assert choices == [] and "no earlier copy" in note


def test_a_running_nginx_is_reloaded_not_restarted():
    book = Book()
    book.cmd("nginx -t", stderr=NGINX_T_FAILED)
    book.cmd("systemctl status --no-pager --full nginx.service", NGINX_DOWN.replace("failed (Result: exit-code)", "active (running)"))
    book.cmd("ls -l --all -t /etc/nginx/conf.d", CONF_LISTING)
    choices, _ = book.choose("config_error", {"config_path": "/etc/nginx/conf.d/api.conf", "unit": "nginx.service"})
    assert [c.tool for c in choices] == ["nginx.restore_config", "nginx.reload"]


def test_a_workload_whose_new_revision_fails_on_its_configuration_is_rolled_back_unless_a_key_is_missing():
    book = Book()
    book.cmd("kubectl rollout history deployment/cart -n shop", HISTORY)
    choices, note = book.choose("config_error", {"deployment": "cart", "namespace": "shop"})
    assert [(c.tool, c.params["to_revision"]) for c in choices] == [("kubernetes.rollout_undo", 17)]

    book.log("kubectl:events", ['Warning  Failed  kubelet  Error: couldn\'t find key PG_WEBHOOK_SECRET in Secret shop/payment-secrets'])
    choices, note = book.choose("config_error", {"deployment": "cart", "namespace": "shop"})
    assert choices == [] and "PG_WEBHOOK_SECRET" in note and "shop/payment-secrets" in note


def test_an_expired_certificate_is_renewed_unless_its_challenge_keeps_failing():
    book = Book()
    book.cmd("certbot certificates", CERTBOT_EXPIRED)
    choices, _ = book.choose("certificate_expired", {"cert_name": "partner-api.shop.co.kr"})
    assert [c.tool for c in choices][:1] == ["certbot.renew"]
    book.log("journald:certbot.service", [
        "2026-03-11T09:41:09+0900 edge1 certbot[201122]: Failed to renew certificate partner-api.shop.co.kr with error: Some challenges have failed."])
    choices, note = book.choose("certificate_expired", {"cert_name": "partner-api.shop.co.kr"})
    assert choices == [] and "ACME challenge" in note


def test_a_process_asked_for_by_pid_that_is_gone_reads_as_no_rows_not_as_an_unreadable_output():
    header = "    PID    PPID USER     STAT %CPU %MEM   RSS     ELAPSED CMD\n"
    assert parse_ps(header, command="ps -p 30211 -o pid,ppid,user,stat,%cpu,%mem,rss,etime,cmd").count == 0
    try:
        parse_ps(header, command="ps aux")
    except Exception as exc:  # a whole-table listing with no rows is not an answer
        assert "no process rows" in str(exc)
    else:
        raise AssertionError("ps aux with no rows was accepted")


def _deployments(*where: tuple[str, str]) -> str:
    import json

    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}}}, "status": {"replicas": 3, "readyReplicas": 3}}
        for ns, name in where]})


RELEASE_LOG = ["2026-03-26T01:05:40Z info GET /v1/categories/12/products 200 61ms version=3.7.4",
               "2026-03-26T01:09:12Z info deploy catalog-api 3.8.0 rollout started (was 3.7.4)",
               "2026-03-26T01:12:20Z info GET /v1/categories/12/products 200 402ms queries=43 version=3.8.0"]
LOOKUP = "kubectl get deployments -A --field-selector metadata.name=catalog-api -o json"


def test_a_release_a_deploy_line_names_is_looked_up_in_the_cluster_which_says_where_it_runs():
    from agents.diagnosis.learn import learn_values

    book = Book()
    book.log("cloudwatch:/shop/prod/catalog", RELEASE_LOG)
    assert learn_values(book.items, {})["release"] == "catalog-api"  # a name to look up, not yet a deployment
    book.cmd(LOOKUP, _deployments(("shop", "catalog-api")))
    learned = learn_values(book.items, {"release": "catalog-api"})
    assert (learned["deployment"], learned["namespace"]) == ("catalog-api", "shop")

    twice = Book()  # the same name in two namespaces: the cluster does not say which, so nothing is learned
    twice.log("cloudwatch:/shop/prod/catalog", RELEASE_LOG)
    twice.cmd(LOOKUP, _deployments(("shop", "catalog-api"), ("shop-canary", "catalog-api")))
    assert "namespace" not in learn_values(twice.items, {"release": "catalog-api"})

    set_image = Book()  # kubectl's own words name the deployment; words after it are not the name
    set_image.log("cloudwatch:/shop/prod/deploy", [
        "2026-04-09T06:01:02Z github-actions run 8840: deploy api 4.22.0 (commit 7c1e9a2) to shop-prod",
        "2026-04-09T06:01:03Z kubectl set image deployment/api api=123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop/api:4.22.0 -n shop"])
    assert learn_values(set_image.items, {})["release"] == "api"


def test_the_lookup_runs_only_while_the_deployment_is_unknown():
    from agents.diagnosis.playbooks import fill_params, load_playbooks, step_applies
    from agents.diagnosis.collect import CONFIG_DIR

    [baseline] = [p for p in load_playbooks(CONFIG_DIR / "playbooks") if p.name == "baseline"]
    [lookup] = [s for s in baseline.steps if s.tool == "kubernetes.get" and "release" in s.placeholders()]
    assert step_applies(lookup, {"release": "catalog-api"})
    assert not step_applies(lookup, {"release": "catalog-api", "deployment": "catalog-api"})
    assert fill_params(lookup.params, {}) is None  # no name, no lookup


def test_a_bad_release_found_by_its_log_is_rolled_back_by_revision_only_when_the_history_names_it():
    from agents.diagnosis.conclude import build_target

    history = ("deployment.apps/catalog-api\nREVISION  CHANGE-CAUSE\n"
               "23        catalog-api 3.7.4 (github-actions run 8790)\n24        catalog-api 3.8.0 (github-actions run 8851)\n")
    book = Book()
    book.log("cloudwatch:/shop/prod/catalog", RELEASE_LOG)
    book.cmd("kubectl rollout history deployment/catalog-api -n shop", history)
    values = {"deployment": "catalog-api", "namespace": "shop"}
    target = build_target("bad_deploy", EvidenceView(book.items), values, ["E1"])
    assert (target["version"], target["rollback_revision"]) == ("3.8.0", 23)
    choices, _ = book.choose("bad_deploy", target)
    assert [(c.tool, c.params.get("to_revision")) for c in choices] == [("kubernetes.rollout_undo", 23)]

    moved = Book()  # the newest revision is not the blamed release (someone already rolled): no revision is guessed
    moved.log("cloudwatch:/shop/prod/catalog", RELEASE_LOG)
    moved.cmd("kubectl rollout history deployment/catalog-api -n shop", history + "25        catalog-api 3.7.4 (rollback)\n")
    target = build_target("bad_deploy", EvidenceView(moved.items), values, ["E1"])
    assert "rollback_revision" not in target


def test_a_workload_at_its_cpu_limit_gets_more_replicas_unless_an_autoscaler_owns_them():
    import json

    target = {"deployment": "search-api", "namespace": "search"}
    book = Book()
    book.cmd("kubectl get deployments -n search -o json", _deployments(("search", "search-api")))  # 3 replicas
    choices, note = book.choose("cpu_saturation", target)
    assert [(c.tool, c.params["replicas"]) for c in choices] == [("kubernetes.scale", 5)] and note == ""  # never a restart

    unknown = Book()
    choices, note = unknown.choose("cpu_saturation", target)
    assert choices == [] and "replica count of search/search-api is not known" in note

    hpa = {"apiVersion": "v1", "kind": "List", "items": [{
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "search-api", "namespace": "search"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "search-api"}, "minReplicas": 2, "maxReplicas": 6},
        "status": {"currentReplicas": 6, "desiredReplicas": 6}}]}
    book.cmd("kubectl get horizontalpodautoscalers -n search -o json", json.dumps(hpa))
    choices, note = book.choose("cpu_saturation", target)
    assert choices == [] and "autoscaler search-api" in note and "max 6" in note

    host = Book()  # a host's runaway process: stopped by its pid
    choices, _ = host.choose("cpu_saturation", {"pid": "30211"})
    assert [(c.tool, c.params) for c in choices] == [("process.signal", {"pid": "30211", "signal": "TERM"})]


def test_a_runaway_process_that_is_a_services_main_process_is_restarted_not_killed():
    status = """● coupon-api.service - coupon API (node)
     Loaded: loaded (/etc/systemd/system/coupon-api.service; enabled; vendor preset: enabled)
     Active: active (running) since Wed 2026-05-06 13:12:00 KST; 24min ago
   Main PID: 28812 (node)
"""
    book = Book()
    book.cmd("systemctl status --no-pager --full 28812", status)
    choices, _ = book.choose("cpu_saturation", {"pid": "28812"})
    assert [(c.tool, c.params) for c in choices] == [("systemd.restart_unit", {"unit": "coupon-api.service"})]
    choices, _ = book.choose("cpu_saturation", {"pid": "30211"})  # another process (a batch job): stopped, as before
    assert [c.tool for c in choices] == ["process.signal"]


def _releases_book(names: list[str], current: str | None, *, app: str = "/srv/shop") -> Book:
    book = Book()
    book.cmd("df -h", "Filesystem Size Used Avail Use% Mounted on\n/dev/nvme0n1p1 78G 77G 412M 100% /\n")
    usage = "".join(f"2.4G\t{app}/releases/{n}\n" for n in names) + f"57G\t{app}/releases\n1.6G\t{app}/shared\n59G\t{app}\n"
    book.cmd(f"du -xh --max-depth=2 {app}", usage)
    book.cmd(f"ls -l {app}/releases", "total 96\n" + "".join(f"drwxr-xr-x 9 deploy deploy 4096 Nov  3 10:15 {n}\n" for n in names))
    if current is not None:
        book.cmd(f"ls -l {app}", "total 16\n"
                 f"lrwxrwxrwx 1 deploy deploy   33 Nov 29 22:07 current -> releases/{current}\n"
                 "drwxr-xr-x 6 deploy deploy 4096 Nov  3 10:15 shared\n")
    return book


def test_old_releases_are_removed_keeping_the_newest_and_the_current_one_even_when_a_rollback_moved_it_back():
    names = [str(n) for n in range(1, 13)]  # Deployer numbers its releases: 10 sorts after 9, not after 1
    choices, note = _releases_book(names, current="3").choose("disk_full", {"host": "web2"})
    assert note == "" and [c.tool for c in choices] == ["files.remove_releases"]
    removed = [p.rsplit("/", 1)[-1] for p in choices[0].params["paths"]]
    assert removed == ["1", "2", "4", "5", "6", "7"]  # 8..12 are the newest five; 3 serves
    argv = CATALOGUE.render(ToolCall(tool="files.remove_releases", params=choices[0].params)).argv
    assert argv[0] == "find" and argv[-2:] == ["-xdev", "-delete"] and "/srv/shop/releases/3" not in argv
    assert judge_command(argv).verdict == "approve"  # an action: never run without the remedy approvals


def test_without_the_current_link_or_with_few_releases_nothing_is_removed_on_a_guess():
    choices, note = _releases_book([str(n) for n in range(1, 13)], current=None).choose("disk_full", {"host": "web2"})
    assert choices == [] and "ls -l /srv/shop" in note and "which release" in note
    choices, note = _releases_book(["20261101", "20261102", "20261103"], current="20261103").choose("disk_full", {"host": "web2"})
    assert choices == [] and "no more than the 5 kept" in note


def test_a_release_directory_is_the_only_thing_the_removal_can_name():
    for bad in ["/srv/shop/releases", "/srv/shop/current", "/srv/shop/releases/../shared", "/srv/shop/releases/7/config",
                "/etc/releases/1", "/srv/shop/releases/-delete", "/home/deploy/.ssh/releases/1"]:
        with pytest.raises(ToolParamError):
            CATALOGUE.render(ToolCall(tool="files.remove_releases", params={"paths": [bad]}))
    assert judge_command("find /srv/shop -xdev -delete").tool != "files.remove_releases"
    assert judge_command(["rm", "-rf", "/srv/shop/releases/1"]).verdict == "forbid"


def test_a_listing_resolves_relative_links_against_the_directory_it_lists():
    facts = parse_output("ls", "lrwxrwxrwx 1 deploy deploy 33 Nov 29 22:07 current -> releases/20261128111800\n",
                         command="ls -l /srv/shop")
    assert facts.path == "/srv/shop" and facts.entries[0].name == "current"
    assert facts.entries[0].target == "/srv/shop/releases/20261128111800"
    assert parse_output("ls", "drwxr-xr-x 9 deploy deploy 4096 Nov  3 10:15 shop\n", command="ls -ld /srv/shop").path == ""


async def test_the_removal_waits_for_a_current_link_that_points_at_a_release_it_keeps(tmp_path):
    """The precondition reads APP again before anything is deleted: a rollback since the diagnosis could have moved it."""
    from agents.diagnosis.parsers import parse_output as parse
    from tools.audit import AuditLog
    from tools.executor import GuardedTools
    from tools.verification import run_check
    from tools.world import RecordedWorld, WorldRecord

    world = RecordedWorld(WorldRecord.model_validate({"hosts": {"web2": {
        "ls -l /srv/shop": "lrwxrwxrwx 1 deploy deploy 33 Nov 29 22:07 current -> releases/3\n"}}}))
    tools = GuardedTools(world, "prod", AuditLog(tmp_path / "audit.jsonl"), "deployer", parse=parse)
    check = CATALOGUE.get("files.remove_releases").precondition
    keeps = await run_check(tools, check, {"paths": ["/srv/shop/releases/1", "/srv/shop/releases/2"]}, "web2", time_scale=0)
    moved = await run_check(tools, check, {"paths": ["/srv/shop/releases/2", "/srv/shop/releases/3"]}, "web2", time_scale=0)
    assert (keeps.outcome, moved.outcome) == ("passed", "failed")
