"""Readable reports for replay and eval: Markdown, and a self-contained HTML page."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from markdown_it import MarkdownIt

from evals.calibration import calibration_markdown
from graphs.report import SKIPPED_CHECKS_PREFIX, skipped_checks_line
from tools.policy import describe_rules
from tools.redact import redact

if TYPE_CHECKING:
    from evals.scoring import EvalSummary, ScenarioScore
    from interfaces.replay import ReplayItem

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1d2330}
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.9rem}th,td{border:1px solid #d5d9e0;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}code,pre{background:#f6f8fa;border-radius:4px}pre{padding:.6rem;overflow:auto}details{margin:.4rem 0}
.ok{color:#11703a;font-weight:600}.bad{color:#b42318;font-weight:600}h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}
"""


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _what(item: "ReplayItem") -> str:
    o = item.outcome
    if o is None:
        return item.error or ""
    if o.diagnosis is not None:
        return f"{o.diagnosis.root_cause} ({o.diagnosis.confidence:.0%})"
    if o.spec_change is not None:
        sc = o.spec_change
        return sc.question or sc.answer or f"{sc.intent}: " + ", ".join(f"{k}={v}" for k, v in sc.changes.items())
    return o.headline


def replay_summary(items: list["ReplayItem"]) -> list[str]:
    """The figures a reader wants before the table: how many ran, how they ended, what was found and done."""
    outcomes = [i.outcome for i in items if i.outcome is not None]
    statuses: dict[str, int] = {}
    causes: dict[str, int] = {}
    for o in outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
        if o.diagnosis is not None:
            causes[o.diagnosis.root_cause] = causes.get(o.diagnosis.root_cause, 0) + 1
    executed = sum(1 for o in outcomes for a in o.actions if a.status == "executed")
    refused = sum(1 for o in outcomes for a in o.actions if a.status == "refused")
    waiting = sum(1 for o in outcomes if o.status in ("awaiting_approval", "blocked"))
    tokens = sum(u.input_tokens + u.output_tokens for o in outcomes for u in o.usage.values())
    cost = sum(u.cost_usd for o in outcomes for u in o.usage.values())
    errors = sum(1 for i in items if i.outcome is None)
    top = ", ".join(f"{c} {n}" for c, n in sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))[:6])
    return [f"**{len(outcomes)}/{len(items)} replayed** · {errors} error(s) · "
            + " · ".join(f"{status} {n}" for status, n in sorted(statuses.items(), key=lambda kv: -kv[1])),
            "",
            f"Diagnoses: {len(causes) and sum(causes.values())} ({top or 'none'}) · waiting for a person: {waiting} · "
            f"actions run {executed}, refused {refused} · tokens {tokens} · cost ${cost:.4f}"]


