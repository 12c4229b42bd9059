"""Placeholder values learned from evidence already read, for the playbook steps that waited for them.

An alert rarely names the Secret a pod cannot start without, the RDS
instance behind a connection error, or the security groups on the path;
the first round of evidence often does ("couldn't find key X in Secret
shop/payment-secrets", an RDS endpoint in a client error, the instance's
VpcSecurityGroups). Values are learned only where the request gave none,
only in the safe form playbooks accept, and only from what the tools
printed: the follow-up commands still pass the guard.
"""

from __future__ import annotations

import re
from typing import Iterable

from agents.diagnosis.analyzers.base import EvidenceView, Situation
from agents.diagnosis.analyzers.kube_pods import kube_view
from agents.diagnosis.config_refs import missing_refs
from agents.diagnosis.learn_kube import learn_kube_values
from agents.diagnosis.parsers.aws import NetworkInterfacesFacts, RdsFacts, SecurityGroupsFacts
from agents.diagnosis.parsers.cpu import LoadFacts
from agents.diagnosis.parsers.memory import MemoryFacts
from agents.diagnosis.parsers.database import DbErrorFacts
from agents.diagnosis.parsers.disk import DiskFacts
from agents.diagnosis.parsers.kubernetes import KubeDescribeFacts, KubeEventsFacts, KubePodsFacts
from agents.diagnosis.parsers.network import ResolvConfFacts, SocketFacts
from agents.diagnosis.parsers.processes import ProcessFacts
from agents.diagnosis.parsers.systemd import UnitFacts
from agents.diagnosis.parsers.tls import TlsFacts
from agents.diagnosis.parsers.usage import DiskUsageFacts, KubeTopFacts, UnitListFacts
from agents.diagnosis.playbooks import SAFE_VALUE
from graphs.state import Evidence

# <instance>.<12 characters>.<region>.rds.amazonaws.com; cluster and proxy endpoints ("x.cluster-...") are not instances
_RDS_ENDPOINT = re.compile(r"\b([a-z][a-z0-9-]{0,62})\.[a-z0-9]{12}\.[a-z]{2}(?:-[a-z]+)+-\d\.rds\.amazonaws\.com\b")
_RS_HASH = re.compile(r"^(.+)-[a-z0-9]{6,10}$")
_POD_OF_RS = re.compile(r"^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_DEPLOY_ROOT = re.compile(r"^/(?:srv|opt|home|app|apps|data|var/www)/")  # where deployment tools keep applications
_KUBE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_RDS_HOST = re.compile(r"\b[a-z][a-z0-9-]{0,62}\.[a-z0-9]{12}\.[a-z]{2}(?:-[a-z]+)+-\d\.rds\.amazonaws\.com\b")
# Names a resolver failed on, as programs print them: getaddrinfo ENOTFOUND x, Could not resolve host: x, lookup x on ...,
# UnknownHostException: x, x: Name or service not known, Unknown MySQL server host 'x'.
_UNRESOLVED = re.compile(r"(?:ENOTFOUND|EAI_AGAIN|resolve host:?|Failed to resolve|lookup|UnknownHostException:?|server host|no such host[^a-z0-9]*)\s*['\"(]?"
                         r"([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+)", re.I)
_UNRESOLVED_BEFORE = re.compile(r"([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+)['\")]?:?\s*(?:Name or service not known|Temporary failure in name resolution|"
                                r"nodename nor servname|no such host)", re.I)
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~/-]*)?")
_NO_SPACE_PATH = re.compile(r"(/[A-Za-z0-9._/-]+)[^\n]{0,80}(?:No space left on device|ENOSPC)|(?:No space left on device|ENOSPC)[^\n]{0,80}?(/[A-Za-z0-9._/-]+)")
_FULL = 90.0
# A peer that does not answer: `connect ETIMEDOUT 10.1.2.3:5432`, `timed out ... 10.1.2.3:5432`, `SYN-SENT ... 10.1.2.3:5432`.
_SILENT_PEER = re.compile(r"(?:ETIMEDOUT|EHOSTUNREACH|timed out|timeout|No route to host)[^\n]{0,60}?\b((?:\d{1,3}\.){3}\d{1,3})(?::\d{1,5})?\b", re.I)

