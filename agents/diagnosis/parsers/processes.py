"""ps: who uses the memory and the CPU, and who is stuck in D state.

Reads `ps aux` and `ps -eo ...` with any column order; the last column is
the command line.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError, nonblank_lines, to_float

_ALIASES = {
    "PID": "pid", "USER": "user", "UID": "user", "%CPU": "cpu", "PCPU": "cpu", "%MEM": "mem", "PMEM": "mem",
    "RSS": "rss", "RSZ": "rss", "VSZ": "vsz", "STAT": "stat", "S": "stat", "COMMAND": "command", "CMD": "command",
    "ARGS": "command", "COMM": "command", "START": "start", "STARTED": "start", "TIME": "time", "ELAPSED": "elapsed",
    "PPID": "ppid", "NLWP": "threads", "THCNT": "threads",
}


class Process(BaseModel):
    pid: int
    user: str = ""
    name: str = ""  # like the kernel's comm: basename of argv[0], 15 chars
    command: str = ""
    cpu_pct: float = 0.0
    mem_pct: float = 0.0
    rss_mb: float = 0.0
    stat: str = ""
    start: str = ""


class ProcessGroup(BaseModel):
    name: str
    count: int
    mem_pct: float
    rss_mb: float
    cpu_pct: float


class ProcessFacts(Facts):
    parser: str = "ps"
    count: int
    total_mem_pct: float = 0.0
    total_cpu_pct: float = 0.0
    top_mem: list[Process] = []  # sorted by memory, at most 10
    top_cpu: list[Process] = []  # sorted by CPU, at most 5
    groups: list[ProcessGroup] = []  # by name, largest memory first, at most 8
    d_state: list[Process] = []  # uninterruptible sleep (waiting on I/O)
    zombies: int = 0

    def summary(self) -> str:
        out = f"{self.count} processes"
        if self.top_mem:
            p = self.top_mem[0]
            out += f"; most memory: pid {p.pid} {p.name} {p.mem_pct:.1f}% ({p.rss_mb:.0f} MB RSS)"
            if len(self.top_mem) > 1 and self.top_mem[1].rss_mb > 0:
                out += f", {p.rss_mb / self.top_mem[1].rss_mb:.0f}x the next"
        if self.top_cpu and self.top_cpu[0].cpu_pct >= 1:
            p = self.top_cpu[0]
            out += f"; most CPU: pid {p.pid} {p.name} {p.cpu_pct:.0f}%"
        if self.d_state:
            out += f"; {len(self.d_state)} in D state"
        return out


def process_name(command: str) -> str:
    argv0 = command.strip().split()[0] if command.strip() else ""
    if argv0.startswith("[") and argv0.endswith("]"):
        return argv0.strip("[]")[:15]
    return posixpath.basename(argv0.rstrip(":"))[:15]


_SELECTS = re.compile(r"(?:^|\s)(?:-p|--pid|-C|-u|-U|--user|-q|--quick-pid)(?:[=\s]|\d)")


def parse_ps(text: str, *, command: str = "", stderr: str = "") -> ProcessFacts:
    lines = nonblank_lines(text)
    header_idx = next((i for i, line in enumerate(lines) if "PID" in line.split()), None)
    if header_idx is None:
        raise ParserError("no header with a PID column")
    header = [_ALIASES.get(h.upper(), h.lower()) for h in lines[header_idx].split()]
    if "pid" not in header:
        raise ParserError("no PID column")
    command_last = header[-1] == "command"
    processes: list[Process] = []
    for line in lines[header_idx + 1:]:
        cells = line.split(None, len(header) - 1) if command_last else line.split()
        if len(cells) < len(header) - (1 if command_last else 0):
            continue
        row = dict(zip(header, cells))
        pid = to_float(row.get("pid"))
        if pid is None:
            continue
        cmd = row.get("command", "")
        processes.append(Process(
            pid=int(pid), user=row.get("user", ""), name=process_name(cmd), command=cmd[:200],
            cpu_pct=to_float(row.get("cpu")) or 0.0, mem_pct=to_float(row.get("mem")) or 0.0,
            rss_mb=round((to_float(row.get("rss")) or 0.0) / 1024.0, 1), stat=row.get("stat", ""), start=row.get("start", ""),
        ))
    if not processes and not _SELECTS.search(command):
        raise ParserError("a header but no process rows")  # `ps -p PID` with no rows is an answer: the process is gone
    by_mem = sorted(processes, key=lambda p: (p.rss_mb, p.mem_pct), reverse=True)
    by_cpu = sorted(processes, key=lambda p: p.cpu_pct, reverse=True)
    groups: dict[str, list[Process]] = defaultdict(list)
    for p in processes:
        groups[p.name].append(p)
    group_list = sorted(
        (ProcessGroup(name=name, count=len(ps), mem_pct=round(sum(p.mem_pct for p in ps), 1),
                      rss_mb=round(sum(p.rss_mb for p in ps), 1), cpu_pct=round(sum(p.cpu_pct for p in ps), 1))
         for name, ps in groups.items()),
        key=lambda g: (g.rss_mb, g.mem_pct), reverse=True,
    )
    return ProcessFacts(
        count=len(processes),
        total_mem_pct=round(sum(p.mem_pct for p in processes), 1),
        total_cpu_pct=round(sum(p.cpu_pct for p in processes), 1),
        top_mem=by_mem[:10], top_cpu=by_cpu[:5],
        groups=group_list[:8],
        d_state=[p for p in processes if p.stat.startswith("D")][:20],
        zombies=sum(1 for p in processes if p.stat.startswith("Z")),
    )
