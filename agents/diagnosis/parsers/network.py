"""ss, netstat, dig, resolv.conf, curl and ping: sockets, names and reachability."""

from __future__ import annotations

import re
from collections import Counter

from pydantic import BaseModel

from agents.diagnosis.parsers.base import ClientError, Facts, ParserError, nonblank_lines, to_float, to_int


class SocketSummaryFacts(Facts):
    parser: str = "ss_summary"
    total: int | None = None
    tcp_total: int
    estab: int | None = None
    closed: int | None = None
    orphaned: int | None = None
    timewait: int | None = None
    synrecv: int | None = None

    def summary(self) -> str:
        return f"ss -s: {self.tcp_total} TCP sockets (estab {self.estab}, timewait {self.timewait}, orphaned {self.orphaned})"


def parse_ss_summary(text: str, *, command: str = "", stderr: str = "") -> SocketSummaryFacts:
    m = re.search(r"^TCP:\s+(\d+)\s*\(([^)]*)\)", text or "", re.M)
    if not m:
        raise ParserError("no `TCP: N (estab ...)` line")
    fields = {k: int(v) for k, v in re.findall(r"(estab|closed|orphaned|timewait|synrecv)\s+(\d+)", m.group(2))}
    total = re.search(r"^Total:\s+(\d+)", text, re.M)
    return SocketSummaryFacts(total=int(total.group(1)) if total else None, tcp_total=int(m.group(1)), **fields)


STATE_NAMES = {
    "ESTABLISHED": "ESTAB", "ESTAB": "ESTAB", "CLOSE_WAIT": "CLOSE-WAIT", "CLOSE-WAIT": "CLOSE-WAIT",
    "TIME_WAIT": "TIME-WAIT", "TIME-WAIT": "TIME-WAIT", "LISTEN": "LISTEN", "UNCONN": "UNCONN",
    "SYN_SENT": "SYN-SENT", "SYN-SENT": "SYN-SENT", "SYN_RECV": "SYN-RECV", "SYN-RECV": "SYN-RECV",
    "FIN_WAIT1": "FIN-WAIT-1", "FIN-WAIT-1": "FIN-WAIT-1", "FIN_WAIT2": "FIN-WAIT-2", "FIN-WAIT-2": "FIN-WAIT-2",
    "LAST_ACK": "LAST-ACK", "LAST-ACK": "LAST-ACK", "CLOSING": "CLOSING", "CLOSE": "CLOSE", "CLOSED": "CLOSE",
}


class Count(BaseModel):
    key: str
    count: int


class SocketFacts(Facts):
    """`ss -tanp` / `netstat -tanp`: counts by state, by peer and by process."""

    parser: str = "ss"
    total: int
    by_state: dict[str, int]
    close_wait_by_process: list[Count] = []
    close_wait_by_peer: list[Count] = []
    estab_by_peer: list[Count] = []
    syn_sent_by_peer: list[Count] = []
    syn_sent_from: dict[str, str] = {}  # peer -> this host's address that tries it (for NACL and security-group checks)
    listening: list[str] = []
    listen_overflow: list[str] = []  # listening sockets whose accept queue is full (Recv-Q >= backlog)
    estab_top_peer_processes: int = 0  # distinct processes holding connections to the busiest peer
    max_recv_q: int = 0
    max_send_q: int = 0

    def count(self, state: str) -> int:
        return self.by_state.get(state, 0)

    def summary(self) -> str:
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.by_state.items(), key=lambda kv: -kv[1])[:5])
        out = f"{self.total} sockets ({states})"
        if self.close_wait_by_process:
            top = self.close_wait_by_process[0]
            out += f"; CLOSE-WAIT mostly held by {top.key} ({top.count})"
        return out


def _peer_service(address: str) -> str:
    """'10.0.2.10:3306' -> '10.0.2.10:3306'; '[::ffff:10.0.2.10]:3306' -> '10.0.2.10:3306'."""
    address = address.replace("[::ffff:", "").replace("]", "")
    return address


def _process(cell: str) -> str:
    m = re.search(r'\(\("([^"]+)",pid=(\d+)', cell)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    m = re.match(r"^(\d+)/(\S+)", cell)
    if m:
        return f"{m.group(2)}/{m.group(1)}"
    return cell.strip() or "-"