# Categories the first evidence points at -> the playbooks an SRE would run next for them.
FOLLOW_UP_PLAYBOOKS: dict[str, tuple[str, ...]] = {
    "disk_full": ("disk",), "inode_exhaustion": ("disk",), "disk_io_bottleneck": ("disk",),
    "db_connection_exhaustion": ("database",), "db_slow_query": ("database",), "db_unreachable": ("database", "network"),
    "connection_leak": ("database",), "dns_failure": ("network",), "network_unreachable": ("network",),
    "dependency_failure": ("network",), "missing_timeout": ("network",), "memory_leak": ("memory",), "memory_pressure": ("memory",),
    "cpu_saturation": ("cpu",), "certificate_expired": ("certificates",), "capacity_exhausted": ("kubernetes",),
    "service_crashloop": ("application",), "config_error": ("application",), "image_pull_failure": ("kubernetes",),
}

# Error replies only a Redis server sends (a client logs them verbatim).
_REDIS_REPLY = re.compile(r"OOM command not allowed when used memory|MISCONF Redis is configured to save RDB|READONLY You can't write against a read only replica|"
                          r"LOADING Redis is loading the dataset|NOAUTH Authentication required|WRONGPASS invalid username-password")
# Rules whose lines call for a playbook their category alone would not (a JWT "used before issued" is a clock).
FOLLOW_UP_BY_RULE: dict[str, tuple[str, ...]] = {"clock_skew": ("clock",)}

# "nginx: [emerg] unknown directive ... in /etc/nginx/conf.d/api.conf:27", "... (in /etc/redis/redis.conf:12)"
_CONFIG_ERROR_FILE = re.compile(r"(?:emerg|error|failed|invalid|unknown|bad)[^\n]*?\bin (/etc/[A-Za-z0-9_./-]+?\.(?:conf|cnf|cfg|ini|ya?ml|json|toml)):\d+", re.I)


def _texts(view: EvidenceView) -> Iterable[str]:
    """Messages the cluster and the logs printed: event messages, rule samples, command excerpts."""
    for _, describe in view.facts(KubeDescribeFacts):
        yield from (e.message for e in describe.events)
    for _, events in view.facts(KubeEventsFacts):
        yield from (e.message for e in events.events)
    for _, err in view.facts(DbErrorFacts):
        yield err.message
    for stream in view.logs():
        if stream.origin != "alert":
            yield from (h.sample for h in stream.facts.hits)
    for e in view.evidence:
        if e.kind in ("command", "log") and e.ok:
            yield e.excerpt or ""


def follow_up_playbooks(evidence: list[Evidence], situation: Situation | None = None) -> list[str]:
    """Playbooks the first evidence calls for: the categories its log and output lines point at (not the alert's own words)."""
    view = EvidenceView(evidence, situation)
    weights: dict[str, float] = {}
    for stream in view.logs():
        if stream.origin == "alert":
            continue
        for hit in stream.facts.hits:
            weights[hit.category] = weights.get(hit.category, 0.0) + hit.count
    # what the host's own numbers say, before any log line does
    for _, load in view.facts(LoadFacts):
        if load.load5 >= 4.0:  # a run queue this long is CPU or I/O wait: both playbooks tell which
            weights["cpu_saturation"] = weights.get("cpu_saturation", 0.0) + 1
            weights["disk_io_bottleneck"] = weights.get("disk_io_bottleneck", 0.0) + 1
    for _, memory in view.facts(MemoryFacts):
        if memory.total_mb and ((memory.available_mb is not None and memory.available_mb < 0.1 * memory.total_mb) or memory.swap_used_mb > 0.5 * max(memory.swap_total_mb, 1)):
            weights["memory_pressure"] = weights.get("memory_pressure", 0.0) + 1
    for _, disk in view.facts(DiskFacts):
        if any(not f.pseudo and (f.use_pct or 0) >= _FULL for f in disk.filesystems):
            weights["disk_full"] = weights.get("disk_full", 0.0) + 1
    names: list[str] = [name for stream in view.logs() if stream.origin != "alert"
                        for hit in stream.facts.hits for name in FOLLOW_UP_BY_RULE.get(hit.rule, ())]
    names = list(dict.fromkeys(names))
    for category, _ in sorted(weights.items(), key=lambda kv: -kv[1]):
        for name in FOLLOW_UP_PLAYBOOKS.get(category, ()):
            if name not in names:
                names.append(name)
    return names


