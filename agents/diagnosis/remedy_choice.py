"""Remedies that fit the evidence: which typed action answers what this diagnosis actually found.

A full disk is not always the journal: the volume may be a database's data
directory filled by binary logs (purge them through the server, never by
deleting files), a log directory with one unrotated file (force its rotation),
or the journal itself (vacuum it). Exhausted inodes may have a cleanup timer
that stopped (start it) or a directory of stale small files (prune them by
age, after a dry-run count). Each remedy is a catalogue action with typed
parameters taken from the evidence; its verification and rollback come with
it (config/tools/). Where the evidence does not show what to act on, no
remedy is suggested and the note says what a person must check.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel

from agents.diagnosis.analyzers.base import EvidenceView
from agents.diagnosis.analyzers.kube_pods import kube_view
from agents.diagnosis.config_refs import missing_refs
from agents.diagnosis.parsers.disk import DiskFacts
from agents.diagnosis.parsers.rollout import RolloutHistoryFacts
from agents.diagnosis.parsers.systemd import NginxTestFacts, UnitFacts
from agents.diagnosis.parsers.usage import BinlogFacts, DiskUsageFacts, JournalUsageFacts, ListingFacts, TimersFacts

# An earlier copy beside a configuration file: editors' and admins' .bak/.orig/~, dpkg's and ucf's old copies,
# rpm's .rpmsave and ansible's `backup: yes` (FILE.PID.YYYY-MM-DD@HH:MM:SS~). Not .dpkg-dist: that is the new default.
_BACKUP_OF = re.compile(r"^(?P<base>.+?)(?:\.bak|\.orig|\.dpkg-old|\.ucf-old|\.rpmsave|\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~|~)$")
_MAX_RELEASES_AT_ONCE = 200  # files.remove_releases' max_items
_CLEANUP_WORDS = re.compile(r"gc|clean|tmp|session|prune|purge|sweep|expire|rotate|reap", re.I)


class RemedyDefaults(BaseModel):
    """config/remedies.yaml `actions:`: the amounts remedies use when the evidence does not say."""

    vacuum_size: str = "500M"
    journal_worth_vacuuming_mb: float = 1024.0
    binlog_keep_days: int = 3
    prune_older_than_days: int = 7
    big_log_file_mb: float = 1024.0
    scale_out_factor: float = 1.5  # a workload at its CPU limit: replicas x this (at least one more)
    keep_releases: int = 5  # files.remove_releases keeps this many newest releases (and the current one)


class Choice(BaseModel):
    tool: str
    params: dict[str, Any]
    why: str
    platform_host: bool = True  # runs on the diagnosed host (else the control host)
    capture: dict[str, Any] | None = None  # a read run (and kept in the report) just before the action: {tool, params}


def choose_remedies(category: str, view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults,
                    at: datetime | None) -> tuple[list[Choice], str]:
    """The actions for this diagnosis, best first, and a note when none fits (what a person must act on)."""
    chooser = _CHOOSERS.get(category)
    return chooser(view, target, defaults, at) if chooser else ([], "")


# ------------------------------------------------------------------ disks


def _disk_full(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
    full = _full_mounts(view)
    usage = [u for _, u in view.facts(DiskUsageFacts) if not u.inodes]
    largest = max((e for u in usage for e in u.entries), key=lambda e: e.size_mb or 0, default=None)
    binlogs = next((b for _, b in view.facts(BinlogFacts)), None)
    journal = next((j for _, j in view.facts(JournalUsageFacts)), None)
    if binlogs is not None and (any(m.startswith("/var/lib/mysql") for m in full) or binlogs.total_mb >= 1024):
        keep = defaults.binlog_keep_days
        before = ((at or datetime.now(timezone.utc)) - timedelta(days=keep)).isoformat()
        return [Choice(tool="mysql.purge_binary_logs", params={"before": before}, platform_host=False,
                       why=f"{binlogs.summary()} fill {', '.join(full) or 'the data volume'}; the server purges those older than "
                           f"{keep} day(s) (never by deleting files under its data directory)")], ""
    if largest is not None and largest.path.startswith("/var/log/journal") or (
            journal is not None and journal.size_mb >= defaults.journal_worth_vacuuming_mb and (largest is None or "journal" in largest.path)):
        size = journal.summary() if journal else f"{largest.path} is the largest directory"
        return [Choice(tool="journal.vacuum", params={"size": defaults.vacuum_size}, why=f"{size}: vacuum archived journal files")], ""
    listing = next((l for _, l in view.facts(ListingFacts) if l.largest_file() is not None), None)
    if largest is not None and largest.path.startswith("/var/log/") and listing is not None:
        big = listing.largest_file()
        if big is not None and (big.size_mb or 0) >= defaults.big_log_file_mb:
            service = largest.path.rstrip("/").rsplit("/", 1)[-1]
            path = f"{largest.path.rstrip('/')}/{big.name}"
            if any(u.unit.startswith("logrotate") and u.active == "failed" for _, u in view.facts(UnitFacts)):
                # rotating again would fail as the last run did: empty the file in place (its writer keeps its inode)
                return [Choice(tool="files.truncate", params={"path": path},
                               why=f"{path} holds {big.size_mb / 1024:,.0f} GiB and logrotate's last run failed: empty it in place "
                                   "(then fix logrotate)")], ""
            return [Choice(tool="files.rotate_log", params={"config": f"/etc/logrotate.d/{service}"},
                           why=f"{path} holds {big.size_mb / 1024:,.0f} GiB: rotate it with its own configuration ({service})")], ""
    docker_root = next((m for m in full if m.startswith("/var/lib/docker")), None)
    if docker_root is not None or (largest is not None and largest.path.startswith("/var/lib/docker")):
        # images no container uses, older than three days: pulled again when needed (dangling-only pruning seldom frees a full disk)
        where = f"{docker_root} (Docker's data root) is full" if docker_root else f"{largest.path} is the largest directory"  # type: ignore[union-attr]
        return [Choice(tool="containers.prune_images", params={"all": True, "older_than": "until=72h"},
                       why=f"{where}: remove images no container uses, older than 72 h")], ""
    releases, releases_note = _old_releases(view, defaults)
    if releases is not None:
        return [releases], ""
    if journal is not None and journal.size_mb >= defaults.journal_worth_vacuuming_mb:
        return [Choice(tool="journal.vacuum", params={"size": defaults.vacuum_size}, why=journal.summary())], ""
    if releases_note:
        return [], releases_note
    where = f" on {', '.join(full)}" if full else ""
    return [], f"no remedy is sure to free space{where}: the evidence does not show what fills it (read `du -xh --max-depth=1` of the full mount)"


def _release_order(name: str) -> tuple[int, int, str]:
    """Release names sort as the tools make them: timestamps and counters by number, anything else by text."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _old_releases(view: EvidenceView, defaults: RemedyDefaults) -> tuple[Choice | None, str]:
    """Releases beyond the newest N in the largest APP/releases directory, never the one APP/current points to.

    Needs two listings: the releases themselves and APP (where `current` shows which release is live). Without
    the second nothing is removed: a guess could delete the release that serves.
    """
    usage = [e for _, u in view.facts(DiskUsageFacts) if not u.inodes for e in u.entries if e.path.rstrip("/").endswith("/releases")]
    if not usage:
        return None, ""
    releases_dir = max(usage, key=lambda e: e.size_mb or 0).path.rstrip("/")
    app_dir = releases_dir.rsplit("/", 1)[0]
    listings = {facts.path: facts for _, facts in view.facts(ListingFacts) if facts.path}
    listed = listings.get(releases_dir)
    if listed is None:
        return None, f"no remedy yet: {releases_dir} fills the disk, but its releases were not listed (read `ls -l {releases_dir}`)"
    current = next((e.target for e in (listings[app_dir].entries if app_dir in listings else []) if e.name == "current" and e.target), None)
    if current is None:
        return None, (f"no remedy: {releases_dir} fills the disk, but the evidence does not show which release {app_dir}/current "
                      f"points to (read `ls -l {app_dir}`); old releases are not removed on a guess")
    if current.rsplit("/", 1)[0] != releases_dir:
        return None, f"no remedy: {app_dir}/current points to {current}, outside {releases_dir}; a person must check the layout"
    names = sorted((e.name for e in listed.entries if e.directory and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", e.name)),
                   key=_release_order)
    keep = set(names[-defaults.keep_releases:]) | {current.rsplit("/", 1)[-1]}
    old = [f"{releases_dir}/{n}" for n in names if n not in keep][:_MAX_RELEASES_AT_ONCE]  # the oldest first
    if not old:
        return None, f"no remedy: {releases_dir} holds {len(names)} release(s), no more than the {defaults.keep_releases} kept"
    size = next((e.size_mb for e in usage if e.path.rstrip("/") == releases_dir), None)
    held = f" ({size / 1024:,.1f} GiB)" if size else ""
    return Choice(tool="files.remove_releases", params={"paths": old},
                  why=f"{releases_dir} holds {len(names)} releases{held}: keep the newest {defaults.keep_releases} and the current one "
                      f"({current.rsplit('/', 1)[-1]}), remove {len(old)} older"), ""


def _inode_exhaustion(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
    for _, timers in view.facts(TimersFacts):
        stopped = [t for t in timers.stopped if _CLEANUP_WORDS.search(t.unit)]
        if stopped:
            return [Choice(tool="systemd.start_unit", params={"unit": stopped[0].unit},
                           why=f"the cleanup timer {stopped[0].unit} is not scheduled (next: n/a)")], ""
    for _, listing in view.facts(ListingFacts):
        dirs = [e for e in listing.entries if e.directory and e.name.startswith("/") and (e.size_mb or 0) >= 8]
        if dirs:  # a directory's own size grows with its entries: a few MiB of directory is hundreds of thousands of files
            directory = dirs[0]
            days = defaults.prune_older_than_days
            return [Choice(tool="files.prune", params={"path": directory.name, "name": "*", "modified_days": f"+{days}"},
                           why=f"{directory.name} is a {directory.size_mb:,.0f} MiB directory (hundreds of thousands of entries): "
                               f"remove files older than {days} days, after a dry-run count")], ""
    return [], "no remedy: the evidence does not show which directory holds the small files (read `du --inodes -x -d 1` of the full mount)"


def _full_mounts(view: EvidenceView) -> list[str]:
    return [f.mount for _, d in view.facts(DiskFacts) if not d.inodes for f in d.filesystems if not f.pseudo and (f.use_pct or 0) >= 90]


# ------------------------------------------------------------------ processes, releases, databases, certificates


def _by_target(tool_host: str, tool_k8s: str | None, params_host: dict[str, str], params_k8s: dict[str, str] | None, why: str):
    def choose(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
        if tool_k8s and target.get("deployment") and target.get("namespace"):
            return [Choice(tool=tool_k8s, params=_fill(params_k8s or {}, target), why=why, platform_host=False)], ""
        filled = _fill(params_host, target)
        if any(v is None for v in filled.values()):
            return [], ""
        return [Choice(tool=tool_host, params=filled, why=why)], ""

    return choose


def _fill(template: dict[str, str], target: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in template.items():
        m = re.fullmatch(r"\{([a-z_]+)\}", value)
        out[key] = target.get(m.group(1)) if m else value
    return out


def _memory_leak(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
    choices, note = _restart(view, target, defaults, at)
    if choices and choices[0].tool == "systemd.restart_unit" and target.get("pid"):
        # what the leak looks like, kept before the restart throws it away
        choices[0].capture = {"tool": "files.read", "params": {"path": f"/proc/{target['pid']}/smaps_rollup"}}
    return choices, note


def _release_crash(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
    if target.get("version") and target.get("previous_version"):  # the crash loop began with a release
        return _bad_deploy(view, target, defaults, at)
    return [], "no remedy: the crash loop did not begin with a release the evidence names; read its exit reason"


def _bad_deploy(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
    if not (target.get("deployment") and target.get("namespace")):
        return [], "no remedy: the release to roll back is not known (no Kubernetes deployment in the evidence)"
    params: dict[str, Any] = {"kind": "deployments", "name": target["deployment"], "namespace": target["namespace"]}
    if target.get("rollback_revision"):
        params["to_revision"] = target["rollback_revision"]
    to = f"revision {target['rollback_revision']}" if target.get("rollback_revision") else "the previous revision"
    return [Choice(tool="kubernetes.rollout_undo", params=params, platform_host=False,
                   why=f"the fault began with {target.get('version', 'the current release')}: roll back to {to}")], ""


def _db_slow_query(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
    if target.get("query_id") is None:
        return [], "no remedy: no single blocking session is named in the evidence"
    if str(target.get("engine", "")).startswith("postgres"):
        return [Choice(tool="postgres.cancel_backend", params={"pid": target["query_id"]}, platform_host=False,
                       why=f"session {target['query_id']} runs the longest: {str(target.get('query', ''))[:80]}")], ""
    return [Choice(tool="mysql.kill_query", params={"thread_id": target["query_id"]}, platform_host=False,
                   why=f"thread {target['query_id']} runs the longest: {str(target.get('query', ''))[:80]}")], ""


def _certificate(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
    if not target.get("cert_name"):
        return [], "no remedy: the certificate's name is not known (read `certbot certificates`)"
    if _challenge_fails(view):
        # renewing again would fail the same way: the challenge path is what a person must fix first
        return [], (f"no remedy: certbot's renewals of {target['cert_name']} fail their ACME challenge (see its log); fix what answers "
                    "/.well-known/acme-challenge/ (a deny rule, a redirect, DNS), then renew and reload")
    choices = [Choice(tool="certbot.renew", params={"cert_name": target["cert_name"]}, why=f"{target['cert_name']} has expired")]
    if any("nginx" in (u.unit or "") for _, u in view.facts(UnitFacts)) or str(target.get("service", "")).startswith("nginx"):
        choices.append(Choice(tool="nginx.reload", params={}, why="nginx serves the renewed certificate only after a reload"))
    return choices, ""


def _config_error(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
    """Put back the last good copy of the file the server's own check names, test it, then start or reload the server."""
    path = str(target.get("config_path") or "")
    if not path and target.get("deployment") and target.get("namespace"):
        return _workload_config(view, target)
    if not path:
        return [], "no remedy: no configuration file is named in the evidence (the server's own check names it)"
    directory, name = path.rsplit("/", 1)
    backup = _newest_backup(view, directory, name)
    if backup is None:
        return [], (f"no remedy: no earlier copy of {path} beside it (.bak, .orig, .dpkg-old, ansible's ~); "
                    "restore it from the configuration repository or fix it by hand, then test it")
    if not path.startswith("/etc/nginx/"):
        return [], (f"no remedy: {backup} may be the last good {name}, but the catalogue has no syntax check for this server "
                    "to run after restoring it; restore and test it by hand")
    tested_bad = any(not t.config_ok for _, t in view.facts(NginxTestFacts))
    restore = Choice(tool="nginx.restore_config", params={"backup": backup, "path": path},
                     why=f"{path} fails nginx's own check{'' if tested_bad else ' (per its log)'}; {backup} is its newest earlier copy",
                     capture={"tool": "files.read", "params": {"path": path}})
    unit = str(target.get("unit") or "nginx.service")
    down = any(u.unit == unit and u.active in ("failed", "inactive") for _, u in view.facts(UnitFacts))
    then = (Choice(tool="systemd.restart_unit", params={"unit": unit}, why=f"{unit} is down: start it on the tested configuration")
            if down else Choice(tool="nginx.reload", params={}, why="nginx serves the restored configuration after a reload"))
    return [restore, then], ""


def _workload_config(view: EvidenceView, target: dict[str, Any]) -> tuple[list[Choice], str]:
    """A workload whose newest revision fails on its configuration: a missing Secret or ConfigMap key is added at its
    source by a person (the old pods keep serving meanwhile); otherwise its previous revision is rolled back to."""
    refs = missing_refs(e.excerpt or "" for e in view.evidence if e.ok)
    if refs:
        ref = refs[0]
        what = f"key {ref.key} in {ref.kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name}" if ref.key else \
            f"{ref.kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name}"
        return [], (f"no remedy: the new pods need {what}, which does not exist; add it where that {ref.kind} comes from "
                    "(its external secret or chart values) and the rollout goes on; roll back only if the old pods stop serving")
    deployment, namespace = str(target["deployment"]), str(target["namespace"])
    history = next((h for _, h in view.facts(RolloutHistoryFacts) if h.name in ("", deployment) and h.previous is not None), None)
    if history is None or history.previous is None or history.current is None:
        return [], (f"no remedy: the revisions of {namespace}/{deployment} are not known (kubectl rollout history); "
                    "restore the configuration it had before, or roll it back by hand")
    return [Choice(tool="kubernetes.rollout_undo", platform_host=False,
                   params={"kind": "deployments", "name": deployment, "namespace": namespace, "to_revision": history.previous.number},
                   why=f"the pods of revision {history.current.number} fail on their configuration; revision "
                       f"{history.previous.number} ran with the configuration before it: roll back to it")], ""


def _newest_backup(view: EvidenceView, directory: str, name: str) -> str | None:
    """The first earlier copy of `name` in a listing of `directory` (listed newest first: ls -t)."""
    for evidence, listing in view.facts(ListingFacts):
        if directory not in (evidence.command or "").split():
            continue
        for entry in listing.entries:
            m = _BACKUP_OF.match(entry.name)
            if m and m.group("base") == name and not entry.directory:
                return f"{directory}/{entry.name}"
    return None


_CHALLENGE_FAILED = re.compile(r"Some challenges have failed|failed to authenticate some domains|acme-challenge\S* HTTP/[\d.]+\"?,? \d{3}|Invalid response from \S*acme-challenge", re.I)


def _challenge_fails(view: EvidenceView) -> bool:
    """Did certbot's last renewals fail on the challenge (so renewing again fails too)?"""
    return any(_CHALLENGE_FAILED.search(e.excerpt or "") for e in view.evidence if e.ok) or any(
        _CHALLENGE_FAILED.search(h.sample) for stream in view.logs() for h in stream.facts.hits)


_restart = _by_target("systemd.restart_unit", "kubernetes.rollout_restart", {"unit": "{unit}"},
                      {"kind": "deployments", "name": "{deployment}", "namespace": "{namespace}"},
                      "the leaking process gives its memory back only when it restarts (its memory map is kept first)")

_signal_runaway = _by_target("process.signal", None, {"pid": "{pid}", "signal": "TERM"}, None, "the runaway process holds the CPU")


def _cpu_saturation(view: EvidenceView, target: dict[str, Any], defaults: RemedyDefaults, at: datetime | None) -> tuple[list[Choice], str]:
    """A host's runaway process is stopped; a workload at its CPU limit gets more replicas, never a restart (a rolling
    restart of saturated pods takes capacity away while the load stays). Where an autoscaler owns the replica count,
    a scale would be undone at once: its bounds or the CPU limit must change, which is a manifest change."""
    if not (target.get("deployment") and target.get("namespace")):
        owner = _service_of_pid(view, target.get("pid"))
        if owner:  # a service's main process: a kill leaves the service down unless systemd restarts it; a restart does not
            return [Choice(tool="systemd.restart_unit", params={"unit": owner},
                           why=f"the runaway process {target['pid']} is the main process of {owner}: a restart frees the CPU and brings it back")], ""
        return _signal_runaway(view, target, defaults, at)
    name, namespace = target["deployment"], target["namespace"]
    where = f"{namespace}/{name}"
    state, _ = kube_view(view)
    for (ns, _), seen in state.autoscalers.items():
        hpa = seen.obj
        if ns in ("", namespace) and hpa.target.lower() in (f"deployment/{name}", name):
            return [], (f"no remedy by command: the autoscaler {hpa.name} sets the replicas of {where} "
                        f"(max {hpa.max_replicas if hpa.max_replicas is not None else '?'}); raise its maxReplicas or the CPU limit in the manifest")
    replicas = next((seen.obj.desired for (kind, ns, wname), seen in state.workloads.items()
                     if kind.lower() == "deployment" and wname == name and ns in ("", namespace) and seen.obj.desired), None)
    if replicas is None:
        return [], f"no remedy: the replica count of {where} is not known (kubectl get deployment); more replicas or a higher CPU limit share the load"
    more = min(max(replicas + 1, math.ceil(replicas * defaults.scale_out_factor)), 500)
    return [Choice(tool="kubernetes.scale", params={"kind": "deployments", "name": name, "namespace": namespace, "replicas": more},
                   platform_host=False, why=f"every pod of {where} runs at its CPU limit: {replicas} -> {more} replicas share the load")], ""


def _service_of_pid(view: EvidenceView, pid: Any) -> str | None:
    """The service unit whose main process `pid` is, as systemd said it (`systemctl status PID`)."""
    if not str(pid or "").isdigit():
        return None
    for _, unit in view.facts(UnitFacts):
        if unit.found and unit.main_pid == int(pid) and unit.unit.endswith(".service"):
            return unit.unit
    return None


_CHOOSERS = {
    "disk_full": _disk_full,
    "inode_exhaustion": _inode_exhaustion,
    "memory_leak": _memory_leak,
    "service_crashloop": _release_crash,
    "cpu_saturation": _cpu_saturation,
    "bad_deploy": _bad_deploy,
    "db_slow_query": _db_slow_query,
    "certificate_expired": _certificate,
    "config_error": _config_error,
}