def parse_sockets(text: str, *, command: str = "", stderr: str = "") -> SocketFacts:
    lines = nonblank_lines(text)
    rows: list[tuple[str, int, int, str, str, str]] = []  # state, recv, send, local, peer, process
    filtered = re.search(r"\bstate\s+([a-z-]+)", command or "")
    fixed_state = STATE_NAMES.get(filtered.group(1).upper().replace("-", "_")) if filtered else None
    for line in lines:
        cells = line.split()
        if not cells or cells[0] in ("State", "Netid", "Proto", "Active", "Recv-Q"):
            continue
        if fixed_state and cells[0].isdigit() and len(cells) >= 4:  # `ss -tan state close-wait` prints no State column
            rows.append((fixed_state, to_int(cells[0]) or 0, to_int(cells[1]) or 0, cells[2], cells[3], _process(" ".join(cells[4:]))))
            continue
        if cells[0] in ("tcp", "tcp6", "udp", "udp6") and len(cells) >= 6:  # netstat -tanp
            state = STATE_NAMES.get(cells[5].upper(), "") if not cells[5][0].isdigit() else ""
            if not state:
                continue
            rows.append((state, to_int(cells[1]) or 0, to_int(cells[2]) or 0, cells[3], cells[4], _process(" ".join(cells[6:]))))
            continue
        if cells[0] in ("tcp", "udp") and len(cells) >= 6:  # ss -a with a Netid column
            cells = cells[1:]
        state = STATE_NAMES.get(cells[0].upper())
        if state is None or len(cells) < 5:
            continue
        rows.append((state, to_int(cells[1]) or 0, to_int(cells[2]) or 0, cells[3], cells[4], _process(" ".join(cells[5:]))))
    if not rows:
        raise ParserError("no socket rows (State Recv-Q Send-Q Local Peer)")
    by_state = Counter(r[0] for r in rows)
    cw = [r for r in rows if r[0] == "CLOSE-WAIT"]
    estab_peers = Counter(_peer_service(r[4]) for r in rows if r[0] == "ESTAB" and not r[3].endswith((":22",))).most_common(1)

    def top(counter: Counter, n: int = 5) -> list[Count]:
        return [Count(key=k, count=v) for k, v in counter.most_common(n)]

    syn_sent = top(Counter(_peer_service(r[4]) for r in rows if r[0] == "SYN-SENT"))
    syn_from = {_peer_service(r[4]): _peer_service(r[3]).rsplit(":", 1)[0] for r in rows if r[0] == "SYN-SENT"}

    return SocketFacts(
        total=len(rows), by_state=dict(by_state),
        close_wait_by_process=top(Counter(r[5] for r in cw)),
        close_wait_by_peer=top(Counter(_peer_service(r[4]) for r in cw)),
        estab_by_peer=top(Counter(_peer_service(r[4]) for r in rows if r[0] == "ESTAB")),
        syn_sent_by_peer=syn_sent, syn_sent_from={c.key: syn_from[c.key] for c in syn_sent},
        listening=sorted({r[3] for r in rows if r[0] == "LISTEN"})[:20],
        listen_overflow=sorted({r[3] for r in rows if r[0] == "LISTEN" and r[2] > 0 and r[1] >= r[2]})[:5],
        estab_top_peer_processes=len({r[5] for r in rows if r[0] == "ESTAB" and estab_peers and _peer_service(r[4]) == estab_peers[0][0]}),
        max_recv_q=max(r[1] for r in rows), max_send_q=max(r[2] for r in rows),
    )


class DnsFacts(Facts):
    parser: str = "dns"
    name: str = ""
    explicit_server: bool = False  # dig @server: not the resolver the host uses
    status: str = ""  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED, TIMEOUT
    answers: list[str] = []
    server: str = ""

    @property
    def failed(self) -> bool:
        return self.status in {"NXDOMAIN", "SERVFAIL", "REFUSED", "TIMEOUT"} or (self.status == "NOERROR" and not self.answers and bool(self.name))

    def summary(self) -> str:
        answers = ", ".join(self.answers[:3]) or "no answer"
        return f"DNS {self.name or 'lookup'}: {self.status or 'answered'} ({answers})" + (f" via {self.server}" if self.server else "")


def parse_dns(text: str, *, command: str = "", stderr: str = "") -> DnsFacts:
    """dig (full or +short), nslookup and host."""
    facts = _parse_dns(text, command=command, stderr=stderr)
    words = (command or "").split()
    positional = [w for w in words[1:] if not w.startswith(("-", "+"))]
    facts.explicit_server = any(w.startswith("@") for w in words) or (words[:1] == ["nslookup"] and len(positional) >= 2)
    return facts


