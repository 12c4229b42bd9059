"""df, df -i and iostat -x: space, inodes, and how busy and slow the disks are."""

from __future__ import annotations

import re

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError, nonblank_lines, size_to_mb, to_float

PSEUDO_TYPES = {"tmpfs", "devtmpfs", "squashfs", "overlay", "iso9660", "proc", "sysfs", "cgroup", "cgroup2", "efivarfs", "udev", "none", "shm"}


class Filesystem(BaseModel):
    filesystem: str
    type: str = ""
    mount: str
    use_pct: float | None = None
    size_mb: float | None = None  # for df -i: number of inodes
    used_mb: float | None = None
    avail_mb: float | None = None
    pseudo: bool = False  # tmpfs, snap loop images (always 100%), overlay layers


class DiskFacts(Facts):
    """`df` (space) or `df -i` (inodes); `inodes` says which."""

    parser: str = "df"
    inodes: bool = False
    filesystems: list[Filesystem]

    def real(self) -> list[Filesystem]:
        return [f for f in self.filesystems if not f.pseudo and f.use_pct is not None]

    def worst(self) -> Filesystem | None:
        real = self.real()
        return max(real, key=lambda f: f.use_pct or 0.0) if real else None

    def summary(self) -> str:
        what = "inodes" if self.inodes else "space"
        worst = self.worst()
        if worst is None:
            return f"df ({what}): no real filesystem listed"
        return f"df ({what}): fullest {worst.mount} at {worst.use_pct:.0f}% ({worst.filesystem})"


def _is_pseudo(fs: str, fstype: str, mount: str) -> bool:
    return (
        fstype.lower() in PSEUDO_TYPES
        or fs.split("/")[-1] in PSEUDO_TYPES
        or fs.startswith(("/dev/loop", "tmpfs", "devtmpfs", "overlay", "shm", "udev", "none"))
        or mount.startswith(("/snap/", "/dev", "/proc", "/sys", "/run/user", "/run/lock", "/var/lib/docker/overlay"))
        or mount == "/run"
    )


def parse_df(text: str, *, command: str = "", stderr: str = "") -> DiskFacts:
    lines = nonblank_lines(text)
    header_idx = next((i for i, line in enumerate(lines) if line.split()[:1] == ["Filesystem"]), None)
    if header_idx is None:
        raise ParserError("no `Filesystem` header")
    header = lines[header_idx].lower().replace("mounted on", "mounted_on").split()
    inodes = "iuse%" in header or "inodes" in header
    has_type = "type" in header
    units = "K"
    if any(h in header for h in ("1k-blocks", "1024-blocks")):
        units = "K"
    elif "1m-blocks" in header:
        units = "M"
    elif "512-blocks" in header:
        units = "B512"
    filesystems: list[Filesystem] = []
    pending = ""
    for line in lines[header_idx + 1:]:
        cells = (pending + " " + line).split() if pending else line.split()
        if len(cells) == 1:  # a long device name wraps onto its own line
            pending = cells[0]
            continue
        pending = ""
        expected = 7 if has_type else 6
        if len(cells) < expected:
            continue
        if len(cells) > expected:  # mount points with spaces
            cells = cells[: expected - 1] + [" ".join(cells[expected - 1:])]
        fs = cells[0]
        fstype = cells[1] if has_type else ""
        rest = cells[2:] if has_type else cells[1:]
        size, used, avail, pct, mount = rest
        if not pct.endswith("%") and pct != "-":
            continue
        if inodes:
            conv = to_float
        elif units == "B512":
            conv = lambda v: (to_float(v) or 0.0) / 2048.0 if to_float(v) is not None else size_to_mb(v, "K")  # noqa: E731
        else:
            conv = lambda v, u=units: size_to_mb(v, u)  # noqa: E731
        filesystems.append(Filesystem(
            filesystem=fs, type=fstype, mount=mount, use_pct=to_float(pct),
            size_mb=conv(size), used_mb=conv(used), avail_mb=conv(avail), pseudo=_is_pseudo(fs, fstype, mount),
        ))
    if not filesystems:
        raise ParserError("a header but no filesystem rows")
    return DiskFacts(parser="df_inodes" if inodes else "df", inodes=inodes, filesystems=filesystems)


class Device(BaseModel):
    device: str
    r_s: float | None = None
    w_s: float | None = None
    r_await: float | None = None
    w_await: float | None = None
    await_ms: float | None = None
    aqu_sz: float | None = None
    util_pct: float | None = None

    @property
    def worst_await(self) -> float:
        return max(v for v in (self.r_await, self.w_await, self.await_ms, 0.0) if v is not None)