def render_replay_markdown(items: list["ReplayItem"], details: bool = True) -> str:
    skipped = skipped_checks_line([p for item in items if item.outcome for p in item.outcome.proposals])
    lines = ["# Replay report", "", *replay_summary(items), "", *([skipped, ""] if skipped else []),
             "| scenario | status | route | diagnosis / plan | proposals | approval | actions (run / refused) | tokens | cost | wall |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for item in items:
        o = item.outcome
        sid = item.scenario.id if item.scenario else item.path
        if o is None:
            lines.append(f"| {_cell(sid)} | **error** | | {_cell(item.error)} | | | | | | |")
            continue
        tokens = sum(u.input_tokens + u.output_tokens for u in o.usage.values())
        cost = sum(u.cost_usd for u in o.usage.values())
        executed = sum(1 for a in o.actions if a.status == "executed")
        refused = sum(1 for a in o.actions if a.status == "refused")
        approval = ""
        if o.approval_requests:
            r = o.approval_requests[-1]
            approval = "blocked" if r.blocked else (describe_rules(r.still_needed) if r.still_needed else ("approved" if o.decisions else "not required"))
        lines.append(f"| {_cell(sid)} | {o.status} | {' → '.join(o.route)} | {_cell(_what(item))} | "
                     f"{_cell(', '.join(p.kind + ': ' + p.title for p in o.proposals))} | {_cell(approval)} | {executed} / {refused} | "
                     f"{tokens} | ${cost:.4f} | {o.wall_s:.2f}s |")
    lines.append("")
    for item in items if details else []:
        if item.outcome is None or item.outcome.report is None:
            continue
        title = item.scenario.title if item.scenario else item.path
        report = "\n".join(line for line in item.outcome.report.markdown.split("\n") if not line.startswith(SKIPPED_CHECKS_PREFIX))
        lines += [f"## {item.scenario.id if item.scenario else item.path}: {title}", "", report, ""]  # skipped checks: said once, above
    return redact("\n".join(lines))


def extra_sections(memory: dict[str, Any] | None, model: dict[str, Any] | None) -> list[str]:
    """Markdown lines for the incident-memory runs and the with/without-model comparison, when there are any."""
    lines: list[str] = []
    if memory:
        lines += ["", "## Incident memory", "", "| run | root cause top-1 | top-3 | passed |", "|---|---|---|---|"]
        for name, row in memory.items():
            lines.append(f"| {name} | {_pct(row.get('root_cause_top1'))} | {_pct(row.get('root_cause_top3'))} | {row.get('passed')}/{row.get('scenarios')} |")
    if model:
        from evals.model_compare import render_model_section

        lines += render_model_section(model)
    return lines


def render_eval_markdown(summary: "EvalSummary", scores: list["ScenarioScore"], diff: dict[str, Any] | None,
                         memory: dict[str, Any] | None = None, model: dict[str, Any] | None = None) -> str:
    lines = ["# Eval report", "",
             f"**{summary.passed}/{summary.scenarios} scenarios passed** · root cause top-1 {_pct(summary.root_cause_top1)} · "
             f"top-3 {_pct(summary.root_cause_top3)} · forbidden actions executed: **{summary.forbidden_violations}** · "
             f"tokens {summary.tokens} · cost ${summary.cost_usd:.4f} · errors {summary.errors}", "",
             "## Per key", "", "| key | passed | total | rate |", "|---|---|---|---|"]
    for key, slot in summary.keys.items():
        lines.append(f"| {key} | {slot['passed']} | {slot['total']} | {_pct(slot['passed'] / slot['total'] if slot['total'] else None)} |")
    if diff:
        lines += ["", "## Change from the previous run", "", "| metric | before | now | change |", "|---|---|---|---|"]
        for name, (before, now) in diff.items():
            lines.append(f"| {name} | {_fmt(before)} | {_fmt(now)} | {_delta(before, now)} |")
    lines += extra_sections(memory, model)
    if summary.calibration is not None:
        lines += calibration_markdown(summary.calibration)
    lines += ["", "## Per category", "", "| category | passed | total |", "|---|---|---|"]
    for cat, slot in sorted(summary.per_category.items()):
        lines.append(f"| {cat} | {slot['passed']} | {slot['total']} |")
    if summary.confusion:
        predicted = sorted({p for row in summary.confusion.values() for p in row})
        lines += ["", "## Root-cause confusion (rows: expected, columns: predicted)", "",
                  "| expected | " + " | ".join(predicted) + " |", "|---|" + "---|" * len(predicted)]
        for cat in sorted(summary.confusion):
            row = summary.confusion[cat]
            lines.append(f"| {cat} | " + " | ".join(str(row.get(p, "")) for p in predicted) + " |")
    failed = [s for s in scores if not s.passed]
    if failed:
        lines += ["", "## Failures", ""]
        for s in failed:
            bad = [f"{k.key}: {k.detail}" for k in s.keys if not k.passed and k.key != "root_cause_top3"]
            lines.append(f"- **{s.scenario_id}** ({s.title}): " + ("; ".join(bad) or s.error or ""))
    return redact("\n".join(lines))


# A wide table fits a 1280-pixel window: fixed layout, long words broken, code wrapped instead of scrolled.
FIT_CSS = """
body{max-width:1240px}table{table-layout:fixed}td,th{overflow-wrap:anywhere;word-break:break-word}
pre{white-space:pre-wrap;overflow-wrap:anywhere}code{overflow-wrap:anywhere}img{max-width:100%}
"""


def to_html(markdown: str, title: str, extra_css: str = "") -> str:
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{CSS}{extra_css}</style></head><body>{body}</body></html>")


def render_replay_html(items: list["ReplayItem"]) -> str:
    return to_html(render_replay_markdown(items), "Cloud Doctor replay report", FIT_CSS)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _fmt(value: Any) -> str:
    return _pct(value) if isinstance(value, float) and value <= 1 else str(value)


def _delta(before: Any, now: Any) -> str:
    if isinstance(before, (int, float)) and isinstance(now, (int, float)):
        d = now - before
        return f"{d:+.1%}" if isinstance(now, float) and now <= 1 and isinstance(before, float) else f"{d:+g}"
    return ""
