"""The eval report as a page people look at: one self-contained HTML file, no script, no network.

Top to bottom: the summary figures, accuracy per root-cause category as
bars, the confusion matrix as a heat map, the calibration plot (and the
accuracy/abstention trade-off), then one drill-down per scenario (evidence
gathered, candidates with their scores, why the winner won, what failed).
Charts are inline SVG and CSS, so the file opens anywhere and prints.
Everything shown passed through redaction.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from tools.redact import redact

if TYPE_CHECKING:
    from evals.calibration import Calibration
    from evals.scoring import EvalSummary, ScenarioScore

PAGE_CSS = """
*{box-sizing:border-box}body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1200px;margin:0 auto;padding:1.5rem 1rem 3rem}h1{font-size:1.6rem;margin:.2rem 0 1rem}
h2{font-size:1.2rem;margin:2rem 0 .6rem}section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:1rem 1.2rem;margin:1rem 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.8rem}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:.8rem 1rem}.card .v{font-size:1.7rem;font-weight:700}
.card .k{color:#5b6473;font-size:.85rem}.good{color:#11703a}.warn{color:#a15c00}.bad{color:#b42318}
.bars{display:grid;grid-template-columns:minmax(160px,230px) 1fr 70px;gap:.3rem .6rem;align-items:center;font-size:.9rem}
.bar{background:#eef0f3;border-radius:4px;height:16px;overflow:hidden}.bar span{display:block;height:100%;background:#2f7d4f}
.bar span.mid{background:#d08a1a}.bar span.low{background:#c2412f}
table{border-collapse:collapse;font-size:.85rem;width:100%}th,td{border:1px solid #dde1e7;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}.heat{overflow-x:auto}.heat table{width:auto}.heat td{text-align:center;min-width:2.2rem}
.heat th.rot{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500;height:9.5rem}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:1rem}svg text{font-size:11px;fill:#3c4452}
details{border:1px solid #dde1e7;border-radius:6px;margin:.4rem 0;background:#fff}details>summary{cursor:pointer;padding:.45rem .7rem;list-style-position:inside}
details[open]>summary{border-bottom:1px solid #dde1e7}.drill{padding:.6rem .8rem}.badge{display:inline-block;border-radius:10px;padding:0 .5rem;font-size:.75rem;font-weight:700;color:#fff}
.badge.pass{background:#2f7d4f}.badge.fail{background:#c2412f}.badge.abstain{background:#6b7280}.muted{color:#5b6473}
.cand{display:grid;grid-template-columns:200px 1fr 60px;gap:.25rem .6rem;align-items:center;margin:.3rem 0}
code{background:#f2f4f7;border-radius:3px;padding:0 .2rem;overflow-wrap:anywhere}td,summary{overflow-wrap:anywhere}
.drill td:first-child,.drill td:nth-child(2),.drill td:nth-child(3){white-space:nowrap;width:1%}
"""


def _e(value: Any) -> str:
    return html.escape(redact(str(value)))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _tone(value: float | None, good: float = 0.9, fair: float = 0.7) -> str:
    if value is None:
        return ""
    return "good" if value >= good else "warn" if value >= fair else "bad"


def _cards(summary: "EvalSummary") -> str:
    cal = summary.calibration
    evidence = summary.keys.get("evidence") or {}
    route = summary.keys.get("route") or {}
    cards = [
        ("scenarios passed", f"{summary.passed}/{summary.scenarios}", _tone(summary.passed / summary.scenarios if summary.scenarios else None)),
        ("root cause top-1", _pct(summary.root_cause_top1), _tone(summary.root_cause_top1)),
        ("root cause top-3", _pct(summary.root_cause_top3), _tone(summary.root_cause_top3)),
        ("calibration error (ECE)", f"{cal.ece:.3f}" if cal and cal.ece is not None else "n/a",
         "" if not cal or cal.ece is None else "good" if cal.ece <= 0.1 else "warn" if cal.ece <= 0.2 else "bad"),
        ("evidence cited", f"{evidence.get('passed', 0)}/{evidence.get('total', 0)}" if evidence else "n/a",
         _tone(evidence["passed"] / evidence["total"] if evidence.get("total") else None)),
        ("route", f"{route.get('passed', 0)}/{route.get('total', 0)}" if route else "n/a",
         _tone(route["passed"] / route["total"] if route.get("total") else None, 0.95, 0.85)),
        ("forbidden actions executed", str(summary.forbidden_violations), "good" if summary.forbidden_violations == 0 else "bad"),
        ("tokens · cost", f"{summary.tokens} · ${summary.cost_usd:.2f}", ""),
    ]
    return "<div class=cards>" + "".join(
        f"<div class=card><div class='v {tone}'>{_e(v)}</div><div class=k>{_e(k)}</div></div>" for k, v, tone in cards) + "</div>"


def _category_bars(summary: "EvalSummary", scores: list["ScenarioScore"]) -> str:
    rows = []
    incidents = [s for s in scores if s.kind == "incident" and s.key("root_cause") is not None]
    per: dict[str, list[bool]] = {}
    for s in incidents:
        per.setdefault(s.category or "?", []).append(bool(s.key("root_cause").passed))
    for category, results in sorted(per.items(), key=lambda kv: (sum(kv[1]) / len(kv[1]), kv[0])):
        rate = sum(results) / len(results)
        tone = "" if rate >= 0.9 else "mid" if rate >= 0.6 else "low"
        rows.append(f"<div>{_e(category)}</div><div class=bar role=img aria-label='{_e(category)} {rate:.0%}'>"
                    f"<span class='{tone}' style='width:{rate * 100:.1f}%'></span></div><div>{sum(results)}/{len(results)}</div>")
    if not rows:
        return "<p class=muted>No incident scored a root cause.</p>"
    return "<div class=bars>" + "".join(rows) + "</div>"


def _heat_map(summary: "EvalSummary") -> str:
    if not summary.confusion:
        return "<p class=muted>No incidents.</p>"
    expected = sorted(summary.confusion)
    predicted = sorted({p for row in summary.confusion.values() for p in row} | set(expected))
    peak = max(n for row in summary.confusion.values() for n in row.values()) or 1
    head = "<tr><th>expected \\ predicted</th>" + "".join(f"<th class=rot>{_e(p)}</th>" for p in predicted) + "</tr>"
    body = []
    for cat in expected:
        cells = []
        for p in predicted:
            n = summary.confusion[cat].get(p, 0)
            if not n:
                cells.append("<td></td>")
                continue
            alpha = 0.18 + 0.82 * n / peak
            color = f"rgba(47,125,79,{alpha:.2f})" if p == cat else f"rgba(194,65,47,{alpha:.2f})"
            ink = "#fff" if alpha > 0.55 else "#1d2330"
            cells.append(f"<td style='background:{color};color:{ink}' title='{_e(cat)} → {_e(p)}: {n}'>{n}</td>")
        body.append(f"<tr><th>{_e(cat)}</th>{''.join(cells)}</tr>")
    return f"<div class=heat><table>{head}{''.join(body)}</table></div>"


def _calibration_plot(cal: "Calibration") -> str:
    """Reliability diagram: accuracy against mean confidence per bin (circle area ~ incidents); the diagonal is perfect."""
    size, pad = 300, 36
    span = size - 2 * pad

    def x(v: float) -> float:
        return pad + v * span

    def y(v: float) -> float:
        return size - pad - v * span

    parts = [f"<svg viewBox='0 0 {size} {size}' width='{size}' height='{size}' role=img aria-label='calibration plot' class=calplot>",
             f"<rect x='{pad}' y='{pad}' width='{span}' height='{span}' fill='#fafbfc' stroke='#dde1e7'/>",
             f"<line x1='{x(0)}' y1='{y(0)}' x2='{x(1)}' y2='{y(1)}' stroke='#9aa3af' stroke-dasharray='4 3'/>"]
    for t in (0.0, 0.5, 1.0):
        parts.append(f"<text x='{x(t) - 8:.0f}' y='{size - pad + 16}'>{t:.1f}</text><text x='6' y='{y(t) + 4:.0f}'>{t:.1f}</text>")
    parts.append(f"<text x='{size / 2 - 45:.0f}' y='{size - 4}'>mean confidence</text>")
    parts.append(f"<text x='10' y='{pad - 12}'>accuracy</text>")
    biggest = max((b.count for b in cal.bins), default=1) or 1
    points = [b for b in cal.bins if b.count and b.confidence is not None and b.accuracy is not None]
    if len(points) > 1:
        path = " ".join(f"{x(b.confidence):.1f},{y(b.accuracy):.1f}" for b in points)
        parts.append(f"<polyline points='{path}' fill='none' stroke='#2f6fb5' stroke-width='1.5'/>")
    for b in points:
        r = 3 + 9 * (b.count / biggest) ** 0.5
        parts.append(f"<circle cx='{x(b.confidence):.1f}' cy='{y(b.accuracy):.1f}' r='{r:.1f}' fill='rgba(47,111,181,.55)' stroke='#2f6fb5'>"
                     f"<title>{b.low:.1f}–{b.high:.1f}: {b.count} incidents, confidence {b.confidence:.2f}, accuracy {b.accuracy:.0%}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def _trade_off_plot(cal: "Calibration") -> str:
    """Accuracy of the answers given (line) and the share answered (bars) at each confidence threshold."""
    width, height, pad = 360, 300, 36
    rows = cal.trade_off
    step = (width - 2 * pad) / max(len(rows), 1)
    parts = [f"<svg viewBox='0 0 {width} {height}' width='{width}' height='{height}' role=img aria-label='accuracy against abstention'>",
             f"<rect x='{pad}' y='{pad}' width='{width - 2 * pad}' height='{height - 2 * pad}' fill='#fafbfc' stroke='#dde1e7'/>"]
    span = height - 2 * pad
    line = []
    for i, row in enumerate(rows):
        left = pad + i * step
        h = row.coverage * span
        parts.append(f"<rect x='{left + 3:.1f}' y='{height - pad - h:.1f}' width='{step - 6:.1f}' height='{h:.1f}' fill='rgba(47,125,79,.28)'>"
                     f"<title>≥{row.threshold:.1f}: {row.answered} answered ({row.coverage:.0%})</title></rect>")
        parts.append(f"<text x='{left + step / 2 - 9:.1f}' y='{height - pad + 14}'>{row.threshold:.1f}</text>")
        if row.accuracy is not None:
            line.append(f"{left + step / 2:.1f},{height - pad - row.accuracy * span:.1f}")
    if line:
        parts.append(f"<polyline points='{' '.join(line)}' fill='none' stroke='#b42318' stroke-width='2'/>")
    parts.append(f"<text x='{pad}' y='{pad - 12}'>red: accuracy of answers · green: share answered</text>")
    parts.append(f"<text x='{width / 2 - 50:.0f}' y='{height - 4}'>confidence threshold</text></svg>")
    return "".join(parts)


def _reliability_table(cal: "Calibration") -> str:
    rows = "".join(f"<tr><td>{b.low:.1f}–{b.high:.1f}</td><td>{b.count}</td><td>{b.confidence:.2f}</td><td>{_pct(b.accuracy)}</td></tr>"
                   for b in cal.bins if b.count)
    return f"<table><tr><th>confidence</th><th>incidents</th><th>mean confidence</th><th>accuracy</th></tr>{rows}</table>"


def _drill(s: "ScenarioScore") -> str:
    root = s.key("root_cause")
    abstained = s.predicted == "unknown" and (s.category or "") != "unknown"
    badge = "<span class='badge pass'>pass</span>" if s.passed else "<span class='badge fail'>fail</span>"
    if abstained:
        badge += " <span class='badge abstain'>abstained</span>"
    head = f"{badge} <b>{_e(s.scenario_id)}</b> · {_e(s.title)}"
    if root is not None:
        head += f" · expected <code>{_e(', '.join(s.expected))}</code>, got <code>{_e(s.predicted)}</code>"
        if s.confidence is not None:
            head += f" ({s.confidence:.0%})"
    elif s.predicted:
        head += f" · {_e(s.predicted)}"
    body = []
    failed = [k for k in s.keys if not k.passed and k.key != "root_cause_top3"]
    if s.error:
        body.append(f"<p class=bad>{_e(s.error)}</p>")
    if failed:
        body.append("<p><b>What failed:</b> " + "; ".join(f"{_e(k.key)}: {_e(k.detail)}" for k in failed) + "</p>")
    d = s.drill
    if d is not None:
        body.append(f"<p><b>Route</b> {_e(' → '.join(d.route))} · <b>fix</b> {_e(d.fix)} · <b>status</b> {_e(d.status)}</p>")
        if d.summary:
            body.append(f"<p><b>Why the winner won:</b> {_e(d.summary)}</p>")
        if d.candidates:
            body.append("<div><b>Candidates</b>" + "".join(
                f"<div class=cand><div><code>{_e(c.category)}</code></div><div class=bar><span class='{'' if i == 0 else 'mid'}' "
                f"style='width:{c.confidence * 100:.1f}%'></span></div><div>{c.confidence:.2f}</div></div>"
                + (f"<div class=muted style='margin:-.2rem 0 .4rem 1rem'>{_e(c.reasoning[:300])}</div>" if c.reasoning and i else "")
                for i, c in enumerate(d.candidates)) + "</div>")
        if d.next_checks and s.predicted == "unknown":
            body.append("<p><b>Next reads:</b></p><ul>" + "".join(f"<li>{_e(n)}</li>" for n in d.next_checks) + "</ul>")
        if d.evidence:
            rows = "".join(f"<tr><td>{_e(e.id)}</td><td>{'✔' if e.cited else ''}</td><td>{'' if e.ok else '✘'}</td>"
                           f"<td><code>{_e(e.source)}</code></td><td>{_e(e.summary)}</td></tr>" for e in d.evidence)
            body.append(f"<details><summary>Evidence gathered ({len(d.evidence)})</summary><div class=drill><table>"
                        f"<tr><th>id</th><th>cited</th><th>failed</th><th>source</th><th>what it said</th></tr>{rows}</table></div></details>")
    return f"<details class=scenario id='s-{_e(s.scenario_id)}'><summary>{head}</summary><div class=drill>{''.join(body)}</div></details>"


def _extra_sections(memory: dict[str, Any] | None, model: dict[str, Any] | None) -> str:
    """The incident-memory and with/without-model sections, from the same lines the markdown report has."""
    from markdown_it import MarkdownIt

    from evals.report import extra_sections

    lines = extra_sections(memory, model)
    return f"<section id=extra>{MarkdownIt('commonmark', {'html': False}).enable('table').render(chr(10).join(lines))}</section>" if lines else ""


def render_eval_html(summary: "EvalSummary", scores: list["ScenarioScore"], diff: dict[str, Any] | None = None,
                     memory: dict[str, Any] | None = None, model: dict[str, Any] | None = None) -> str:
    cal = summary.calibration
    parts = ["<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width, initial-scale=1'>",
             f"<title>Cloud Doctor eval report</title><style>{PAGE_CSS}</style></head><body><main>",
             "<h1>Cloud Doctor eval report</h1>", f"<section id=summary>{_cards(summary)}</section>"]
    if diff:
        rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(b)}</td><td>{_e(n)}</td></tr>" for k, (b, n) in diff.items())
        parts.append(f"<section id=change><h2>Change from the previous run</h2><table><tr><th>metric</th><th>before</th><th>now</th></tr>{rows}</table></section>")
    parts.append(f"<section id=categories><h2>Root cause accuracy per category</h2>{_category_bars(summary, scores)}</section>")
    parts.append(f"<section id=confusion><h2>Confusion matrix (rows: expected, columns: predicted)</h2>{_heat_map(summary)}</section>")
    if cal is not None and cal.incidents:
        parts.append(f"<section id=calibration><h2>Calibration</h2><p>Expected calibration error <b>{cal.ece:.3f}</b> · Brier {cal.brier:.3f} · "
                     f"{cal.incidents} incidents · {cal.abstained} abstained (<code>unknown</code>), {cal.abstained_rightly} rightly</p>"
                     f"<div class=plots><div>{_calibration_plot(cal)}</div><div>{_trade_off_plot(cal)}</div><div>{_reliability_table(cal)}</div></div></section>")
    parts.append(_extra_sections(memory, model))
    keys = "".join(f"<tr><td>{_e(k)}</td><td>{v['passed']}/{v['total']}</td><td>{_pct(v['passed'] / v['total'] if v['total'] else None)}</td></tr>"
                   for k, v in summary.keys.items())
    parts.append(f"<section id=keys><h2>Per key</h2><table><tr><th>key</th><th>passed</th><th>rate</th></tr>{keys}</table></section>")
    ordered = sorted(scores, key=lambda s: (s.passed, s.kind != "incident", s.scenario_id))
    parts.append(f"<section id=scenarios><h2>Scenarios ({len(scores)}; failures first)</h2>{''.join(_drill(s) for s in ordered)}</section>")
    parts.append("</main></body></html>")
    return "".join(parts)