def learn_values(evidence: list[Evidence], values: dict[str, str], situation: Situation | None = None) -> dict[str, str]:
    """New placeholder values (keys the request did not fill), from the evidence read so far."""
    view = EvidenceView(evidence, situation)
    names = view.situation.names
    learned: dict[str, str] = {}

    def put(key: str, value: str | None, pattern: re.Pattern[str] = SAFE_VALUE) -> None:
        if value and key not in values and key not in learned and SAFE_VALUE.match(value) and pattern.match(value):
            learned[key] = value

    learned.update(learn_kube_values(view, values))  # the cluster's listings first: the pod and workload the request is about
    texts = list(_texts(view))
    refs = missing_refs(texts)
    secret = next((r for r in refs if r.kind == "Secret"), None)
    configmap = next((r for r in refs if r.kind == "ConfigMap"), None)
    for describe in (d for _, d in view.facts(KubeDescribeFacts) if d.kind == "pod"):
        stuck = any(c.state_reason in ("CreateContainerConfigError", "CreateContainerError", "CrashLoopBackOff") for c in describe.containers)
        if stuck and secret is None:  # a container that cannot start or keeps dying: the Secrets it takes keys from
            secret = next((r for r in describe.key_refs if r.kind == "Secret"), None)
        put("namespace", describe.namespace, _KUBE_NAME)
        if describe.controlled_by.startswith("ReplicaSet/"):
            m = _RS_HASH.match(describe.controlled_by.split("/", 1)[1])
            put("deployment", m.group(1) if m else None, _KUBE_NAME)
    for ref in (secret, configmap):
        if ref is not None:
            put("secret" if ref.kind == "Secret" else "configmap", ref.name, _KUBE_NAME)
            put("namespace", ref.namespace, _KUBE_NAME)
    words = view.situation.words.lower()
    usage_kind = "memory" if re.search(r"memory|oom|메모리|heap|rss", words) else "cpu" if re.search(r"cpu|throttl|load|부하", words) else None
    for _, procs in view.facts(ProcessFacts):  # the process a memory or CPU alert is about, to find its unit
        busiest = (procs.top_mem if usage_kind == "memory" else procs.top_cpu if usage_kind == "cpu" else [])[:1]
        if busiest:
            put("pid", str(busiest[0].pid))
    for _, unit in view.facts(UnitFacts):
        put("unit", unit.unit or None)
    for _, top in view.facts(KubeTopFacts):  # a memory (or CPU) alert: the pod of the workload that uses the most
        busiest = top.busiest(usage_kind, names) if usage_kind else None
        if busiest is not None and (busiest.namespace or values.get("namespace")):
            put("pod", busiest.name, _KUBE_NAME)
    for _, pods in view.facts(KubePodsFacts):
        # the workload the request names, not the noisiest pod; without names, the unhealthy pods of the known namespace
        mine = [p for p in pods.unhealthy if names and any(n in p.name for n in names)]
        if not mine and values.get("namespace"):
            mine = [p for p in pods.unhealthy if p.namespace in ("", values["namespace"])]
        if not mine and not names and len({p.namespace for p in pods.unhealthy}) == 1:
            mine = list(pods.unhealthy)
        if mine:
            put("namespace", mine[0].namespace, _KUBE_NAME)
            put("pod", mine[0].name, _KUBE_NAME)
            m = _POD_OF_RS.match(mine[0].name)
            put("deployment", m.group(1) if m else None, _KUBE_NAME)
    put("unit", _failing_journal_unit(view))
    for _, units in view.facts(UnitListFacts):
        failed = [u.unit for u in units.failed]
        named = [u for u in failed if names and any(n in u for n in names)]
        put("unit", (named or failed or [None])[0])
    release = _released_workload(view)
    put("release", release, _KUBE_NAME)
    wanted = values.get("release") or release
    # the release found in the cluster: its namespace from the cluster, not the log
    found = {(ns, name) for kind, ns, name in kube_view(view)[0].workloads if kind.lower() == "deployment" and name == wanted}
    if len(found) == 1:
        namespace, name = found.pop()
        put("deployment", name, _KUBE_NAME)
        put("namespace", namespace, _KUBE_NAME)
    for _, disk in view.facts(DiskFacts):
        full = sorted((f for f in disk.filesystems if not f.pseudo and (f.use_pct or 0) >= _FULL), key=lambda f: -(f.use_pct or 0))
        if full:
            put("inode_mount" if disk.inodes else "full_mount", full[0].mount)
    for _, usage in view.facts(DiskUsageFacts):
        largest = usage.largest()
        if largest is not None and not usage.inodes:
            put("big_dir", largest.path)
        elif largest is not None:
            put("inode_dir", largest.path)
    full_mount = values.get("full_mount") or learned.get("full_mount")
    for _, usage in view.facts(DiskUsageFacts):  # where deployments live fills the mount: look three levels down
        largest = usage.largest()
        if largest is not None and not usage.inodes and full_mount and usage.root.rstrip("/") == full_mount.rstrip("/"):
            if _DEPLOY_ROOT.match(largest.path.rstrip("/") + "/"):  # /srv, /srv/shop, /var/www/app
                put("deploy_dir", largest.path.rstrip("/"))
        for entry in (e for e in usage.entries if not usage.inodes and e.path.rstrip("/").endswith("/releases")):
            put("release_dir", entry.path.rstrip("/"))  # APP/releases (Capistrano, Deployer): which one is current is in APP
            put("app_dir", entry.path.rstrip("/").rsplit("/", 1)[0])
    for _, sockets in view.facts(SocketFacts):  # connections that never got an answer: the peer to place in the network
        if sockets.syn_sent_by_peer:
            put("peer_ip", sockets.syn_sent_by_peer[0].key.rsplit(":", 1)[0].strip("[]"))
    for text in texts:
        m = _SILENT_PEER.search(text)
        if m:
            put("peer_ip", m.group(1))
            port = re.search(re.escape(m.group(1)) + r":(\d{1,5})\b", text)
            put("peer_port", port.group(1) if port else None)
            break
    for _, sockets in view.facts(SocketFacts):
        if sockets.syn_sent_by_peer and ":" in sockets.syn_sent_by_peer[0].key:
            put("peer_port", sockets.syn_sent_by_peer[0].key.rsplit(":", 1)[1])
    for _, enis in view.facts(NetworkInterfacesFacts):
        for eni in enis.interfaces[:1]:
            put("vpc", eni.vpc_id or None)
            put("subnet", eni.subnet_id or None)
            put("security_group", eni.security_groups[0] if eni.security_groups else None)
    for _, resolv in view.facts(ResolvConfFacts):
        put("nameserver", resolv.nameservers[0] if resolv.nameservers else None)
    for _, tls in view.facts(TlsFacts):
        for cert in tls.certificates:
            put("cert_path", cert.path or None)
            put("cert_name", cert.name or None)
    for text in texts:
        m = _RDS_ENDPOINT.search(text)
        if m:
            put("db", m.group(1))
            put("db_endpoint", _RDS_HOST.search(text).group(0) if _RDS_HOST.search(text) else None)
            break
    for text in texts:  # a name the resolver failed on: what to look up
        for line in text.splitlines():
            m = _UNRESOLVED.search(line) or _UNRESOLVED_BEFORE.search(line)
            if m and "." in m.group(1) and not m.group(1).replace(".", "").isdigit():
                put("target", m.group(1).lower())
    for text in texts:  # an internal endpoint an error line names: what to check
        for line in text.splitlines():
            if not re.search(r"error|fail|timeout|timed out|refused|unavailable|5\d\d", line, re.I):
                continue
            for url in _URL.findall(line):
                if _internal(url):
                    put("url", url.rstrip("/.,;"))
    for text in texts:  # the directory a write failed in for want of space
        m = _NO_SPACE_PATH.search(text)
        if m:
            path = (m.group(1) or m.group(2) or "").rstrip("/")
            put("full_dir", path.rsplit("/", 1)[0] or None)  # the file that could not be written: its directory
    for text in texts:  # a Redis error reply in a client's log: the datastore behind it is Redis (its INFO is what to read)
        if _REDIS_REPLY.search(text):
            put("engine", "redis")
            break
    for text in texts:  # the configuration file a server's own check or start-up error names (nginx: "in FILE:LINE")
        m = _CONFIG_ERROR_FILE.search(text)
        if m:
            put("config_path", m.group(1))
            put("config_dir", m.group(1).rsplit("/", 1)[0])
            break
    for _, rds in view.facts(RdsFacts):
        for instance in rds.instances:
            put("security_group", instance.security_groups[0] if instance.security_groups else None)
            put("vpc", instance.vpc_id)
    for _, groups in view.facts(SecurityGroupsFacts):
        for group in groups.groups:
            put("vpc", group.vpc_id)
    return learned


