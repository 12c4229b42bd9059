"""memory_leak vs memory_pressure.

A leak is one process far above its peers, named by the OOM killer, growing
over time, restarts that reset it. Pressure is high total use and swapping
with many processes and none runaway. The same high `free` numbers support
both, so they weigh little; what separates the two is the process table and
the kernel's choice of victim.
"""

from __future__ import annotations

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.metrics import MetricFacts
from agents.diagnosis.parsers.cpu import TopFacts
from agents.diagnosis.parsers.kernel import KernelFacts
from agents.diagnosis.parsers.memory import MemoryFacts, RedisInfoFacts, VmstatFacts
from agents.diagnosis.parsers.processes import Process, ProcessFacts
from agents.diagnosis.parsers.systemd import UnitFacts
from agents.diagnosis.timeline import GC_HEAP, GC_LIVE, growth

MEMORY_WORDS = ("mem", "rss", "heap", "memory")


def _live_set(stream) -> list[Signal]:
    """The heap left after garbage collection: flat near the heap's size is a working set that
    does not fit (pressure); rising from collection to collection is a leak."""
    live, heap = stream.facts.series.get(GC_LIVE, []), stream.facts.series.get(GC_HEAP, [])
    if len(live) < 3 or len(heap) != len(live):
        return []
    recent, size = live[-3:], heap[-1]
    share, ratio, _ = growth(live)
    if size > 0 and min(recent) >= 0.85 * size and max(recent) - min(recent) <= 0.1 * size:
        return [Signal(category="memory_pressure", weight=2.0 * stream.relevance, evidence_id=stream.evidence_id,
                       reason=f"after each collection {min(recent):.0f}-{max(recent):.0f} MB of a {size:.0f} MB heap stays live: "
                              "the working set does not fit, and it is not growing"),
                Signal(category="memory_leak", weight=-1.0 * stream.relevance, evidence_id=stream.evidence_id,
                       reason="the live heap after collection is flat: nothing accumulates")]
    if share >= 0.75 and ratio >= 1.5:
        return [Signal(category="memory_leak", weight=1.6 * stream.relevance, evidence_id=stream.evidence_id,
                       reason=f"the live heap after collection keeps growing ({live[0]:.0f} -> {max(live):.0f} MB)")]
    return []


def _runaway(ps: ProcessFacts, total_mb: float | None) -> tuple[Process | None, float]:
    """The process holding far more memory than the next one (ratio), if any."""
    if not ps.top_mem:
        return None, 0.0
    top = ps.top_mem[0]
    nxt = ps.top_mem[1] if len(ps.top_mem) > 1 else None
    ratio = top.rss_mb / nxt.rss_mb if nxt and nxt.rss_mb > 0 else (10.0 if top.rss_mb > 0 else 0.0)
    share = top.mem_pct or (100.0 * top.rss_mb / total_mb if total_mb else 0.0)
    if share >= 30 and ratio >= 3:
        return top, ratio
    return None, ratio


def _names_match(a: str, b: str) -> bool:
    a, b = a.lower()[:15], b.lower()[:15]
    return bool(a) and bool(b) and (a == b or a.startswith(b) or b.startswith(a))


def _ps_ids(view: EvidenceView) -> list[str]:
    return [e.id for e, _ in view.facts(ProcessFacts)]


