"""db_connection_exhaustion vs connection_leak vs db_slow_query vs db_unreachable.

All four show up as "the app cannot get a connection". What tells them apart:
exhaustion is connections at the limit with ordinary work; a leak is
connections that sit idle and are never given back (Sleep rows, idle in
transaction, CLOSE-WAIT sockets, counts that only grow, code that skips
release); slow queries are long-running or lock-waiting statements holding
the slots; unreachable is the client not getting through at all.
"""

from __future__ import annotations

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.code_smells import CodeFacts
from agents.diagnosis.metrics import MetricFacts
from agents.diagnosis.parsers.database import DbErrorFacts, DbSettingsFacts, PgActivityFacts, ProcesslistFacts
from agents.diagnosis.parsers.network import SocketFacts
from agents.diagnosis.timeline import growth

DB_PORTS = (":3306", ":5432", ":1433", ":1521", ":27017")
TRAFFIC_WORDS = ("rps", "qps", "request_rate", "requests", "traffic", "throughput", "req_per", "requestcount", "request_count")
CONNECTION_WORDS = ("connection", "conn", "threads_connected", "pool", "socket", "close_wait", "open_files", "fd")


def _max_connections(view: EvidenceView) -> tuple[float | None, str | None]:
    for e, settings in view.facts(DbSettingsFacts):
        value = settings.number("max_connections")
        if value:
            return value, e.id
    if view.situation.db_max_connections:
        return float(view.situation.db_max_connections), None
    return None, None


