"""Parsers: real command output -> typed facts; garbage -> ParseFailure, never an exception.

`parser_for_command` says which parser reads a command's output;
`parse_output` runs it safely; `facts_of` turns an Evidence's stored facts
back into the typed model for the analyzers.
"""

from __future__ import annotations

import shlex
from typing import Any, Callable

from agents.diagnosis.code_smells import CodeFacts
from agents.diagnosis.metrics import MetricFacts
from agents.diagnosis.parsers.aws import (
    NetworkAclsFacts,
    NetworkInterfacesFacts,
    RdsFacts,
    SecurityGroupsFacts,
    parse_aws_enis,
    parse_aws_network_acls,
    parse_aws_rds,
    parse_aws_security_groups,
)
from agents.diagnosis.parsers.base import Facts, ParseFailure, ParserError
from agents.diagnosis.parsers.cpu import CpuCountFacts, LoadFacts, TopFacts, parse_cpu_count, parse_top, parse_uptime
from agents.diagnosis.parsers.database import (
    DbErrorFacts,
    DbSettingsFacts,
    PgActivityFacts,
    ProcesslistFacts,
    parse_db_settings,
    parse_mysql_processlist,
    parse_pg_activity,
)
from agents.diagnosis.parsers.disk import DeletedFilesFacts, DiskFacts, IostatFacts, parse_df, parse_iostat, parse_lsof_deleted
from agents.diagnosis.parsers.kernel import KernelFacts, parse_dmesg
from agents.diagnosis.parsers.kube_config import ConfigKeysFacts, parse_kube_keys
from agents.diagnosis.parsers.kube_objects import KubeObjectsFacts, parse_kube_objects
from agents.diagnosis.parsers.kubernetes import (
    KubeDescribeFacts,
    KubeEventsFacts,
    KubeNodesFacts,
    KubePodsFacts,
    parse_kube_describe,
    parse_kube_events,
    parse_kube_nodes,
    parse_kube_pods,
)
from agents.diagnosis.parsers.memory import MemoryFacts, RedisInfoFacts, VmstatFacts, parse_free, parse_redis_info, parse_vmstat
from agents.diagnosis.parsers.network import (
    DnsFacts,
    HttpCheckFacts,
    PingFacts,
    ResolvConfFacts,
    SocketFacts,
    SocketSummaryFacts,
    parse_curl,
    parse_dns,
    parse_ping,
    parse_resolv_conf,
    parse_sockets,
    parse_ss_summary,
)
from agents.diagnosis.parsers.processes import ProcessFacts, parse_ps
from agents.diagnosis.parsers.rollout import ReplicaSetsFacts, RolloutHistoryFacts, parse_kube_replicasets, parse_kube_rollout_history
from agents.diagnosis.parsers.systemd import ClockFacts, NginxTestFacts, UnitFacts, parse_nginx_test, parse_systemctl_status, parse_timedatectl
from agents.diagnosis.parsers.terraform import TerraformFacts, parse_terraform
from agents.diagnosis.parsers.tls import TlsFacts, parse_tls
from agents.diagnosis.parsers.usage import (
    BinlogFacts,
    DiskUsageFacts,
    JournalUsageFacts,
    KubeTopFacts,
    ListingFacts,
    TimersFacts,
    UnitListFacts,
    parse_binlogs,
    parse_du,
    parse_journal_usage,
    parse_kube_top,
    parse_ls,
    parse_timers,
    parse_unit_list,
)
from agents.diagnosis.timeline import LogFacts, parse_log_lines

Parser = Callable[..., Facts]

PARSERS: dict[str, Parser] = {
    "free": parse_free, "vmstat": parse_vmstat, "uptime": parse_uptime, "top": parse_top, "cpu_count": parse_cpu_count,
    "ps": parse_ps, "df": parse_df, "iostat": parse_iostat, "ss_summary": parse_ss_summary, "ss": parse_sockets,
    "dns": parse_dns, "resolv_conf": parse_resolv_conf, "curl": parse_curl, "ping": parse_ping,
    "systemctl_status": parse_systemctl_status, "nginx_test": parse_nginx_test, "journal": parse_log_lines, "dmesg": parse_dmesg,
    "mysql_processlist": parse_mysql_processlist, "db_settings": parse_db_settings, "pg_activity": parse_pg_activity,
    "kube_pods": parse_kube_pods, "kube_describe": parse_kube_describe, "kube_events": parse_kube_events, "kube_nodes": parse_kube_nodes,
    "tls": parse_tls, "terraform": parse_terraform,
    "kube_replicasets": parse_kube_replicasets, "kube_rollout_history": parse_kube_rollout_history, "kube_keys": parse_kube_keys,
    "aws_rds": parse_aws_rds, "aws_security_groups": parse_aws_security_groups, "aws_network_acls": parse_aws_network_acls,
    "du": parse_du, "systemd_units": parse_unit_list, "kube_top": parse_kube_top, "aws_enis": parse_aws_enis,
    "ls": parse_ls, "journal_usage": parse_journal_usage, "timers": parse_timers, "binlogs": parse_binlogs,
    "kube_objects": parse_kube_objects, "timedatectl": parse_timedatectl, "redis_info": parse_redis_info, "lsof_deleted": parse_lsof_deleted,
}