def analyze_memory(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    frees = sorted(view.facts(MemoryFacts), key=lambda ef: -ef[1].used_pct)  # the most loaded host speaks for the incident
    free_e, free = frees[0] if frees else (None, None)
    top_e, top = view.first(TopFacts)
    total_mb = free.total_mb if free else (top.mem_total_mb if top else None)

    used_pct = swap_pct = None
    mem_eid = None
    if free is not None:
        used_pct, swap_pct, mem_eid = free.used_pct, (free.swap_used_pct if free.swap_total_mb > 0 else None), free_e.id
    elif top is not None and top.mem_total_mb:
        avail = top.mem_avail_mb if top.mem_avail_mb is not None else top.mem_total_mb - (top.mem_used_mb or 0)
        used_pct = 100.0 * (top.mem_total_mb - avail) / top.mem_total_mb
        swap_pct = 100.0 * (top.swap_used_mb or 0) / top.swap_total_mb if top.swap_total_mb else None
        mem_eid = top_e.id
    high_mem = used_pct is not None and used_pct >= 85
    swap_heavy = swap_pct is not None and swap_pct >= 50

    runaway = None
    ps_e = None
    for e, ps in view.facts(ProcessFacts):
        candidate, ratio = _runaway(ps, total_mb)
        if candidate is not None:
            runaway, ps_e = candidate, e
            share = candidate.mem_pct
            out.append(Signal(category="memory_leak", weight=2.0 + (0.5 if share >= 60 else 0.0), evidence_id=e.id,
                              reason=f"pid {candidate.pid} ({candidate.name}) holds {share:.0f}% of memory ({candidate.rss_mb:.0f} MB), {ratio:.0f}x the next process"))
            out.append(Signal(category="memory_pressure", weight=-0.5, evidence_id=e.id, reason="one runaway process, not a general shortage"))
            break
        group = ps.groups[0] if ps.groups else None
        if group and group.count >= 5 and group.mem_pct >= 45:
            out.append(Signal(category="memory_pressure", weight=1.3, evidence_id=e.id,
                              reason=f"{group.count} {group.name} processes together use {group.mem_pct:.0f}% of memory, none runaway"))
        elif ps.total_mem_pct >= 80 and ps.top_mem and ps.top_mem[0].mem_pct < 30:
            out.append(Signal(category="memory_pressure", weight=1.2, evidence_id=e.id,
                              reason=f"processes use {ps.total_mem_pct:.0f}% of memory between them, the largest only {ps.top_mem[0].mem_pct:.0f}%"))
        if ps.top_mem and ps.top_mem[0].mem_pct < 20 and ratio < 2:
            out.append(Signal(category="memory_leak", weight=-0.8, evidence_id=e.id,
                              reason=f"no process stands out (largest {ps.top_mem[0].name} {ps.top_mem[0].mem_pct:.0f}%)"))
        ps_e = ps_e or e
    if runaway is None and top is not None and top.processes:
        by_mem = sorted(top.processes, key=lambda p: -p.mem_pct)
        if by_mem[0].mem_pct >= 30 and (len(by_mem) < 2 or by_mem[0].mem_pct >= 3 * max(by_mem[1].mem_pct, 0.1)):
            out.append(Signal(category="memory_leak", weight=1.8, evidence_id=top_e.id,
                              reason=f"pid {by_mem[0].pid} ({by_mem[0].command}) holds {by_mem[0].mem_pct:.0f}% of memory"))
            runaway = Process(pid=by_mem[0].pid, name=by_mem[0].command[:15], mem_pct=by_mem[0].mem_pct, rss_mb=by_mem[0].res_mb)

    if high_mem:
        if runaway is not None:
            out.append(Signal(category="memory_leak", weight=0.6, evidence_id=mem_eid, reason=f"memory {used_pct:.0f}% in use"))
            out.append(Signal(category="memory_pressure", weight=0.3, evidence_id=mem_eid, reason=f"memory {used_pct:.0f}% in use"))
        elif ps_e is not None:
            out.append(Signal(category="memory_pressure", weight=1.5, evidence_id=mem_eid, reason=f"memory {used_pct:.0f}% in use with no runaway process"))
            biggest = next((ps.top_mem[0] for _, ps in view.facts(ProcessFacts) if ps.top_mem), None)
            if biggest is not None:
                out.append(Signal(category="memory_pressure", weight=0.7, evidence_id=ps_e.id,
                                  reason=f"no process stands out: the largest, {biggest.name}, holds only {biggest.mem_pct:.0f}%"))
        else:
            out.append(Signal(category="memory_pressure", weight=0.9, evidence_id=mem_eid, reason=f"memory {used_pct:.0f}% in use"))
            out.append(Signal(category="memory_leak", weight=0.5, evidence_id=mem_eid, reason=f"memory {used_pct:.0f}% in use"))
    elif used_pct is not None and used_pct < 60:
        for cat in ("memory_pressure", "memory_leak"):
            out.append(Signal(category=cat, weight=-0.7, evidence_id=mem_eid, reason=f"memory only {used_pct:.0f}% in use"))
    if swap_heavy:
        out.append(Signal(category="memory_pressure", weight=0.8 if runaway is None else 0.3, evidence_id=mem_eid, reason=f"swap {swap_pct:.0f}% used"))
    for e, vm in view.facts(VmstatFacts):
        if vm.si + vm.so >= 50:
            out.append(Signal(category="memory_pressure", weight=0.8, evidence_id=e.id, reason=f"swapping {vm.si:.0f}/{vm.so:.0f} pages/s in/out"))

    service_names = set(view.situation.names)
    have_ps = ps_e is not None
    for e, kernel in view.facts(KernelFacts):
        if not kernel.oom_kills:
            continue
        victims = sorted({k.name for k in kernel.oom_kills})
        cgroup = all(k.cgroup for k in kernel.oom_kills)
        if len(victims) >= 2:
            out.append(Signal(category="memory_pressure", weight=1.5, evidence_id=e.id, reason=f"the OOM killer killed several different processes: {', '.join(victims)}"))
            continue
        k = kernel.oom_kills[0]
        rss = f", {k.anon_rss_mb:.0f} MB resident" if k.anon_rss_mb else ""
        repeated = len({x.pid for x in kernel.oom_kills}) >= 2
        big = bool(k.anon_rss_mb and total_mb and k.anon_rss_mb >= 0.5 * total_mb)
        if runaway is not None and _names_match(k.name, runaway.name):
            out.append(Signal(category="memory_leak", weight=2.0, evidence_id=e.id, reason=f"the OOM killer killed {k.name} (pid {k.pid}{rss}), the same program that now holds the most memory"))
        elif big and repeated:  # gone now (ps cannot show it), but each run grew to most of the host before it was killed
            out.append(Signal(category="memory_leak", weight=2.2, evidence_id=e.id,
                              reason=f"the OOM killer killed {k.name} {len(kernel.oom_kills)} times, each time holding most of the host's memory{rss}: it grows until the host runs out"))
            # what the host holds now does not argue against a leaker that is dead: it was killed, its memory freed
            out = [s for s in out if not (s.category == "memory_leak" and s.weight < 0 and s.evidence_id in (mem_eid, *_ps_ids(view)))]
        elif have_ps and runaway is None:
            out.append(Signal(category="memory_leak", weight=0.6, evidence_id=e.id, reason=f"the OOM killer killed {k.name} (pid {k.pid}{rss})"))
            out.append(Signal(category="memory_pressure", weight=0.9, evidence_id=e.id, reason=f"the OOM killer killed {k.name} while no process stands out"))
        elif big or any(_names_match(k.name, s) for s in service_names):
            out.append(Signal(category="memory_leak", weight=1.5, evidence_id=e.id, reason=f"the OOM killer killed {k.name} (pid {k.pid}{rss})"))
        else:
            out.append(Signal(category="memory_leak", weight=0.8, evidence_id=e.id, reason=f"the OOM killer killed {k.name}"))
            out.append(Signal(category="memory_pressure", weight=0.8, evidence_id=e.id, reason=f"the OOM killer killed {k.name}"))
        if repeated and (runaway is not None or not have_ps):
            out.append(Signal(category="memory_leak", weight=0.7, evidence_id=e.id, reason=f"{k.name} was killed {len(kernel.oom_kills)} times: it grows back after each restart"))
        if cgroup and runaway is None:
            out.append(Signal(category="memory_pressure", weight=0.4, evidence_id=e.id, reason="kills hit a cgroup (container) memory limit"))

    for e, redis in view.facts(RedisInfoFacts):
        if redis.full:
            refuses = redis.policy == "noeviction"
            out.append(Signal(category="memory_pressure", weight=2.5 if refuses else 1.5, evidence_id=e.id, finding="redis_maxmemory",
                              reason=f"Redis holds {redis.used_memory / 2**30:.2f} GiB of its {redis.maxmemory / 2**30:.2f} GiB maxmemory"
                                     + (" with policy noeviction: writes are refused" if refuses else f", evicting ({redis.policy or 'policy unknown'})")))
        elif redis.oom_errors:
            out.append(Signal(category="memory_pressure", weight=1.5, evidence_id=e.id, finding="redis_maxmemory",
                              reason=f"Redis refused {redis.oom_errors} writes for want of memory (errorstat_OOM)"))
    for e, unit in view.facts(UnitFacts):
        if unit.memory_mb and total_mb and unit.memory_mb >= 0.5 * total_mb:
            out.append(Signal(category="memory_leak", weight=0.7, evidence_id=e.id,
                              reason=f"{unit.unit} uses {unit.memory_mb:.0f} MB of {total_mb:.0f} MB"))
        if unit.result == "oom-kill":
            out.append(Signal(category="memory_leak", weight=1.0, evidence_id=e.id, reason=f"{unit.unit} ended with result oom-kill"))

    for stream in view.logs():
        if stream.origin == "alert":
            continue
        out += _live_set(stream)
        for key, values in stream.facts.series.items():
            if key in (GC_LIVE, GC_HEAP) or not any(w in key for w in MEMORY_WORDS) or len(values) < 4:
                continue
            share, ratio, resets = growth(values)
            if share >= 0.75 and ratio >= 1.5:
                out.append(Signal(category="memory_leak", weight=1.6 * stream.relevance, evidence_id=stream.evidence_id,
                                  reason=f"{key} grows steadily in the log ({values[0]:g} -> {max(values):g})" + (f" and falls back only on restart ({resets}x)" if resets else "")))
                break
    for e, metric in view.facts(MetricFacts):
        name = metric.name.lower()
        if not any(w in name for w in MEMORY_WORDS):
            continue
        if metric.stepped and metric.growth >= 1.3:
            out.append(Signal(category="memory_pressure", weight=0.8, evidence_id=e.id,
                              reason=f"{metric.name} stepped up once ({metric.first:g} -> {metric.last:g}) and stayed: more work, not a slow leak"))
        elif metric.points >= 3 and metric.rising_fraction >= 0.7 and metric.growth >= 1.3:
            out.append(Signal(category="memory_leak", weight=1.5, evidence_id=e.id,
                              reason=f"{metric.name} grows steadily ({metric.first:g} -> {metric.last:g}, rising in {metric.rising_fraction:.0%} of steps)"))
        elif metric.points >= 3 and metric.growth < 1.1 and metric.max >= 85 and metric.max <= 100:
            out.append(Signal(category="memory_pressure", weight=0.6, evidence_id=e.id, reason=f"{metric.name} high and flat ({metric.last:g})"))
    return out
