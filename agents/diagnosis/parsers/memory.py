"""free and vmstat: how much memory is in use, how much swap, whether the host swaps; Redis INFO: a server at its maxmemory."""

from __future__ import annotations

import re

from pydantic import computed_field

from agents.diagnosis.parsers.base import Facts, ParserError, nonblank_lines, size_to_mb


class MemoryFacts(Facts):
    parser: str = "free"
    total_mb: float
    used_mb: float
    free_mb: float | None = None
    shared_mb: float | None = None
    buff_cache_mb: float | None = None
    available_mb: float | None = None
    swap_total_mb: float = 0.0
    swap_used_mb: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def used_pct(self) -> float:
        """Share of memory not available to new work (uses `available` when free prints it)."""
        if self.total_mb <= 0:
            return 0.0
        if self.available_mb is not None:
            return round(100.0 * (self.total_mb - self.available_mb) / self.total_mb, 1)
        return round(100.0 * self.used_mb / self.total_mb, 1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def available_pct(self) -> float:
        return round(100.0 - self.used_pct, 1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def swap_used_pct(self) -> float:
        return round(100.0 * self.swap_used_mb / self.swap_total_mb, 1) if self.swap_total_mb > 0 else 0.0

    def summary(self) -> str:
        in_use = self.total_mb - self.available_mb if self.available_mb is not None else self.used_mb
        out = f"memory {self.used_pct:.0f}% in use ({in_use:.0f} of {self.total_mb:.0f} MB)"
        if self.available_mb is not None:
            out += f", {self.available_mb:.0f} MB available"
        if self.swap_total_mb > 0:
            out += f", swap {self.swap_used_pct:.0f}% used"
        else:
            out += ", no swap"
        return out


def _free_unit(command: str) -> str:
    """free prints KiB unless told otherwise; -h prints suffixed sizes."""
    flags = command.split()[1:] if command else ["-m"]
    for flag, unit in (("-b", "B"), ("--bytes", "B"), ("-k", "K"), ("--kilo", "K"), ("-m", "M"), ("--mega", "M"), ("-g", "G"), ("--giga", "G")):
        if flag in flags:
            return unit
    if any(f in flags for f in ("-h", "--human")):
        return "M"
    return "K" if command else "M"


def parse_free(text: str, *, command: str = "", stderr: str = "") -> MemoryFacts:
    lines = nonblank_lines(text)
    header_idx = next((i for i, line in enumerate(lines) if "total" in line.split() and ("used" in line.split())), None)
    if header_idx is None:
        raise ParserError("no `total used free` header")
    header = lines[header_idx].split()
    unit = _free_unit(command)
    values: dict[str, dict[str, float | None]] = {}
    for line in lines[header_idx + 1:]:
        label, _, rest = line.partition(":")
        label = label.strip().lower()
        if label not in {"mem", "swap", "low", "high", "total", "-/+ buffers/cache"}:
            continue
        cells = rest.split()
        row: dict[str, float | None] = {}
        columns = header if label != "-/+ buffers/cache" else ["used", "free"]
        for name, cell in zip(columns, cells):
            row[name] = size_to_mb(cell, unit)
        values[label] = row
    mem = values.get("mem")
    if not mem or mem.get("total") is None or mem.get("used") is None:
        raise ParserError("no `Mem:` line with total and used")
    buff_cache = mem.get("buff/cache")
    if buff_cache is None and (mem.get("buffers") is not None or mem.get("cached") is not None):
        buff_cache = (mem.get("buffers") or 0.0) + (mem.get("cached") or 0.0)
    available = mem.get("available")
    used = mem["used"] or 0.0
    if available is None and "-/+ buffers/cache" in values:  # procps < 3.3.10: "used" includes cache
        old = values["-/+ buffers/cache"]
        used = old.get("used") or used
        available = old.get("free")
    swap = values.get("swap") or {}
    return MemoryFacts(
        total_mb=mem["total"] or 0.0, used_mb=used, free_mb=mem.get("free"), shared_mb=mem.get("shared"),
        buff_cache_mb=buff_cache, available_mb=available,
        swap_total_mb=swap.get("total") or 0.0, swap_used_mb=swap.get("used") or 0.0,
    )


class VmstatFacts(Facts):
    """Averages over the samples after the first (the first one is since boot)."""

    parser: str = "vmstat"
    samples: int
    r: float = 0.0  # runnable
    b: float = 0.0  # blocked in uninterruptible sleep
    swpd_kb: float = 0.0
    free_kb: float = 0.0
    si: float = 0.0
    so: float = 0.0
    bi: float = 0.0
    bo: float = 0.0
    us: float = 0.0
    sy: float = 0.0
    id: float = 100.0
    wa: float = 0.0
    st: float = 0.0
    max_r: float = 0.0
    max_b: float = 0.0

    def summary(self) -> str:
        return (f"vmstat over {self.samples} sample(s): run queue {self.r:.0f}, blocked {self.b:.0f}, "
                f"cpu us {self.us:.0f} sy {self.sy:.0f} id {self.id:.0f} wa {self.wa:.0f} st {self.st:.0f}, "
                f"swap in/out {self.si:.0f}/{self.so:.0f}")


_VMSTAT_COLUMNS = {"r", "b", "swpd", "free", "si", "so", "bi", "bo", "us", "sy", "id", "wa", "st"}


def parse_vmstat(text: str, *, command: str = "", stderr: str = "") -> VmstatFacts:
    lines = nonblank_lines(text)
    header_idx = next((i for i, line in enumerate(lines) if line.split()[:2] == ["r", "b"]), None)
    if header_idx is None:
        raise ParserError("no `r b swpd free` header")
    header = lines[header_idx].split()
    rows: list[dict[str, float]] = []
    for line in lines[header_idx + 1:]:
        cells = line.split()
        if len(cells) < len(header) - 2 or not all(re.match(r"^-?\d+(\.\d+)?$", c) for c in cells):
            continue  # a repeated header or a timestamp column (-t)
        rows.append({name: float(cell) for name, cell in zip(header, cells)})
    if not rows:
        raise ParserError("no numeric sample rows")
    samples = rows[1:] if len(rows) > 1 else rows

    def avg(name: str, default: float = 0.0) -> float:
        vals = [r[name] for r in samples if name in r]
        return round(sum(vals) / len(vals), 2) if vals else default

    return VmstatFacts(
        samples=len(samples), r=avg("r"), b=avg("b"), swpd_kb=avg("swpd"), free_kb=avg("free"), si=avg("si"), so=avg("so"),
        bi=avg("bi"), bo=avg("bo"), us=avg("us"), sy=avg("sy"), id=avg("id", 100.0), wa=avg("wa"), st=avg("st"),
        max_r=max(r.get("r", 0.0) for r in samples), max_b=max(r.get("b", 0.0) for r in samples),
    )




class RedisInfoFacts(Facts):
    """`redis-cli INFO [memory|stats|errorstats]`: the fields that say whether Redis is full and what it does about it."""

    parser: str = "redis_info"
    used_memory: int | None = None
    maxmemory: int | None = None
    policy: str = ""  # maxmemory_policy: noeviction refuses writes at the limit, the others evict
    evicted_keys: int | None = None
    oom_errors: int | None = None  # errorstat_OOM:count=N

    @property
    def full(self) -> bool:
        return bool(self.maxmemory and self.used_memory is not None and self.used_memory >= 0.95 * self.maxmemory)

    def summary(self) -> str:
        parts = []
        if self.used_memory is not None:
            parts.append(f"used_memory {self.used_memory / 2**30:.2f} GiB" + (f" of maxmemory {self.maxmemory / 2**30:.2f} GiB" if self.maxmemory else " (no maxmemory)"))
        if self.policy:
            parts.append(f"policy {self.policy}")
        if self.evicted_keys is not None:
            parts.append(f"evicted_keys {self.evicted_keys}")
        if self.oom_errors:
            parts.append(f"{self.oom_errors} OOM errors")
        return "redis: " + (", ".join(parts) or "no memory fields")


def parse_redis_info(text: str, *, command: str = "", stderr: str = "") -> RedisInfoFacts:
    fields = dict(m.groups() for m in re.finditer(r"^([a-z_]+):(\S+)\s*$", text or "", re.M))
    oom = re.search(r"^errorstat_OOM:count=(\d+)", text or "", re.M)
    if not fields and not oom:
        raise ParserError("not `redis-cli INFO` output")

    def number(key: str) -> int | None:
        value = fields.get(key)
        return int(value) if value is not None and value.isdigit() else None

    return RedisInfoFacts(used_memory=number("used_memory"), maxmemory=number("maxmemory"), policy=fields.get("maxmemory_policy", ""),
                          evicted_keys=number("evicted_keys"), oom_errors=int(oom.group(1)) if oom else None)
