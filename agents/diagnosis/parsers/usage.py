"""`du` by level and `systemctl list-units`: where space went, and which units are down."""

from __future__ import annotations

import posixpath
import re
import shlex

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError, nonblank_lines, size_to_mb


class UsageEntry(BaseModel):
    path: str
    size_mb: float | None = None  # MiB, or a count of inodes for `du --inodes`


class DiskUsageFacts(Facts):
    """`du -h --max-depth=1 DIR`: the children of a directory, largest first."""

    parser: str = "du"
    inodes: bool = False
    root: str = ""
    total_mb: float | None = None
    entries: list[UsageEntry] = []  # children of `root`, largest first, at most 20

    def largest(self) -> UsageEntry | None:
        return self.entries[0] if self.entries else None

    def summary(self) -> str:
        unit = "inodes" if self.inodes else "MiB"
        top = ", ".join(f"{e.path} {e.size_mb:,.0f} {unit}" for e in self.entries[:3] if e.size_mb is not None)
        return f"{self.root or 'du'}: {self.total_mb:,.0f} {unit} in all; largest {top}" if self.total_mb is not None else f"largest {top}"


def parse_du(text: str, *, command: str = "", stderr: str = "") -> DiskUsageFacts:
    inodes = "--inodes" in (command or "")
    rows: list[UsageEntry] = []
    for line in nonblank_lines(text):
        parts = line.split(None, 1)
        if len(parts) != 2 or not parts[1].startswith("/"):
            continue
        size = float(parts[0]) if inodes and parts[0].isdigit() else size_to_mb(parts[0], default_unit="K")
        rows.append(UsageEntry(path=parts[1].strip(), size_mb=size))
    if not rows:
        raise ParserError("no `SIZE PATH` lines")
    root = min((r.path for r in rows), key=len)
    total = next((r.size_mb for r in rows if r.path == root), None)
    children = sorted((r for r in rows if r.path != root), key=lambda r: -(r.size_mb or 0))
    return DiskUsageFacts(inodes=inodes, root=root, total_mb=total, entries=children[:20])


class ListedUnit(BaseModel):
    unit: str
    load: str = ""
    active: str = ""
    sub: str = ""


class UnitListFacts(Facts):
    """`systemctl list-units [--failed]`: units and their states."""

    parser: str = "systemd_units"
    units: list[ListedUnit] = []

    @property
    def failed(self) -> list[ListedUnit]:
        return [u for u in self.units if u.active == "failed" or u.sub == "failed"]

    def summary(self) -> str:
        failed = self.failed
        if not failed:
            return f"{len(self.units)} unit(s) listed, none failed"
        return f"{len(failed)} failed unit(s): {', '.join(u.unit for u in failed[:5])}"


_UNIT_LINE = re.compile(r"^[\s●*×]*([A-Za-z0-9@:._\\-]+\.(?:service|socket|timer|mount|target|path|slice|scope|swap|automount))\s+(\S+)\s+(\S+)\s+(\S+)")


def parse_unit_list(text: str, *, command: str = "", stderr: str = "") -> UnitListFacts:
    units = [ListedUnit(unit=m.group(1), load=m.group(2), active=m.group(3), sub=m.group(4))
             for m in (_UNIT_LINE.match(line) for line in nonblank_lines(text)) if m]
    if not units and not re.search(r"0 loaded units listed", text or ""):
        raise ParserError("no unit lines")
    return UnitListFacts(units=units)


class TopEntry(BaseModel):
    name: str
    namespace: str = ""
    cpu_millicores: float | None = None
    memory_mb: float | None = None


class KubeTopFacts(Facts):
    """`kubectl top pods|nodes`: what each pod or node uses now."""

    parser: str = "kube_top"
    entries: list[TopEntry] = []

    def busiest(self, by: str = "memory", names: list[str] | None = None) -> TopEntry | None:
        pool = [e for e in self.entries if not names or any(n in e.name for n in names)] or ([] if names else self.entries)
        key = (lambda e: e.memory_mb or 0) if by == "memory" else (lambda e: e.cpu_millicores or 0)
        return max(pool, key=key, default=None)

    def summary(self) -> str:
        top = sorted(self.entries, key=lambda e: -(e.memory_mb or 0))[:3]
        return "; ".join(f"{e.name} {e.cpu_millicores or 0:.0f}m cpu {e.memory_mb or 0:.0f} MiB" for e in top) or "no usage listed"


def parse_kube_top(text: str, *, command: str = "", stderr: str = "") -> KubeTopFacts:
    lines = nonblank_lines(text)
    if not lines or "CPU" not in lines[0].upper():
        raise ParserError("no `NAME CPU(cores) MEMORY(bytes)` header")
    header = lines[0].split()
    has_ns = header[0].upper() == "NAMESPACE"
    entries = []
    for line in lines[1:]:
        cells = line.split()
        if len(cells) < (4 if has_ns else 3):
            continue
        ns, rest = (cells[0], cells[1:]) if has_ns else ("", cells)
        cpu = rest[1].rstrip("m")
        entries.append(TopEntry(name=rest[0], namespace=ns, cpu_millicores=float(cpu) * (1 if rest[1].endswith("m") else 1000) if cpu.replace(".", "").isdigit() else None,
                                memory_mb=size_to_mb(rest[2].replace("i", ""), default_unit="B")))
    return KubeTopFacts(entries=entries)


