"""dmesg: what the kernel saw (OOM kills, segfaults, hung tasks, I/O errors, full conntrack)."""

from __future__ import annotations

import re

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError
from agents.diagnosis.timeline import LogFacts, scan_lines


class OomKill(BaseModel):
    pid: int | None = None
    name: str
    anon_rss_mb: float | None = None
    cgroup: bool = False  # a container/cgroup limit, not the whole host


class KernelFacts(Facts):
    parser: str = "dmesg"
    lines: int
    oom_kills: list[OomKill] = []
    oom_invokers: list[str] = []
    segfaults: list[str] = []  # process names
    hung_tasks: list[str] = []
    io_errors: int = 0
    io_devices: list[str] = []
    conntrack_full: int = 0
    remounted_read_only: list[str] = []  # devices a filesystem error made the kernel remount read-only
    log: LogFacts | None = None

    def summary(self) -> str:
        parts = []
        if self.oom_kills:
            names = sorted({k.name for k in self.oom_kills})
            parts.append(f"OOM killer killed {len(self.oom_kills)} process(es): {', '.join(names)}")
        if self.segfaults:
            parts.append(f"segfaults in {', '.join(sorted(set(self.segfaults)))}")
        if self.hung_tasks:
            parts.append(f"{len(self.hung_tasks)} hung task(s)")
        if self.io_errors:
            parts.append(f"{self.io_errors} I/O error(s) on {', '.join(self.io_devices) or 'a device'}")
        if self.conntrack_full:
            parts.append("conntrack table full")
        if self.remounted_read_only:
            parts.append(f"filesystem on {', '.join(self.remounted_read_only)} remounted read-only after errors")
        return "dmesg: " + ("; ".join(parts) if parts else f"{self.lines} lines, nothing notable")


_KILLED = re.compile(r"(Memory cgroup )?[Oo]ut of memory(?: \(oom_kill_allocating_task\))?: Kill(?:ed)? process (\d+) \(([^)]+)\)(?:.*?anon-rss:(\d+)kB)?")
_OOM_KILL_LINE = re.compile(r"oom-kill:.*?task=([^,\s]+),pid=(\d+)")
_KERNEL_SHAPE = re.compile(r"^\[\s*[\d.]+\]|^\[\w{3} \w{3}\s+\d{1,2} [\d:]+ \d{4}\]|^\w{3}\s+\d{1,2} [\d:]+ \S+ kernel:|^(?:kern|user|daemon)\s*:\w+\s*:|^\d{4}-\d{2}-\d{2}T")


def parse_dmesg(text: str, *, command: str = "", stderr: str = "") -> KernelFacts:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if lines and not any(_KERNEL_SHAPE.search(line) for line in lines[:50]) and not any("oom" in line.lower() for line in lines):
        raise ParserError("no line looks like a kernel message ([timestamp] ...)")
    kills: dict[tuple, OomKill] = {}
    invokers, segfaults, hung, io_devices, remounted = [], [], [], [], []
    io_errors = conntrack = 0
    for line in lines:
        m = _KILLED.search(line)
        if m:
            pid, name = int(m.group(2)), m.group(3)
            kills[(pid, name)] = OomKill(pid=pid, name=name, anon_rss_mb=round(int(m.group(4)) / 1024, 1) if m.group(4) else None, cgroup=bool(m.group(1)))
            continue
        m = _OOM_KILL_LINE.search(line)
        if m:
            key = (int(m.group(2)), m.group(1))
            cgroup = "CONSTRAINT_MEMCG" in line
            if key in kills:
                kills[key].cgroup = kills[key].cgroup or cgroup
            else:
                kills[key] = OomKill(pid=key[0], name=key[1], cgroup=cgroup)
            continue
        m = re.search(r"\]\s*(\S+) invoked oom-killer", line) or re.search(r"(\S+) invoked oom-killer", line)
        if m:
            invokers.append(m.group(1))
        m = re.search(r"(\S+?)\[\d+\]: segfault at", line)
        if m:
            segfaults.append(m.group(1))
        m = re.search(r"task (\S+?):\d+ blocked for more than", line)
        if m:
            hung.append(m.group(1))
        m = re.search(r"I/O error,? dev (\w+)|Buffer I/O error on dev(?:ice)? (\w+)", line)
        if m:
            io_errors += 1
            dev = m.group(1) or m.group(2)
            if dev not in io_devices:
                io_devices.append(dev)
        if "nf_conntrack: table full" in line:
            conntrack += 1
        m = re.search(r"(?:EXT4-fs|XFS|BTRFS)[^(]*\((\w+)\):? (?:Remounting filesystem read-only|.*shut(?:ting)? down filesystem)", line, re.I)
        if m and m.group(1) not in remounted:
            remounted.append(m.group(1))
    return KernelFacts(
        lines=len(lines), oom_kills=list(kills.values()), oom_invokers=invokers[:10], segfaults=segfaults[:10],
        hung_tasks=hung[:10], io_errors=io_errors, io_devices=io_devices[:5], conntrack_full=conntrack, remounted_read_only=remounted[:5],
        log=scan_lines(lines) if lines else None,
    )