def analyze_database(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    max_conn, max_eid = _max_connections(view)
    for e, settings in view.facts(DbSettingsFacts):
        connected = settings.number("threads_connected")
        used = settings.number("max_used_connections")
        refused = settings.number("connection_errors_max_connections")
        if connected is not None and max_conn:
            ratio = connected / max_conn
            if ratio >= 0.95:
                out.append(Signal(category="db_connection_exhaustion", weight=2.5, evidence_id=e.id, reason=f"{connected:.0f} of {max_conn:.0f} connections in use"))
            elif ratio >= 0.85:
                out.append(Signal(category="db_connection_exhaustion", weight=1.5, evidence_id=e.id, reason=f"{connected:.0f} of {max_conn:.0f} connections in use"))
            elif ratio <= 0.5:
                out.append(Signal(category="db_connection_exhaustion", weight=-1.0, evidence_id=e.id, reason=f"only {connected:.0f} of {max_conn:.0f} connections in use"))
        elif used is not None and max_conn and used >= max_conn:
            out.append(Signal(category="db_connection_exhaustion", weight=1.2, evidence_id=e.id, reason=f"max_used_connections reached the limit {max_conn:.0f}"))
        if refused:
            out.append(Signal(category="db_connection_exhaustion", weight=1.5, evidence_id=e.id, reason=f"{refused:.0f} connections refused at max_connections"))
        slow = settings.number("slow_queries")
        if slow and slow >= 100:
            out.append(Signal(category="db_slow_query", weight=0.5, evidence_id=e.id, reason=f"{slow:.0f} slow queries counted"))

    for e, plist in view.facts(ProcesslistFacts):
        out += _sessions(e.id, plist.total, max_conn, plist.sleeping_long, plist.max_sleep_s, plist.long_running, plist.lock_waits, plist.active, "Sleep")
    for e, pg in view.facts(PgActivityFacts):
        open_tx = pg.idle_in_transaction and pg.max_idle_in_transaction_s >= 300
        if open_tx and pg.lock_waits:
            # the lock waiters are blocked by transactions someone opened and never finished: a leak, not slow SQL
            blocked = [s for s in pg.long_running if s.wait.lower() == "lock"]
            out.append(Signal(category="connection_leak", weight=1.2, evidence_id=e.id,
                              reason=f"{pg.lock_waits} session(s) wait on locks held by {pg.idle_in_transaction} transaction(s) left open up to {pg.max_idle_in_transaction_s:.0f} s"))
            long_running = [s for s in pg.long_running if s not in blocked]
            lock_waits = 0
        else:
            long_running, lock_waits = pg.long_running, pg.lock_waits
        out += _sessions(e.id, pg.total, max_conn, pg.idle_long, pg.max_idle_s, long_running, lock_waits, pg.active, "idle")
        if pg.idle_in_transaction >= 5 or (pg.total >= 10 and pg.idle_in_transaction >= 0.3 * pg.total):
            out.append(Signal(category="connection_leak", weight=1.8, evidence_id=e.id,
                              reason=f"{pg.idle_in_transaction} sessions idle in transaction (opened and never finished)"))
        elif pg.idle_in_transaction and pg.max_idle_in_transaction_s >= 300:
            out.append(Signal(category="connection_leak", weight=0.8, evidence_id=e.id, reason=f"a transaction idle for {pg.max_idle_in_transaction_s:.0f} s"))
        if pg.total and pg.idle >= 0.8 * pg.total and pg.total >= 20 and max_conn and pg.total >= 0.8 * max_conn:
            out.append(Signal(category="connection_leak", weight=1.2, evidence_id=e.id, reason=f"{pg.idle} of {pg.total} backends idle while near the limit"))

    for e, err in view.facts(DbErrorFacts):
        msg = err.message.lower()
        if err.code in ("1040", "1203") or "too many" in msg or "remaining connection slots" in msg:
            out.append(Signal(category="db_connection_exhaustion", weight=2.5, evidence_id=e.id, reason=f"the database refused the client: {err.message[:120]}"))
        elif err.code in ("2005",) or "unknown mysql server host" in msg or "could not translate host name" in msg or "name or service not known" in msg:
            out.append(Signal(category="dns_failure", weight=2.0, evidence_id=e.id, reason=f"the database host name does not resolve: {err.message[:120]}"))
        elif err.code in ("1045", "1044") or "access denied" in msg or "password authentication failed" in msg or "permission denied" in msg:
            out.append(Signal(category="permission_denied", weight=2.0, evidence_id=e.id, reason=f"the database refused the credentials: {err.message[:120]}"))
        elif err.code in ("2002", "2003", "2013") or "could not connect" in msg or "connection refused" in msg or "timed out" in msg or "failed" in msg:
            out.append(Signal(category="db_unreachable", weight=2.0, evidence_id=e.id, reason=f"the database cannot be reached: {err.message[:120]}"))

    for e, sockets in view.facts(SocketFacts):
        cw = sockets.count("CLOSE-WAIT")
        open_ = sum(v for k, v in sockets.by_state.items() if k not in ("LISTEN", "UNCONN"))
        peer = sockets.close_wait_by_peer[0].key if sockets.close_wait_by_peer else ""
        holder = sockets.close_wait_by_process[0].key if sockets.close_wait_by_process else ""
        where = f" to {peer}" if peer else ""
        who = f", held by {holder}" if holder and holder != "-" else ""
        if cw >= 50 or (cw >= 20 and cw >= 0.2 * open_):
            out.append(Signal(category="connection_leak", weight=2.2, evidence_id=e.id, reason=f"{cw} sockets in CLOSE-WAIT{where}{who}: the peer closed them, the process never did"))
        elif cw >= 8 and cw >= 0.2 * open_:
            out.append(Signal(category="connection_leak", weight=1.3, evidence_id=e.id, reason=f"{cw} sockets in CLOSE-WAIT{where}{who}"))
        syn = sockets.syn_sent_by_peer[0] if sockets.syn_sent_by_peer else None
        if syn and syn.count >= 2:  # SYN-SENT is normally too brief to see: unanswered SYNs mean packets are dropped
            weight = 1.5 if syn.count >= 5 else 1.2
            out.append(Signal(category="network_unreachable", weight=weight, evidence_id=e.id,
                              reason=f"{syn.count} connection attempts to {syn.key} stuck in SYN-SENT (no answer: dropped on the way)"))
            if any(syn.key.endswith(p) for p in DB_PORTS):
                out.append(Signal(category="db_unreachable", weight=0.8, evidence_id=e.id, reason=f"the database {syn.key} does not answer connection attempts"))
        est = next((p for p in sockets.estab_by_peer if not p.key.endswith(DB_PORTS)), None)
        if est and est.count >= 50 and cw < 8:
            out.append(Signal(category="missing_timeout", weight=0.8, evidence_id=e.id, reason=f"{est.count} connections held open to {est.key}"))
        elif est and sockets.listen_overflow and sockets.estab_top_peer_processes >= 3:
            out.append(Signal(category="missing_timeout", weight=1.2, evidence_id=e.id,
                              reason=f"the accept queue of {sockets.listen_overflow[0]} is full while {sockets.estab_top_peer_processes} workers each hold a connection to {est.key}: every worker waits on that call"))
        elif sockets.listen_overflow:
            out.append(Signal(category="missing_timeout", weight=0.6, evidence_id=e.id, reason=f"the accept queue of {sockets.listen_overflow[0]} is full: the workers take no new requests"))

    demand = [m for _, m in view.facts(MetricFacts) if any(w in m.name.lower() for w in TRAFFIC_WORDS)]
    traffic_rose = any(m.growth >= 1.5 for m in demand)
    traffic_flat = bool(demand) and all(0.8 <= m.growth < 1.2 for m in demand)
    for e, metric in view.facts(MetricFacts):
        name = metric.name.lower()
        if not any(w in name for w in CONNECTION_WORDS) or any(w in name for w in TRAFFIC_WORDS):
            continue
        if metric.points >= 3 and metric.rising_fraction >= 0.7 and metric.growth >= 1.5:
            if traffic_rose:
                out.append(Signal(category="db_connection_exhaustion", weight=1.0, evidence_id=e.id,
                                  reason=f"{metric.name} rises ({metric.first:g} -> {metric.last:g}) with the request rate: demand"))
            else:
                out.append(Signal(category="connection_leak", weight=1.8 if traffic_flat else 1.5, evidence_id=e.id,
                                  reason=f"{metric.name} only grows ({metric.first:g} -> {metric.last:g})" + (" at a flat request rate" if traffic_flat else ", never falls back")))
        if max_conn and metric.last >= 0.9 * max_conn and metric.max <= max_conn * 1.05:
            out.append(Signal(category="db_connection_exhaustion", weight=1.2, evidence_id=e.id, reason=f"{metric.name} at {metric.last:g} of {max_conn:.0f}"))

    for stream in view.logs():
        if stream.origin == "alert":
            continue
        for key, values in stream.facts.series.items():
            if not any(w in key for w in ("conn", "pool", "fd", "open_files", "socket")) or any(w in key for w in ("idle", "free", "max", "limit")) or len(values) < 4:
                continue
            share, ratio, resets = growth(values)
            if share >= 0.75 and ratio >= 1.5:
                category = "db_connection_exhaustion" if traffic_rose else "connection_leak"
                out.append(Signal(category=category, weight=1.3 * stream.relevance, evidence_id=stream.evidence_id,
                                  reason=f"{key} in the log only grows ({values[0]:g} -> {max(values):g})"))
                break
    for e, code in view.facts(CodeFacts):
        leaks = [s for s in code.smells if s.kind == "connection_leak"]
        if leaks:
            out.append(Signal(category="connection_leak", weight=1.5, evidence_id=e.id, reason=f"{code.file}:{leaks[0].line}: {leaks[0].why}"))
    return out


def _sessions(eid: str, total: int, max_conn: float | None, sleeping_long: int, max_sleep_s: float,
              long_running: list, lock_waits: int, active: int, idle_word: str) -> list[Signal]:
    out: list[Signal] = []
    if max_conn and total >= 0.9 * max_conn:
        out.append(Signal(category="db_connection_exhaustion", weight=2.0, evidence_id=eid, reason=f"{total} connections open, limit {max_conn:.0f}"))
    if sleeping_long >= 10 and sleeping_long >= 0.5 * max(total, 1):
        out.append(Signal(category="connection_leak", weight=2.0, evidence_id=eid,
                          reason=f"{sleeping_long} of {total} connections idle ({idle_word}) for over a minute, up to {max_sleep_s:.0f} s: opened and not given back"))
    elif sleeping_long >= 5 and max_sleep_s >= 600:
        out.append(Signal(category="connection_leak", weight=1.0, evidence_id=eid, reason=f"{sleeping_long} connections idle up to {max_sleep_s:.0f} s"))
    long_queries = [s for s in long_running if s.seconds >= 10]
    if len(long_queries) >= 3 or any(s.seconds >= 60 for s in long_queries):
        q = long_queries[0]
        out.append(Signal(category="db_slow_query", weight=2.2, evidence_id=eid,
                          reason=f"{len(long_queries)} queries running 10 s or more, longest {q.seconds:.0f} s ({q.state or 'running'}): {q.query[:100]}"))
    elif long_queries:
        q = long_queries[0]
        out.append(Signal(category="db_slow_query", weight=0.8, evidence_id=eid, reason=f"a query running {q.seconds:.0f} s: {q.query[:100]}"))
    if lock_waits >= 2:
        out.append(Signal(category="db_slow_query", weight=1.2, evidence_id=eid, reason=f"{lock_waits} sessions waiting on locks"))
    if total and not long_queries and not lock_waits and active and max_conn and total >= 0.9 * max_conn and sleeping_long < 0.3 * total:
        out.append(Signal(category="db_connection_exhaustion", weight=0.5, evidence_id=eid, reason="connections busy with short work: demand, not a leak or slow queries"))
    return out
