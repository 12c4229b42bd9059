"""service_crashloop, config_error and bad_deploy from systemd units, nginx and timelines (pods: kube_pods.py).

A crash loop is a symptom as often as a cause: the analyzers that find the
reason (a config error, a bad release, an OOM) get credit for it in scoring.
bad_deploy needs the order of events: a version change, and errors that
begin after it where there were few before.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from statistics import median

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.metrics import MetricFacts
from agents.diagnosis.parsers.kernel import KernelFacts
from agents.diagnosis.parsers.systemd import ClockFacts, NginxTestFacts, UnitFacts
from agents.diagnosis.timeline import ErrorLine, Marker

CRASH_RESULTS = ("exit-code", "signal", "core-dump", "start-limit-hit", "watchdog", "timeout")


def analyze_runtime(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    for e, unit in view.facts(UnitFacts):
        if not unit.found:
            out.append(Signal(category="config_error", weight=0.8, evidence_id=e.id, reason=f"unit {unit.unit} does not exist on this host"))
            continue
        if unit.restart_counter >= 3:
            out.append(Signal(category="service_crashloop", weight=2.0, evidence_id=e.id, reason=f"{unit.unit} restarted {unit.restart_counter} times"))
        elif unit.result in CRASH_RESULTS or unit.sub == "auto-restart":
            out.append(Signal(category="service_crashloop", weight=1.3, evidence_id=e.id,
                              reason=f"{unit.unit} is {unit.active} ({unit.sub or unit.result}), last exit {unit.main_exit or unit.result}"))
        elif unit.active == "failed":
            out.append(Signal(category="service_crashloop", weight=0.8, evidence_id=e.id, reason=f"{unit.unit} failed"))
        elif unit.active == "active" and unit.sub == "running":
            out.append(Signal(category="service_crashloop", weight=-0.6, evidence_id=e.id, reason=f"{unit.unit} is running"))
    for e, clock in view.facts(ClockFacts):  # a clock left to drift: what judges tokens and signatures by time fails
        if clock.synchronized is False:
            out.append(Signal(category="config_error", weight=2.5 if clock.ntp_service in ("inactive", "n/a") else 1.8, evidence_id=e.id,
                              reason=f"the clock on {e.host or 'the host'} is not synchronized" + (f" (NTP service {clock.ntp_service})" if clock.ntp_service else ""),
                              finding="clock_unsynchronized"))
    for e, kernel in view.facts(KernelFacts):
        if kernel.segfaults:
            out.append(Signal(category="service_crashloop", weight=1.5, evidence_id=e.id,
                              reason=f"{len(kernel.segfaults)} segfault(s) in {', '.join(sorted(set(kernel.segfaults)))}"))
    for e, nginx in view.facts(NginxTestFacts):
        if not nginx.config_ok:
            out.append(Signal(category="config_error", weight=2.5, evidence_id=e.id, reason=f"nginx -t fails: {nginx.errors[0] if nginx.errors else 'test failed'}"))
        else:
            out.append(Signal(category="config_error", weight=-0.5, evidence_id=e.id, reason="nginx -t passes"))
    out += _change_timeline(view)
    return out


def _aware(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _change_timeline(view: EvidenceView) -> list[Signal]:
    """bad_deploy / config_error: errors that begin right after a version or configuration change."""
    out: list[Signal] = []
    streams = [s for s in view.logs() if s.origin in ("log", "journal", "unit", "kube")]
    all_errors: list[tuple[ErrorLine, str]] = [(err, s.evidence_id) for s in streams for err in s.facts.errors]
    best: tuple[float, Signal] | None = None
    for stream in streams:
        facts = stream.facts
        for marker in facts.markers:
            before, after, generic_after, gap = _around(marker, stream, all_errors)
            if after < 3 or before > after / 4:
                continue
            strength = 2.5 if generic_after >= 0.5 * after else 1.0
            if gap is not None and gap > timedelta(hours=2):
                strength *= 0.5
            if marker.kind == "deploy":
                what = f"version {marker.version}" if marker.version else "a deploy"
                category = "bad_deploy"
            else:
                what, category = "a configuration change", "config_error"
                strength = min(strength, 1.5)
            signal = Signal(category=category, weight=strength * stream.relevance, evidence_id=stream.evidence_id,
                            reason=f"{after} error(s) after {what} (\"{marker.text[:100]}\"), {before} before")
            if best is None or signal.weight > best[0]:
                best = (signal.weight, signal)
        for marker in facts.markers:  # no new errors, but requests got much slower right after a release
            if marker.kind != "deploy":
                continue
            before_ms = [ms for i, ms in facts.durations if i < marker.i]
            after_ms = [ms for i, ms in facts.durations if i > marker.i]
            if len(before_ms) >= 1 and len(after_ms) >= 2:
                b_med, a_med = median(before_ms), median(after_ms)
                if a_med >= 3 * b_med and a_med >= 200:
                    what = f"version {marker.version}" if marker.version else "a deploy"
                    signal = Signal(category="bad_deploy", weight=2.0 * stream.relevance, evidence_id=stream.evidence_id,
                                    reason=f"requests slowed from {b_med:.0f} ms to {a_med:.0f} ms (median) right after {what} (\"{marker.text[:80]}\")")
                    if best is None or signal.weight > best[0]:
                        best = (signal.weight, signal)
    if best is None:
        markers = [m for st in streams for m in st.facts.markers if m.kind == "deploy" and m.at is not None]
        for e, metric in view.facts(MetricFacts):
            if metric.jump_at is None:
                continue
            errors_metric = any(w in metric.name.lower() for w in ("error", "5xx", "fail"))
            jump = _aware(metric.jump_at)
            for m in markers:
                at = _aware(m.at)
                if at <= jump <= at + timedelta(hours=1):
                    out.append(Signal(category="bad_deploy", weight=1.8 if errors_metric else 1.2, evidence_id=e.id,
                                      reason=f"{metric.name} jumped at {jump.isoformat()}, {int((jump - at).total_seconds() // 60)} min after \"{m.text[:80]}\""))
                    return out
    if best is not None:
        out.append(best[1])
        _, sig = best
        if sig.category == "bad_deploy":
            for e, metric in view.facts(MetricFacts):
                if metric.jump_at is not None and any(w in metric.name.lower() for w in ("error", "5xx", "fail", "latency", "duration", "cpu", "queries", "qps")):
                    out.append(Signal(category="bad_deploy", weight=0.6, evidence_id=e.id, reason=f"{metric.name} jumped at {metric.jump_at.isoformat()}"))
                    break
    return out


def _around(marker: Marker, stream, all_errors) -> tuple[int, int, int, timedelta | None]:
    """Errors before and after a marker: by line order within its stream, by time across streams."""
    before = after = generic_after = 0
    first_after: datetime | None = None
    marker_at = _aware(marker.at)
    for err, eid in all_errors:
        if eid == stream.evidence_id:
            is_after = err.i > marker.i
        else:
            at = _aware(err.at)
            if marker_at is None or at is None:
                continue
            is_after = at >= marker_at
        if is_after:
            after += 1
            generic_after += 1 if err.generic else 0
            at = _aware(err.at)
            if at is not None and (first_after is None or at < first_after):
                first_after = at
        else:
            before += 1
    gap = (first_after - marker_at) if (first_after is not None and marker_at is not None) else None
    return before, after, generic_after, gap
