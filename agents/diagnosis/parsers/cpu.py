"""uptime, top -bn1, nproc and lscpu: load, CPU split, the busiest processes, how many cores."""

from __future__ import annotations

import re

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError, nonblank_lines, size_to_mb, to_float

_LOAD = re.compile(r"load averages?:\s*(\d+(?:[.,]\d+)?),?\s+(\d+(?:[.,]\d+)?),?\s+(\d+(?:[.,]\d+)?)")


def _load(text: str) -> tuple[float, float, float] | None:
    m = _LOAD.search(text)
    if not m:
        return None
    return tuple(float(g.replace(",", ".")) for g in m.groups())  # type: ignore[return-value]


class LoadFacts(Facts):
    parser: str = "uptime"
    load1: float
    load5: float
    load15: float
    up: str = ""

    def summary(self) -> str:
        return f"load average {self.load1:.2f}, {self.load5:.2f}, {self.load15:.2f}" + (f" (up {self.up})" if self.up else "")


def parse_uptime(text: str, *, command: str = "", stderr: str = "") -> LoadFacts:
    load = _load(text or "")
    if load is None:
        raise ParserError("no `load average:` in the output")
    up = re.search(r"\bup\s+(.*?),\s+\d+\s+users?", text)
    return LoadFacts(load1=load[0], load5=load[1], load15=load[2], up=up.group(1).strip() if up else "")


class TopProcess(BaseModel):
    pid: int
    user: str = ""
    state: str = ""
    cpu_pct: float = 0.0
    mem_pct: float = 0.0
    res_mb: float = 0.0
    command: str = ""


class TopFacts(Facts):
    parser: str = "top"
    load1: float | None = None
    load5: float | None = None
    load15: float | None = None
    tasks_total: int | None = None
    tasks_running: int | None = None
    tasks_zombie: int | None = None
    cpu_us: float | None = None
    cpu_sy: float | None = None
    cpu_ni: float | None = None
    cpu_id: float | None = None
    cpu_wa: float | None = None
    cpu_st: float | None = None
    cpu_count: int | None = None  # only when top printed one line per CPU
    mem_total_mb: float | None = None
    mem_used_mb: float | None = None
    mem_avail_mb: float | None = None
    swap_total_mb: float | None = None
    swap_used_mb: float | None = None
    processes: list[TopProcess] = []

    def summary(self) -> str:
        parts = []
        if self.load1 is not None:
            parts.append(f"load {self.load1:.2f}")
        if self.cpu_id is not None:
            parts.append(f"cpu us {self.cpu_us or 0:.0f} sy {self.cpu_sy or 0:.0f} id {self.cpu_id:.0f} wa {self.cpu_wa or 0:.0f} st {self.cpu_st or 0:.0f}")
        if self.processes:
            p = max(self.processes, key=lambda x: x.cpu_pct)
            parts.append(f"busiest pid {p.pid} {p.command} {p.cpu_pct:.0f}% cpu")
        return "top: " + ", ".join(parts)


_CPU_FIELDS = re.compile(r"(\d+(?:[.,]\d+)?)\s*%?\s*(us|sy|ni|id|wa|hi|si|st)\b")
_MEM_LINE = re.compile(r"^(KiB|MiB|GiB|TiB|Kb|Mb|Gb)?\s*(Mem|Swap)\s*:(.*)$", re.I)


def parse_top(text: str, *, command: str = "", stderr: str = "") -> TopFacts:
    lines = nonblank_lines(text)
    facts: dict = {}
    load = _load(text or "")
    if load:
        facts.update(load1=load[0], load5=load[1], load15=load[2])
    per_cpu = 0
    header_idx = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("Tasks:", "Threads:")):
            for number, word in re.findall(r"(\d+)\s+(total|running|sleeping|stopped|zombie)", stripped):
                if word in ("total", "running", "zombie"):
                    facts[f"tasks_{word}"] = int(number)
        elif re.match(r"^%?Cpu(\(s\)|\d+)", stripped):
            if re.match(r"^%?Cpu\d+", stripped):
                per_cpu += 1
            fields = {k: float(v.replace(",", ".")) for v, k in _CPU_FIELDS.findall(stripped)}
            if re.match(r"^%?Cpu\(s\)", stripped) or per_cpu == 1:
                for key in ("us", "sy", "ni", "id", "wa", "st"):
                    if key in fields:
                        facts[f"cpu_{key}"] = fields[key]
        elif _MEM_LINE.match(stripped):
            m = _MEM_LINE.match(stripped)
            unit = {"kib": "K", "kb": "K", "mib": "M", "mb": "M", "gib": "G", "gb": "G", "tib": "T"}.get((m.group(1) or "KiB").lower(), "K")
            kind = m.group(2).lower()
            nums = dict((w.replace(" ", "_"), v) for v, w in re.findall(r"([\d.,]+[kmgt]?)\s*\+?\s*(total|free|used|buff/cache|avail Mem|buffers|cached)", m.group(3), re.I))
            total, used = size_to_mb(nums.get("total"), unit), size_to_mb(nums.get("used"), unit)
            if kind == "mem":
                facts.update(mem_total_mb=total, mem_used_mb=used)
            else:
                facts.update(swap_total_mb=total, swap_used_mb=used)
                if "avail_Mem" in nums:
                    facts["mem_avail_mb"] = size_to_mb(nums["avail_Mem"], unit)
        elif stripped.split()[:2] == ["PID", "USER"]:
            header_idx = i
            break
    if per_cpu > 1:
        facts["cpu_count"] = per_cpu
    processes: list[TopProcess] = []
    if header_idx is not None:
        header = lines[header_idx].split()
        col = {name: k for k, name in enumerate(header)}
        for line in lines[header_idx + 1:]:
            cells = line.split(None, len(header) - 1)
            if len(cells) < len(header) or not cells[0].isdigit():
                continue
            res_unit = "K"  # top prints RES in KiB unless it carries a suffix (m, g)
            processes.append(TopProcess(
                pid=int(cells[0]), user=cells[col.get("USER", 1)], state=cells[col["S"]] if "S" in col else "",
                cpu_pct=to_float(cells[col["%CPU"]]) or 0.0 if "%CPU" in col else 0.0,
                mem_pct=to_float(cells[col["%MEM"]]) or 0.0 if "%MEM" in col else 0.0,
                res_mb=round(size_to_mb(cells[col["RES"]], res_unit) or 0.0, 1) if "RES" in col else 0.0,
                command=cells[-1],
            ))
    if not facts and not processes:
        raise ParserError("no top header (load average, Tasks:, %Cpu) and no process table")
    processes.sort(key=lambda p: p.cpu_pct, reverse=True)
    return TopFacts(processes=processes[:20], **facts)


class CpuCountFacts(Facts):
    parser: str = "cpu_count"
    cpus: int

    def summary(self) -> str:
        return f"{self.cpus} CPU(s)"


def parse_cpu_count(text: str, *, command: str = "", stderr: str = "") -> CpuCountFacts:
    """`nproc` prints a number; `lscpu` prints `CPU(s):  4`."""
    stripped = (text or "").strip()
    if re.fullmatch(r"\d{1,4}", stripped):
        return CpuCountFacts(cpus=int(stripped))
    m = re.search(r"^CPU\(s\):\s*(\d+)", stripped, re.M)
    if m:
        return CpuCountFacts(cpus=int(m.group(1)))
    raise ParserError("neither an `nproc` number nor an lscpu `CPU(s):` line")