# "deploy catalog-api 3.8.0", "rolling out api v4.22.0", "kubectl set image deployment/api api=…:4.22.0"
_RELEASE_LINE = re.compile(r"(?:\bdeploy(?:ing|ed)?|\brolling out|\brollout of|\breleas(?:e|ing|ed))\s+(?:of\s+)?(?:deployment/)?"
                           r"([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\s+v?\d+\.\d+", re.I)
_SET_IMAGE = re.compile(r"\bset image (?:deployments?[./])([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\b")


_JOURNAL_SOURCE = re.compile(r"^journald:([A-Za-z0-9@_.-]+?)(?:\.service)?$")
_UNIT_TROUBLE = ("service_crashloop", "config_error", "memory_leak", "permission_denied", "disk_full")


def _failing_journal_unit(view: EvidenceView) -> str | None:
    """The unit whose journal (a `journald:UNIT` log source) shows it failing to start, crashing or being killed:
    the unit an alert in users' words ("the admin site refuses connections") never names."""
    for stream in view.logs():
        evidence = view.get(stream.evidence_id)
        m = _JOURNAL_SOURCE.match(evidence.source) if evidence is not None and evidence.kind == "log" else None
        if m and any(hit.category in _UNIT_TROUBLE for hit in stream.facts.hits):
            return m.group(1)
    return None


def _released_workload(view: EvidenceView) -> str | None:
    """The workload the latest release line of the logs names: a name to look up in the cluster (which says
    whether it is a Deployment and where), never an argument on its own."""
    name = None
    for stream in view.logs():
        for marker in stream.facts.markers:
            if marker.kind != "deploy":
                continue
            m = _SET_IMAGE.search(marker.text) or _RELEASE_LINE.search(marker.text)
            if m:
                name = m.group(1).lower()
    return name


def _internal(url: str) -> bool:
    from tools.catalogue import default_catalogue
    from tools.param_types import ParamTypeError, validate

    try:
        validate("url", url, {"hosts": (default_catalogue().sets.get("url_hosts") or {}).get("internal", [])})
        return True
    except ParamTypeError:
        return False