def _parse_dns(text: str, *, command: str = "", stderr: str = "") -> DnsFacts:
    full = (text or "") + "\n" + (stderr or "")
    name = ""
    if command:
        words = [w for w in command.split()[1:] if not w.startswith(("+", "-", "@"))]
        name = words[0] if words else ""
    server = ""
    m = (re.search(r"^;; SERVER: ([^#\s]+)", full, re.M) or re.search(r"^Server:\s+(\S+)", full, re.M)
         or re.search(r"(?:communications error|connection timed out)[^\n]*? to ([0-9a-fA-F.:]+)#\d+", full))
    if m:
        server = m.group(1)
    asked = next((w[1:] for w in (command or "").split() if w.startswith("@")), "")
    if asked and not server:
        server = asked
    if re.search(r"connection timed out|no servers could be reached|timed out", full, re.I):
        return DnsFacts(name=name, status="TIMEOUT", server=server)
    m = re.search(r"status: ([A-Z]+)", full)
    if m:
        answers = []
        section = re.search(r";; ANSWER SECTION:\n(.*?)(?:\n\n|\n;;|\Z)", full, re.S)
        if section:
            for line in section.group(1).splitlines():
                cells = line.split()
                if len(cells) >= 5:
                    answers.append(f"{cells[3]} {cells[4]}")
        return DnsFacts(name=name, status=m.group(1), answers=answers, server=server)
    m = re.search(r"server can't find \S+?:?\s+(NXDOMAIN|SERVFAIL|REFUSED)", full) or re.search(r"not found: \d+\((NXDOMAIN|SERVFAIL|REFUSED)\)", full)
    if m:
        return DnsFacts(name=name, status=m.group(1), server=server)
    addresses = re.findall(r"(?:Address:|has address|has IPv6 address)\s*(\S+)", full)
    addresses = [a for a in addresses if "#" not in a and a != server]
    if addresses:
        return DnsFacts(name=name, status="NOERROR", answers=addresses, server=server)
    short = [line.strip() for line in nonblank_lines(text) if re.fullmatch(r"[0-9a-fA-F:.]+|[A-Za-z0-9.-]+\.", line.strip())]
    if short and len(short) == len(nonblank_lines(text)):
        return DnsFacts(name=name, status="NOERROR", answers=short, server=server)
    if not (text or "").strip() and command and "+short" in command:
        return DnsFacts(name=name, status="NOERROR", answers=[], server=server)
    raise ParserError("not dig/nslookup/host output")


class ResolvConfFacts(Facts):
    parser: str = "resolv_conf"
    nameservers: list[str]
    search: list[str] = []
    options: list[str] = []

    def summary(self) -> str:
        return f"resolv.conf: nameservers {', '.join(self.nameservers) or 'none'}"


def parse_resolv_conf(text: str, *, command: str = "", stderr: str = "") -> ResolvConfFacts:
    nameservers, search, options = [], [], []
    seen = False
    for line in nonblank_lines(text):
        cells = line.split("#", 1)[0].split()
        if not cells:
            seen = seen or line.lstrip().startswith("#")
            continue
        key = cells[0]
        if key == "nameserver" and len(cells) > 1:
            nameservers.append(cells[1])
        elif key in ("search", "domain"):
            search += cells[1:]
        elif key == "options":
            options += cells[1:]
        else:
            raise ParserError(f"unexpected resolv.conf keyword {key[:20]!r}")
        seen = True
    if not seen:
        raise ParserError("empty resolv.conf")
    return ResolvConfFacts(nameservers=nameservers, search=search, options=options)


class HttpCheckFacts(Facts):
    parser: str = "curl"
    url: str = ""
    http_code: int | None = None
    time_total_s: float | None = None
    error: ClientError | None = None

    def summary(self) -> str:
        if self.error and self.error.message:
            return f"curl {self.url}: error {self.error.code} {self.error.message}"
        return f"curl {self.url}: HTTP {self.http_code} in {self.time_total_s if self.time_total_s is not None else '?'} s"


def parse_curl(text: str, *, command: str = "", stderr: str = "") -> HttpCheckFacts:
    url = next((w.strip("'\"") for w in (command or "").split() if w.strip("'\"").startswith(("http://", "https://"))), "")
    error = None
    m = re.search(r"curl: \((\d+)\)\s*(.+)", (stderr or "") + "\n" + (text or ""))
    if m:
        error = ClientError(code=m.group(1), message=m.group(2).strip()[:200])
    m2 = re.search(r"(?<![\d.])(\d{3})\s+(\d+(?:\.\d+)?)\s*$", (text or "").strip())
    code = time_total = None
    if m2:
        code, time_total = int(m2.group(1)), float(m2.group(2))
    else:
        m3 = re.search(r"^HTTP/[\d.]+\s+(\d{3})", text or "", re.M)
        if m3:
            code = int(m3.group(1))
    if code is None and error is None:
        raise ParserError("no `<http_code> <time_total>` and no curl error")
    return HttpCheckFacts(url=url, http_code=code, time_total_s=time_total, error=error)


class PingFacts(Facts):
    parser: str = "ping"
    target: str = ""
    transmitted: int
    received: int
    loss_pct: float
    rtt_avg_ms: float | None = None

    def summary(self) -> str:
        return f"ping {self.target}: {self.loss_pct:.0f}% loss ({self.received}/{self.transmitted})"


def parse_ping(text: str, *, command: str = "", stderr: str = "") -> PingFacts:
    m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received.*?(\d+(?:\.\d+)?)% packet loss", text or "")
    if not m:
        raise ParserError("no `packets transmitted` line")
    rtt = re.search(r"= [\d.]+/([\d.]+)/", text)
    target = re.search(r"^PING (\S+)", text, re.M)
    return PingFacts(target=target.group(1) if target else "", transmitted=int(m.group(1)), received=int(m.group(2)),
                     loss_pct=float(m.group(3)), rtt_avg_ms=to_float(rtt.group(1)) if rtt else None)