# The `parser` field a result carries -> its model (df -i yields df_inodes, db clients may yield db_error).
FACT_MODELS: dict[str, type[Facts]] = {
    "free": MemoryFacts, "vmstat": VmstatFacts, "uptime": LoadFacts, "top": TopFacts, "cpu_count": CpuCountFacts,
    "ps": ProcessFacts, "df": DiskFacts, "df_inodes": DiskFacts, "iostat": IostatFacts, "ss_summary": SocketSummaryFacts,
    "ss": SocketFacts, "dns": DnsFacts, "resolv_conf": ResolvConfFacts, "curl": HttpCheckFacts, "ping": PingFacts,
    "systemctl_status": UnitFacts, "nginx_test": NginxTestFacts, "journal": LogFacts, "log": LogFacts, "dmesg": KernelFacts,
    "timedatectl": ClockFacts, "redis_info": RedisInfoFacts, "lsof_deleted": DeletedFilesFacts,
    "mysql_processlist": ProcesslistFacts, "db_settings": DbSettingsFacts, "pg_activity": PgActivityFacts, "db_error": DbErrorFacts,
    "kube_pods": KubePodsFacts, "kube_describe": KubeDescribeFacts, "kube_events": KubeEventsFacts, "kube_nodes": KubeNodesFacts,
    "tls": TlsFacts, "terraform": TerraformFacts, "metric": MetricFacts, "code": CodeFacts,
    "kube_replicasets": ReplicaSetsFacts, "kube_rollout_history": RolloutHistoryFacts, "kube_keys": ConfigKeysFacts,
    "aws_rds": RdsFacts, "aws_security_groups": SecurityGroupsFacts, "aws_network_acls": NetworkAclsFacts,
    "du": DiskUsageFacts, "systemd_units": UnitListFacts, "kube_top": KubeTopFacts, "aws_enis": NetworkInterfacesFacts,
    "ls": ListingFacts, "journal_usage": JournalUsageFacts, "timers": TimersFacts, "binlogs": BinlogFacts,
    "kube_objects": KubeObjectsFacts,
}
# Kinds as kubectl accepts them (plural, short, kind.group): the parser for `get` / `describe` of each.
KUBE_KINDS = {"rs": "replicasets", "replicaset": "replicasets", "replicasets": "replicasets",
              "secret": "secrets", "secrets": "secrets", "cm": "configmaps", "configmap": "configmaps", "configmaps": "configmaps"}
AWS_OPERATIONS = {("rds", "describe-db-instances"): "aws_rds", ("ec2", "describe-security-groups"): "aws_security_groups",
                  ("ec2", "describe-network-acls"): "aws_network_acls"}


