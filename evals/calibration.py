"""How much a diagnosis's confidence can be trusted: calibration and the accuracy/abstention trade-off.

A confidence of 0.7 should be right about 70 % of the time. Over the scored
incidents, confidences are binned; each bin's mean confidence is set against
its accuracy (the reliability table), and the expected calibration error is
the count-weighted gap. The trade-off answers "if we answered only above a
confidence threshold, how many incidents would we answer and how many of
those answers would be right": an `unknown` is an abstention, never counted
as a wrong answer nor as a right one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from evals.scoring import ScenarioScore

BINS = 10
THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class ReliabilityBin(BaseModel):
    low: float
    high: float
    count: int
    confidence: float | None = None  # mean confidence in the bin
    accuracy: float | None = None


class TradeOff(BaseModel):
    threshold: float
    answered: int
    coverage: float  # answered / incidents
    accuracy: float | None  # right / answered
    right: int


class Calibration(BaseModel):
    incidents: int
    ece: float | None
    brier: float | None
    bins: list[ReliabilityBin]
    trade_off: list[TradeOff]
    abstained: int  # diagnoses that ended `unknown`
    abstained_rightly: int  # ... where `unknown` was an acceptable answer


def _pairs(scores: list["ScenarioScore"]) -> list[tuple[float, bool, bool]]:
    """(confidence, right, abstained) per scored incident with a confidence."""
    out = []
    for s in scores:
        root = s.key("root_cause")
        if s.kind != "incident" or root is None or s.confidence is None:
            continue
        out.append((max(0.0, min(1.0, s.confidence)), root.passed, s.predicted == "unknown"))
    return out


def calibrate(scores: list["ScenarioScore"], bins: int = BINS) -> Calibration:
    pairs = _pairs(scores)
    table: list[ReliabilityBin] = []
    for i in range(bins):
        low, high = i / bins, (i + 1) / bins
        inside = [(c, r) for c, r, _ in pairs if (low <= c < high) or (i == bins - 1 and c == 1.0)]
        table.append(ReliabilityBin(low=round(low, 2), high=round(high, 2), count=len(inside),
                                    confidence=round(sum(c for c, _ in inside) / len(inside), 4) if inside else None,
                                    accuracy=round(sum(r for _, r in inside) / len(inside), 4) if inside else None))
    n = len(pairs)
    ece = round(sum(b.count / n * abs((b.accuracy or 0) - (b.confidence or 0)) for b in table if b.count), 4) if n else None
    brier = round(sum((c - (1.0 if r else 0.0)) ** 2 for c, r, _ in pairs) / n, 4) if n else None
    trade = []
    for t in THRESHOLDS:
        answered = [(c, r) for c, r, abstained in pairs if not abstained and c >= t]
        right = sum(1 for _, r in answered if r)
        trade.append(TradeOff(threshold=t, answered=len(answered), coverage=round(len(answered) / n, 4) if n else 0.0,
                              accuracy=round(right / len(answered), 4) if answered else None, right=right))
    return Calibration(incidents=n, ece=ece, brier=brier, bins=table, trade_off=trade,
                       abstained=sum(1 for _, _, a in pairs if a), abstained_rightly=sum(1 for _, r, a in pairs if a and r))


def calibration_markdown(cal: Calibration) -> list[str]:
    """The reliability table and the trade-off, for the console and report.md."""
    if not cal.incidents:
        return []
    lines = ["", "## Calibration", "",
             f"Expected calibration error **{cal.ece:.3f}** · Brier score {cal.brier:.3f} · {cal.incidents} incidents · "
             f"{cal.abstained} abstained (`unknown`), {cal.abstained_rightly} of them rightly", "",
             "| confidence | incidents | mean confidence | accuracy | gap |", "|---|---|---|---|---|"]
    for b in cal.bins:
        if b.count:
            lines.append(f"| {b.low:.1f}–{b.high:.1f} | {b.count} | {b.confidence:.2f} | {b.accuracy:.0%} | {(b.accuracy or 0) - (b.confidence or 0):+.2f} |")
    lines += ["", "## Accuracy against abstention", "", "Answer only at or above a confidence threshold; `unknown` is always an abstention.", "",
              "| threshold | answered | coverage | accuracy of answers |", "|---|---|---|---|"]
    for row in cal.trade_off:
        lines.append(f"| ≥ {row.threshold:.1f} | {row.answered} | {row.coverage:.0%} | {'n/a' if row.accuracy is None else f'{row.accuracy:.0%}'} |")
    return lines
