"""cpu_saturation, disk_full, inode_exhaustion, disk_io_bottleneck from host outputs.

Thresholds follow what operators page on: a filesystem at 95-100 %, load
well above the core count with the CPU actually busy (a high load with idle
CPU and high iowait is the disk, not the CPU), %util near 100 with long
await. A disk at 84 % is not an incident.
"""

from __future__ import annotations

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.metrics import MetricFacts
from agents.diagnosis.parsers.cpu import CpuCountFacts, LoadFacts, TopFacts
from agents.diagnosis.parsers.disk import DeletedFilesFacts, DiskFacts, IostatFacts
from agents.diagnosis.parsers.kernel import KernelFacts
from agents.diagnosis.parsers.memory import VmstatFacts
from agents.diagnosis.parsers.processes import ProcessFacts


def _iowait(view: EvidenceView) -> tuple[float, str | None]:
    best, eid = 0.0, None
    for e, top in view.facts(TopFacts):
        if (top.cpu_wa or 0) > best:
            best, eid = top.cpu_wa or 0.0, e.id
    for e, vm in view.facts(VmstatFacts):
        if vm.wa > best:
            best, eid = vm.wa, e.id
    for e, io in view.facts(IostatFacts):
        if (io.iowait or 0) > best:
            best, eid = io.iowait or 0.0, e.id
    return best, eid