def _argv(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def parser_for_command(command: str) -> str | None:
    """The parser that reads this command's output, or None when we have none."""
    argv = _argv(command)
    if not argv:
        return None
    program, args = argv[0].rsplit("/", 1)[-1], argv[1:]
    words = [a for a in args if not a.startswith("-")]
    sql = " ".join(args).lower()
    simple = {"free": "free", "vmstat": "vmstat", "uptime": "uptime", "top": "top", "nproc": "cpu_count", "lscpu": "cpu_count",
              "ps": "ps", "df": "df", "iostat": "iostat", "dig": "dns", "nslookup": "dns", "host": "dns", "curl": "curl",
              "ping": "ping", "dmesg": "dmesg", "certbot": "tls", "openssl": "tls", "timedatectl": "timedatectl"}
    if program in simple:
        return simple[program]
    if program == "redis-cli":
        return "redis_info" if words[:1] and words[0].lower() == "info" else None
    if program == "ss":
        return "ss_summary" if ("-s" in args or "--summary" in args) else "ss"
    if program == "netstat":
        return None if "-s" in args else "ss"
    if program == "journalctl":
        return "dmesg" if ("-k" in args or "--dmesg" in args) else "journal"
    if program in ("tail", "head", "cat", "zcat", "grep"):
        paths = [w for w in words if w.startswith("/")]
        if any(p == "/etc/resolv.conf" for p in paths):
            return "resolv_conf"
        if any(p.endswith((".pem", ".crt")) for p in paths):
            return None
        if any(p.startswith("/var/log/") or p.endswith(".log") for p in paths):
            return "journal"
        return None
    if program == "systemctl":
        return "systemctl_status" if words[:1] == ["status"] else None
    if program == "nginx":
        return "nginx_test" if "-t" in args or "-T" in args else None
    if program == "mysql":
        if "processlist" in sql:
            return "mysql_processlist"
        if "status" in sql or "variables" in sql:
            return "db_settings"
        return None
    if program == "psql":
        if "pg_stat_activity" in sql:
            return "pg_activity"
        if "show " in sql or "pg_settings" in sql:
            return "db_settings"
        return None
    if program in ("aws", "kubectl"):  # global flags may come first: `kubectl -n shop get rs`, `aws --region x rds ...`
        words = _positionals(args, GLOBAL_VALUE_FLAGS[program])
    if program == "aws":
        return AWS_OPERATIONS.get(tuple(words[:2]))  # type: ignore[arg-type]
    if program in ("kubectl", "docker"):
        if words[:1] == ["logs"]:
            return "journal"
        if program == "docker":
            return None
        kind = _kube_kind(words[1]) if len(words) > 1 else ""
        if words[:1] == ["describe"]:
            return "kube_keys" if kind in ("secrets", "configmaps") else "kube_describe"
        if words[:2] == ["rollout", "history"]:
            return "kube_rollout_history"
        if words[:1] == ["get"] and kind == "replicasets":
            return "kube_replicasets"
        if words[:1] == ["events"] or (words[:1] == ["get"] and len(words) > 1 and words[1] in ("events", "ev", "event")):
            return "kube_events"
        if words[:1] == ["get"] and len(words) > 1 and words[1].split("/")[0] in ("pods", "po", "pod"):
            return "kube_pods"
        if words[:1] == ["get"] and len(words) > 1 and words[1] in ("nodes", "no", "node"):
            return "kube_nodes"
        if words[:1] == ["top"]:
            return "kube_top"
        if words[:1] == ["get"] and len(words) > 1 and kind not in ("secrets", "configmaps"):
            return "kube_objects"  # a Secret's or ConfigMap's listing says names only; their descriptions are read instead
        return None
    if program == "terraform":
        return "terraform"
    return None


GLOBAL_VALUE_FLAGS = {"kubectl": {"-n", "--namespace", "-l", "--selector", "-o", "--output", "--context", "-c", "--container", "--cluster"},
                      "aws": {"--region", "--output", "--query", "--profile", "--color"}}


def _positionals(args: list[str], value_flags: set[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in value_flags
        else:
            out.append(arg)
    return out


def _kube_kind(word: str) -> str:
    """'rs', 'secret/api-secrets', 'replicasets.apps' -> the plural kind we know, else ''."""
    kind = word.split("/", 1)[0].split(".", 1)[0].lower()
    return KUBE_KINDS.get(kind, "")


def parse_output(parser: str, stdout: str, *, command: str = "", stderr: str = "") -> Facts:
    """Run one parser; any failure (unknown parser, garbage, a bug) comes back as ParseFailure."""
    fn = PARSERS.get(parser)
    if fn is None:
        return ParseFailure(parser=parser, error=f"no parser named {parser!r}")
    if not (stdout or "").strip() and not (stderr or "").strip():
        return ParseFailure(parser=parser, error="empty output")
    try:
        return fn(stdout or "", command=command, stderr=stderr or "")
    except ParserError as exc:
        return ParseFailure(parser=parser, error=str(exc))
    except Exception as exc:  # a bug in a parser must not take the graph down
        return ParseFailure(parser=parser, error=f"parser crashed: {type(exc).__name__}: {str(exc)[:200]}")


def facts_of(facts: dict[str, Any] | None) -> Facts | None:
    """Evidence.facts (a dict) back to its typed model; None for failures and unknown shapes."""
    if not facts or not facts.get("ok", True):
        return None
    model = FACT_MODELS.get(str(facts.get("parser", "")))
    if model is None:
        return None
    try:
        return model.model_validate(facts)
    except Exception:
        return None


__all__ = ["FACT_MODELS", "PARSERS", "Facts", "ParseFailure", "facts_of", "parse_output", "parser_for_command"]
