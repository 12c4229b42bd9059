"""dns_failure, network_unreachable, dependency_failure, missing_timeout, certificate_expired from probes.

Probes answer directly: dig says NXDOMAIN or times out, ping loses every
packet, curl names its error (6 = name, 7 = refused, 28 = timeout, 35/60 =
TLS), openssl prints the expiry date. Logs (text.py) carry the rest.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.code_smells import CodeFacts
from agents.diagnosis.metrics import MetricFacts
from agents.diagnosis.parsers.network import DnsFacts, HttpCheckFacts, PingFacts, ResolvConfFacts, SocketFacts
from agents.diagnosis.parsers.systemd import UnitFacts
from agents.diagnosis.parsers.tls import TlsFacts
from agents.diagnosis.timeline import growth

LOCAL = ("localhost", "127.0.0.1", "[::1]")
PILING_WORDS = ("pending", "inflight", "in_flight", "queue", "waiting", "busy", "stuck")
# nginx: `connect() failed (111: Connection refused) while connecting to upstream, ... upstream: "http://127.0.0.1:8080/..."`
_LOCAL_UPSTREAM_REFUSED = re.compile(r"\(111: Connection refused\) while connecting to upstream.*?upstream: \"?[a-z]+://(?:127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})\b")


def analyze_network(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    now = view.situation.at or datetime.now(timezone.utc)
    failing_servers: set[str] = set()
    for e, dns in view.facts(DnsFacts):
        if dns.failed:
            out.append(Signal(category="dns_failure", weight=2.5, evidence_id=e.id, reason=f"{dns.name or 'the lookup'}: {dns.status or 'no answer'}" + (f" from {dns.server}" if dns.server else "")))
            if dns.status in ("TIMEOUT", "SERVFAIL", "REFUSED") and dns.server:
                failing_servers.add(dns.server)
        elif dns.answers and not dns.explicit_server:
            out.append(Signal(category="dns_failure", weight=-0.7, evidence_id=e.id, reason=f"{dns.name} resolves ({', '.join(dns.answers[:2])})"))
    for e, resolv in view.facts(ResolvConfFacts):
        if not resolv.nameservers:
            out.append(Signal(category="dns_failure", weight=1.5, evidence_id=e.id, reason="resolv.conf lists no nameserver"))
        dead = [ns for ns in resolv.nameservers if ns in failing_servers]
        if dead:
            out.append(Signal(category="dns_failure", weight=1.2, evidence_id=e.id,
                              reason=f"the resolver this host is configured to use ({', '.join(dead)}) does not answer"))
    for e, ping in view.facts(PingFacts):
        if ping.loss_pct >= 100:
            out.append(Signal(category="network_unreachable", weight=2.0, evidence_id=e.id, reason=f"{ping.target}: every packet lost"))
        elif ping.loss_pct >= 20:
            out.append(Signal(category="network_unreachable", weight=1.0, evidence_id=e.id, reason=f"{ping.target}: {ping.loss_pct:.0f}% packet loss"))
        elif ping.loss_pct == 0 and ping.received:
            out.append(Signal(category="network_unreachable", weight=-0.7, evidence_id=e.id, reason=f"{ping.target} answers ping"))
    for e, curl in view.facts(HttpCheckFacts):
        local = any(h in curl.url for h in LOCAL)
        code = curl.error.code if curl.error else ""
        if code == "6":
            out.append(Signal(category="dns_failure", weight=2.0, evidence_id=e.id, reason=f"curl {curl.url}: {curl.error.message}"))
        elif code in ("35", "51", "58", "60", "77", "83", "90", "91"):
            out.append(Signal(category="certificate_expired", weight=2.0, evidence_id=e.id, reason=f"curl {curl.url}: {curl.error.message}"))
        elif code == "28":
            out.append(Signal(category="network_unreachable", weight=0.8, evidence_id=e.id, reason=f"curl {curl.url} timed out"))
            out.append(Signal(category="dependency_failure", weight=0.6, evidence_id=e.id, reason=f"curl {curl.url} timed out"))
        elif code == "7" and not local:
            out.append(Signal(category="dependency_failure", weight=1.0, evidence_id=e.id, reason=f"curl {curl.url}: connection refused"))
        elif code == "7":
            out.append(Signal(category="service_crashloop", weight=0.6, evidence_id=e.id, reason=f"nothing listens at {curl.url}"))
        if curl.http_code:
            if curl.http_code in (502, 503, 504) and not local:
                out.append(Signal(category="dependency_failure", weight=1.2, evidence_id=e.id, reason=f"{curl.url} answers HTTP {curl.http_code}"))
            elif curl.http_code == 429:
                out.append(Signal(category="rate_limited", weight=1.5, evidence_id=e.id, reason=f"{curl.url} answers HTTP 429"))
            elif curl.http_code == 403:
                out.append(Signal(category="permission_denied", weight=0.8, evidence_id=e.id, reason=f"{curl.url} answers HTTP 403"))
            elif curl.http_code < 400 and (curl.time_total_s or 0) >= 5 and not local:
                out.append(Signal(category="dependency_failure", weight=0.5, evidence_id=e.id, reason=f"{curl.url} took {curl.time_total_s:.1f} s"))
                out.append(Signal(category="missing_timeout", weight=0.4, evidence_id=e.id, reason=f"{curl.url} took {curl.time_total_s:.1f} s to answer"))
    for e, tls in view.facts(TlsFacts):
        expired = tls.expired_at(now)
        if expired:
            c = expired[0]
            out.append(Signal(category="certificate_expired", weight=3.0, evidence_id=e.id,
                              reason=" ".join(x for x in ["certificate", c.name or c.subject, "expired", c.not_after.isoformat() if c.not_after else ""] if x)))
        elif tls.verify_code not in (None, 0) or tls.errors:
            out.append(Signal(category="certificate_expired", weight=2.5, evidence_id=e.id, reason=f"verification failed: {tls.verify_message or tls.errors[0]}"))
        elif tls.certificates and all(c.not_after and (c.not_after - now).days > 7 for c in tls.certificates):
            out.append(Signal(category="certificate_expired", weight=-1.0, evidence_id=e.id, reason="the certificate is valid for more than a week"))
    out += _local_upstream_not_listening(view)
    for e, code in view.facts(CodeFacts):
        hangs = [s for s in code.smells if s.kind == "missing_timeout"]
        if hangs:
            out.append(Signal(category="missing_timeout", weight=1.5, evidence_id=e.id, reason=f"{code.file}:{hangs[0].line}: {hangs[0].why}"))
    for stream in view.logs():
        if stream.origin == "alert":
            continue
        for key, values in stream.facts.series.items():
            if not any(w in key for w in PILING_WORDS) or len(values) < 3:
                continue
            share, ratio, _ = growth(values)
            if share >= 0.75 and ratio >= 2:
                out.append(Signal(category="missing_timeout", weight=1.3 * stream.relevance, evidence_id=stream.evidence_id,
                                  reason=f"{key} piles up in the log ({values[0]:g} -> {max(values):g}): calls that never return"))
                break
    for e, metric in view.facts(MetricFacts):
        name = metric.name.lower()
        if "throttl" in name or "429" in name:
            if metric.max > 0 and metric.rising_fraction >= 0.5:
                out.append(Signal(category="rate_limited", weight=1.0, evidence_id=e.id, reason=f"{metric.name} rises to {metric.last:g}"))
        if any(w in name for w in ("inflight", "in_flight", "pending", "queue", "active_requests", "busy_workers", "threads_busy")) and metric.rising_fraction >= 0.7 and metric.growth >= 2:
            out.append(Signal(category="missing_timeout", weight=1.0, evidence_id=e.id, reason=f"{metric.name} piles up ({metric.first:g} -> {metric.last:g})"))
    return out


def _local_upstream_not_listening(view: EvidenceView) -> list[Signal]:
    """A proxy refused by its local upstream while nothing on the host listens on that port: the application moved
    (another port, a unix socket) or the proxy points at the wrong place. A running unit makes it a mismatch of
    configuration, not a crash: the two sides disagree on where to meet."""
    refused: dict[str, str] = {}  # port -> evidence id of the proxy's log
    for stream in view.logs():
        if stream.origin == "alert":
            continue
        hit = stream.facts.hit("refused")
        m = _LOCAL_UPSTREAM_REFUSED.search(hit.sample) if hit is not None else None
        if m:
            refused.setdefault(m.group(1), stream.evidence_id)
    if not refused:
        return []
    running = [(e, u) for e, u in view.facts(UnitFacts) if u.active == "active" and u.sub == "running"]
    out: list[Signal] = []
    for e, sockets in view.facts(SocketFacts):
        if not sockets.listening:
            continue
        ports = {address.rsplit(":", 1)[-1] for address in sockets.listening}
        for port, log_id in refused.items():
            if port in ports:
                continue
            alive = next((u for h, u in running if h.host == e.host), None)
            why = f"the proxy's upstream port {port} is refused and nothing on {e.host or 'the host'} listens on it"
            if alive is not None:
                why += f" while {alive.unit} runs: the application listens elsewhere (another port or a unix socket)"
            out.append(Signal(category="config_error", weight=2.0 if alive is not None else 1.5, evidence_id=e.id, reason=why,
                              finding="upstream_moved"))
            out.append(Signal(category="config_error", weight=1.0, evidence_id=log_id, reason=f"connections to the local upstream port {port} are refused"))
            return out
    return out