def analyze_cpu(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    cores = None
    for _, c in view.facts(CpuCountFacts):
        cores = c.cpus
    if cores is None:
        for _, top in view.facts(TopFacts):
            cores = top.cpu_count or cores
        for _, io in view.facts(IostatFacts):
            cores = cores or io.cpu_count
    iowait, _ = _iowait(view)
    busy_seen = idle_seen = False
    for e, top in view.facts(TopFacts):
        if top.cpu_id is not None:
            busy = (top.cpu_us or 0) + (top.cpu_sy or 0) + (top.cpu_ni or 0) + (top.cpu_st or 0)
            if top.cpu_id <= 10 and busy >= 80:
                busy_seen = True
                out.append(Signal(category="cpu_saturation", weight=1.5, evidence_id=e.id, reason=f"CPU {busy:.0f}% busy, {top.cpu_id:.0f}% idle"))
            elif top.cpu_id >= 50:
                idle_seen = True
            if (top.cpu_st or 0) >= 10:
                out.append(Signal(category="cpu_saturation", weight=1.0, evidence_id=e.id, reason=f"steal time {top.cpu_st:.0f}% (the hypervisor withholds CPU)"))
        hot = [p for p in top.processes if p.cpu_pct >= 90]
        if hot:
            out.append(Signal(category="cpu_saturation", weight=1.5 if hot[0].cpu_pct >= 180 else 1.2, evidence_id=e.id,
                              reason=f"pid {hot[0].pid} ({hot[0].command}) at {hot[0].cpu_pct:.0f}% CPU"))
    for e, vm in view.facts(VmstatFacts):
        busy = vm.us + vm.sy + vm.st
        if vm.id <= 10 and busy >= 80:
            busy_seen = True
            reason = f"vmstat: CPU {busy:.0f}% busy, run queue {vm.r:.0f}" + (f" on {cores} cores" if cores else "")
            out.append(Signal(category="cpu_saturation", weight=1.3, evidence_id=e.id, reason=reason))
        elif vm.id >= 50:
            idle_seen = True
        if cores and vm.r >= 2 * cores and busy >= 60:
            out.append(Signal(category="cpu_saturation", weight=0.7, evidence_id=e.id, reason=f"run queue {vm.r:.0f} on {cores} cores"))
        if vm.st >= 10:
            out.append(Signal(category="cpu_saturation", weight=1.0, evidence_id=e.id, reason=f"steal time {vm.st:.0f}%"))
    for e, ps in view.facts(ProcessFacts):
        if ps.top_cpu and ps.top_cpu[0].cpu_pct >= 90:
            p = ps.top_cpu[0]
            out.append(Signal(category="cpu_saturation", weight=1.3 if p.cpu_pct >= 180 else 1.0, evidence_id=e.id,
                              reason=f"pid {p.pid} ({p.name}) at {p.cpu_pct:.0f}% CPU"))
    for e, load in list(view.facts(LoadFacts)) + [(e, t) for e, t in view.facts(TopFacts) if t.load1 is not None]:
        load1 = load.load1
        if cores:
            ratio = load1 / cores
            if ratio >= 2:
                weight = 1.5 if iowait < 20 else 0.4
                out.append(Signal(category="cpu_saturation", weight=weight, evidence_id=e.id, reason=f"load {load1:.1f} on {cores} cores ({ratio:.1f}x)"))
            elif ratio >= 1.2 and iowait < 20:
                out.append(Signal(category="cpu_saturation", weight=0.7, evidence_id=e.id, reason=f"load {load1:.1f} on {cores} cores"))
        elif load1 >= 8 and iowait < 20:
            out.append(Signal(category="cpu_saturation", weight=0.7, evidence_id=e.id, reason=f"load average {load1:.1f}"))
        break  # one load reading is enough
    if idle_seen and not busy_seen:
        out.append(Signal(category="cpu_saturation", weight=-1.2, evidence_id=None, reason="the CPU is mostly idle"))
    for e, metric in view.facts(MetricFacts):
        name = metric.name.lower()
        if "credit" in name and "balance" in name and metric.max > 0 and metric.last <= 0.05 * metric.max:
            out.append(Signal(category="cpu_saturation", weight=1.5, evidence_id=e.id,
                              reason=f"{metric.name} fell to {metric.last:g}: the burstable instance is throttled to its baseline"))
        elif "cpu" in name and metric.max <= 100 and metric.last >= 90:
            out.append(Signal(category="cpu_saturation", weight=1.0, evidence_id=e.id, reason=f"{metric.name} at {metric.last:g}%"))
    return out


def analyze_disk(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    space_full = inode_full = False
    space_max = inode_max = None
    space_eid = inode_eid = None
    for e, df in view.facts(DiskFacts):
        worst = df.worst()
        if worst is None or worst.use_pct is None:
            continue
        pct = worst.use_pct
        category = "inode_exhaustion" if df.inodes else "disk_full"
        what = "inodes" if df.inodes else "space"
        if df.inodes:
            inode_max, inode_eid = max(pct, inode_max or 0), e.id
            inode_full = inode_full or pct >= 95
        else:
            space_max, space_eid = max(pct, space_max or 0), e.id
            space_full = space_full or pct >= 95
        if pct >= 98:
            out.append(Signal(category=category, weight=2.5, evidence_id=e.id, reason=f"{worst.mount} ({worst.filesystem}) {what} {pct:.0f}% used"))
        elif pct >= 95:
            out.append(Signal(category=category, weight=1.8, evidence_id=e.id, reason=f"{worst.mount} {what} {pct:.0f}% used"))
        elif pct >= 90:
            out.append(Signal(category=category, weight=0.8, evidence_id=e.id, reason=f"{worst.mount} {what} {pct:.0f}% used"))
        elif pct < 85:
            out.append(Signal(category=category, weight=-1.0, evidence_id=e.id, reason=f"fullest filesystem {what} only {pct:.0f}% used"))
    enospc = view.hits("enospc")
    if inode_full and not space_full and enospc:
        stream, count = enospc[0]
        out.append(Signal(category="inode_exhaustion", weight=1.5, evidence_id=stream.evidence_id,
                          reason=f"\"No space left on device\" ({count}x) while space remains: the inodes ran out"))
        out.append(Signal(category="disk_full", weight=-2.5, evidence_id=space_eid or inode_eid,
                          reason=f"space is {space_max:.0f}% used; the ENOSPC errors come from inodes" if space_max is not None else "the ENOSPC errors come from inodes"))
    elif inode_full and space_full:
        out.append(Signal(category="disk_full", weight=0.5, evidence_id=space_eid, reason="space and inodes both exhausted; space is the usual cause"))
    for e, deleted in view.facts(DeletedFilesFacts):  # the space df counts and du cannot find: a writer still holds it
        top = deleted.largest()
        if top is not None and space_full and deleted.total_mb >= 1024:
            out.append(Signal(category="disk_full", weight=1.5, evidence_id=e.id,
                              reason=f"{top.command} (pid {top.pid}) holds the deleted {top.name} open: {top.size_mb / 1024:.1f} GiB df counts and du cannot see"))
    for e, metric in view.facts(MetricFacts):
        name = metric.name.lower()
        if "inode" in name and metric.last >= 95 and metric.max <= 100:
            out.append(Signal(category="inode_exhaustion", weight=1.0, evidence_id=e.id, reason=f"{metric.name} at {metric.last:g}%"))
        elif any(w in name for w in ("disk", "filesystem", "fs_", "volume", "storage")) and any(w in name for w in ("used", "usage", "pct", "percent", "util", "full")) \
                and "io" not in name.split(".") and metric.last >= 95 and metric.max <= 100:
            out.append(Signal(category="disk_full", weight=1.0, evidence_id=e.id, reason=f"{metric.name} at {metric.last:g}%"))
    return out


def analyze_io(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    for e, io in view.facts(IostatFacts):
        d = io.busiest()
        if d is not None:
            if (d.util_pct or 0) >= 90:
                out.append(Signal(category="disk_io_bottleneck", weight=1.5, evidence_id=e.id, reason=f"{d.device} {d.util_pct:.0f}% utilised"))
            elif (d.util_pct or 0) >= 70:
                out.append(Signal(category="disk_io_bottleneck", weight=0.6, evidence_id=e.id, reason=f"{d.device} {d.util_pct:.0f}% utilised"))
            if d.worst_await >= 50:
                out.append(Signal(category="disk_io_bottleneck", weight=1.2, evidence_id=e.id, reason=f"{d.device} requests wait {d.worst_await:.0f} ms"))
            elif d.worst_await >= 20:
                out.append(Signal(category="disk_io_bottleneck", weight=0.5, evidence_id=e.id, reason=f"{d.device} requests wait {d.worst_await:.0f} ms"))
            if (d.aqu_sz or 0) >= 10:
                out.append(Signal(category="disk_io_bottleneck", weight=0.5, evidence_id=e.id, reason=f"{d.device} queue depth {d.aqu_sz:.0f}"))
            if (d.util_pct or 0) < 40 and d.worst_await < 10:
                out.append(Signal(category="disk_io_bottleneck", weight=-1.0, evidence_id=e.id, reason=f"disks are quiet (busiest {d.device} {d.util_pct or 0:.0f}%)"))
        if (io.iowait or 0) >= 20:
            out.append(Signal(category="disk_io_bottleneck", weight=1.0, evidence_id=e.id, reason=f"iowait {io.iowait:.0f}%"))
    for e, top in view.facts(TopFacts):
        if (top.cpu_wa or 0) >= 20:
            out.append(Signal(category="disk_io_bottleneck", weight=1.0, evidence_id=e.id, reason=f"CPU waits on I/O {top.cpu_wa:.0f}% of the time"))
    for e, vm in view.facts(VmstatFacts):
        if vm.wa >= 20:
            out.append(Signal(category="disk_io_bottleneck", weight=1.0, evidence_id=e.id, reason=f"vmstat wa {vm.wa:.0f}%"))
        if vm.b >= 3:
            out.append(Signal(category="disk_io_bottleneck", weight=0.6, evidence_id=e.id, reason=f"{vm.b:.0f} processes blocked on I/O"))
    for e, ps in view.facts(ProcessFacts):
        if len(ps.d_state) >= 3:
            names = sorted({p.name for p in ps.d_state})[:4]
            out.append(Signal(category="disk_io_bottleneck", weight=1.5 if len(ps.d_state) >= 10 else 1.0, evidence_id=e.id,
                              reason=f"{len(ps.d_state)} processes in D state ({', '.join(names)})"))
    for e, kernel in view.facts(KernelFacts):
        if kernel.hung_tasks:
            out.append(Signal(category="disk_io_bottleneck", weight=1.5, evidence_id=e.id,
                              reason=f"the kernel reports tasks blocked on I/O for over 120 s: {', '.join(kernel.hung_tasks[:3])}"))
        if kernel.io_errors:
            out.append(Signal(category="disk_io_bottleneck", weight=1.0, evidence_id=e.id,
                              reason=f"{kernel.io_errors} I/O error(s) on {', '.join(kernel.io_devices) or 'a device'}"))
        if kernel.remounted_read_only:  # a storage fault: every write after it fails with EROFS, which is no permission problem
            out.append(Signal(category="disk_io_bottleneck", weight=3.0, evidence_id=e.id, finding="filesystem_read_only",
                              reason=f"the filesystem on {', '.join(kernel.remounted_read_only)} was remounted read-only after "
                                     f"{kernel.io_errors or 'its'} I/O error(s): writes there fail (EROFS)"))
            out.append(Signal(category="permission_denied", weight=-2.0, evidence_id=e.id,
                              reason="the read-only filesystem is the kernel's reaction to a disk fault, not a permission"))
    for e, metric in view.facts(MetricFacts):
        name = metric.name.lower()
        if "burst" in name and metric.last <= 10:
            spent = metric.last <= 1 and metric.max >= 50  # drained from a full bucket: every I/O now runs at the baseline
            out.append(Signal(category="disk_io_bottleneck", weight=2.5 if spent else 1.5, evidence_id=e.id,
                              reason=f"{metric.name} down to {metric.last:g} from {metric.max:g} (EBS burst credits spent)"))
        elif any(w in name for w in ("diskqueue", "queue_depth", "queuedepth", "queuelength", "await", "iowait", "disk_latency", "read_latency",
                                     "write_latency", "readlatency", "writelatency", "volumeidletime")) and metric.growth >= 3:
            out.append(Signal(category="disk_io_bottleneck", weight=1.0, evidence_id=e.id, reason=f"{metric.name} rose {metric.growth:.0f}x"))
    return out