class IostatFacts(Facts):
    """The last report of `iostat -x` (the first one averages since boot)."""

    parser: str = "iostat"
    reports: int
    cpu_count: int | None = None
    user: float | None = None
    system: float | None = None
    iowait: float | None = None
    steal: float | None = None
    idle: float | None = None
    devices: list[Device] = []

    def busiest(self) -> Device | None:
        real = [d for d in self.devices if not d.device.startswith(("loop", "ram", "zram"))]
        return max(real, key=lambda d: (d.util_pct or 0.0, d.worst_await)) if real else None

    def summary(self) -> str:
        out = "iostat:"
        if self.iowait is not None:
            out += f" iowait {self.iowait:.0f}%"
        d = self.busiest()
        if d is not None:
            out += f"; busiest {d.device} util {d.util_pct or 0:.0f}%, await {d.worst_await:.0f} ms"
        return out


def parse_iostat(text: str, *, command: str = "", stderr: str = "") -> IostatFacts:
    lines = nonblank_lines(text)
    cpu_count = None
    m = re.search(r"\((\d+) CPU\)", text or "")
    if m:
        cpu_count = int(m.group(1))
    reports: list[dict] = []
    current: dict | None = None
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("avg-cpu:"):
            names = stripped.split()[1:]
            values = lines[i + 1].split() if i + 1 < len(lines) else []
            current = {"cpu": {n.lstrip("%"): to_float(v) for n, v in zip(names, values)}, "devices": []}
            reports.append(current)
            i += 2
            continue
        if re.match(r"^Device:?\s", stripped):
            header = [h.rstrip(":") for h in stripped.split()]
            if current is None or current["devices"]:
                current = {"cpu": {}, "devices": []}
                reports.append(current)
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(("avg-cpu:", "Device")) and not re.match(r"^\S+\s+\d\d/\d\d/\d\d", lines[i]):
                cells = lines[i].split()
                if len(cells) == len(header):
                    row = dict(zip(header, cells))
                    current["devices"].append(Device(
                        device=row["Device"], r_s=to_float(row.get("r/s")), w_s=to_float(row.get("w/s")),
                        r_await=to_float(row.get("r_await")), w_await=to_float(row.get("w_await")),
                        await_ms=to_float(row.get("await")), aqu_sz=to_float(row.get("aqu-sz") or row.get("avgqu-sz")),
                        util_pct=to_float(row.get("%util")),
                    ))
                i += 1
            continue
        i += 1
    if not reports:
        raise ParserError("no `avg-cpu:` or `Device` section")
    last = reports[-1]
    cpu = last["cpu"] or next((r["cpu"] for r in reversed(reports) if r["cpu"]), {})
    devices = last["devices"] or next((r["devices"] for r in reversed(reports) if r["devices"]), [])
    return IostatFacts(
        reports=len(reports), cpu_count=cpu_count, user=cpu.get("user"), system=cpu.get("system"), iowait=cpu.get("iowait"),
        steal=cpu.get("steal"), idle=cpu.get("idle"), devices=devices,
    )


class DeletedFile(BaseModel):
    command: str
    pid: int
    fd: str
    size_mb: float
    name: str


class DeletedFilesFacts(Facts):
    """`lsof +L1`: files unlinked but still held open. df counts their blocks, du cannot see them."""

    parser: str = "lsof_deleted"
    files: list[DeletedFile] = []

    @property
    def total_mb(self) -> float:
        return sum(f.size_mb for f in self.files)

    def largest(self) -> DeletedFile | None:
        return max(self.files, key=lambda f: f.size_mb, default=None)

    def summary(self) -> str:
        top = self.largest()
        if top is None:
            return "no deleted file held open"
        return (f"{len(self.files)} deleted file(s) held open, {self.total_mb / 1024:.1f} GiB in all; largest {top.name} "
                f"({top.size_mb / 1024:.1f} GiB) held by {top.command} pid {top.pid} fd {top.fd}")


def parse_lsof_deleted(text: str, *, command: str = "", stderr: str = "") -> DeletedFilesFacts:
    lines = nonblank_lines(text)
    if not lines or not lines[0].startswith("COMMAND"):
        if not lines:
            return DeletedFilesFacts()
        raise ParserError("not `lsof` output")
    files = []
    for line in lines[1:]:
        # COMMAND PID USER FD TYPE DEVICE SIZE/OFF NLINK NODE NAME
        m = re.match(r"^(\S+)\s+(\d+)\s+\S+\s+(\S+)\s+REG\s+\S+\s+(\d+)\s+0\s+\d+\s+(.+?)(?:\s+\(deleted\))?$", line)
        if m:
            files.append(DeletedFile(command=m.group(1), pid=int(m.group(2)), fd=m.group(3), size_mb=int(m.group(4)) / 2**20, name=m.group(5)))
    return DeletedFilesFacts(files=sorted(files, key=lambda f: -f.size_mb)[:20])