class ListedFile(BaseModel):
    name: str
    size_mb: float | None = None
    directory: bool = False
    link: str | None = None  # a symbolic link's target as ls shows it
    target: str | None = None  # that target as an absolute path (relative links resolved against the listed directory)


class ListingFacts(Facts):
    """`ls -l`: a directory's entries with their sizes, largest first (or the directory itself with -d)."""

    parser: str = "ls"
    path: str = ""  # the directory listed (empty with --directory, or when the command is unknown)
    entries: list[ListedFile] = []

    def largest_file(self) -> ListedFile | None:
        files = [e for e in self.entries if not e.directory and e.size_mb is not None]
        return max(files, key=lambda e: e.size_mb or 0, default=None)

    def summary(self) -> str:
        top = sorted(self.entries, key=lambda e: -(e.size_mb or 0))[:3]
        return "; ".join(f"{e.name} {e.size_mb or 0:,.0f} MiB" for e in top) or "empty listing"


_LS_LINE = re.compile(r"^([dlbcps-])[rwxsStT-]{9}[.+@]?\s+\d+\s+\S+\s+\S+\s+(\S+)\s+\w{3}\s+\d{1,2}\s+[\d:]{4,5}\s+(.+)$")


def _listed_directory(command: str) -> str:
    """The one directory an `ls` command lists (its last absolute path), or "" for `--directory` and unknown commands."""
    try:
        words = shlex.split(command or "")
    except ValueError:
        return ""
    if any(w in ("-d", "--directory") or (w.startswith("-") and not w.startswith("--") and "d" in w) for w in words[1:]):
        return ""
    paths = [w for w in words[1:] if w.startswith("/")]
    return posixpath.normpath(paths[-1]) if len(paths) == 1 else ""


def parse_ls(text: str, *, command: str = "", stderr: str = "") -> ListingFacts:
    listed = _listed_directory(command)
    entries = []
    for line in nonblank_lines(text):
        m = _LS_LINE.match(line.strip())
        if m:
            name, _, link = m.group(3).partition(" -> ")
            target = posixpath.normpath(posixpath.join(listed, link)) if link and (listed or link.startswith("/")) else None
            entries.append(ListedFile(name=name, size_mb=size_to_mb(m.group(2), default_unit="B"), directory=m.group(1) == "d",
                                      link=link or None, target=target))
    if not entries:
        raise ParserError("no `ls -l` lines")
    return ListingFacts(path=listed, entries=entries)


class JournalUsageFacts(Facts):
    """`journalctl --disk-usage`: how much the journal's files take."""

    parser: str = "journal_usage"
    size_mb: float

    def summary(self) -> str:
        return f"the journal takes {self.size_mb:,.0f} MiB"


def parse_journal_usage(text: str, *, command: str = "", stderr: str = "") -> JournalUsageFacts:
    m = re.search(r"take up ([\d.]+[KMGT]?)", (text or "") + (stderr or ""))
    if not m:
        raise ParserError("no `take up SIZE` line")
    return JournalUsageFacts(size_mb=size_to_mb(m.group(1), default_unit="B") or 0.0)


class Timer(BaseModel):
    unit: str
    activates: str = ""
    next: str = ""  # "n/a": the timer will not fire
    last: str = ""


class TimersFacts(Facts):
    """`systemctl list-timers --all`: when each timer fires next; `n/a` means it will not."""

    parser: str = "timers"
    timers: list[Timer] = []

    @property
    def stopped(self) -> list[Timer]:
        return [t for t in self.timers if t.next.startswith("n/a") or not t.next]

    def summary(self) -> str:
        stopped = self.stopped
        return f"{len(self.timers)} timer(s)" + (f"; not scheduled: {', '.join(t.unit for t in stopped[:4])}" if stopped else "")


def parse_timers(text: str, *, command: str = "", stderr: str = "") -> TimersFacts:
    timers = []
    for line in nonblank_lines(text):
        units = re.findall(r"\S+\.timer", line)
        if not units:
            continue
        unit = units[0]
        before, _, after = line.partition(unit)
        activates = after.split()[0] if after.split() else ""
        next_part = before.strip()
        timers.append(Timer(unit=unit, activates=activates, next="n/a" if next_part.startswith("n/a") else next_part[:40], last=""))
    if not timers and "timers listed" not in (text or ""):
        raise ParserError("no timer lines")
    return TimersFacts(timers=timers)


class BinlogFacts(Facts):
    """`SHOW BINARY LOGS`: the server's binary logs and their sizes."""

    parser: str = "binlogs"
    files: list[str] = []
    total_mb: float = 0.0

    def summary(self) -> str:
        return f"{len(self.files)} binary log(s), {self.total_mb / 1024:,.1f} GiB" + (f" ({self.files[0]} .. {self.files[-1]})" if self.files else "")


def parse_binlogs(text: str, *, command: str = "", stderr: str = "") -> BinlogFacts:
    files, total = [], 0.0
    for line in nonblank_lines(text):
        cells = re.split(r"\s*\|\s*|\t|\s{2,}|\s(?=\d+\s)", line.strip().strip("|").strip())
        if len(cells) >= 2 and re.fullmatch(r"[\w.-]+\.\d{4,}", cells[0]) and cells[1].isdigit():
            files.append(cells[0])
            total += int(cells[1]) / 1048576
    if not files:
        raise ParserError("no binary log rows")
    return BinlogFacts(files=files, total_mb=round(total, 1))
