"""Conditions a request puts on itself, judged against the estimate or the metrics.

"비용이 $100 이하면 노드 하나 추가해줘" is a change with a condition, not a cost
question: the condition is taken out of the words, the rest is planned as
usual, and then the condition is judged: a cost condition against the
change's monthly cost increase (tools/cost.py), a metric condition ("only if
CPU is above 70 %") against the component's metric averaged over the last
minutes (config/requests.yaml). A condition that holds lets the change go on
to its approvals; one that does not (or cannot be checked: no estimate, no
data) stops it, and the answer says why with the numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from agents.conversation.words import settings_of
from agents.planning.clarify import Language
from graphs.state import Condition, SpecChange
from tools.spec import SpecError, apply_changes

# Korean conditions end in a conditional ("…이하면", "…넘으면", "…로 늘어나면", "…일 때"); without one, "300 이상으로" is a value.
KO_COND = r"\s*(?:이면|으면|면|라면|이라면|일\s*때|인\s*경우|일\s*경우|(?:으로|로)\s*(?:늘어나|오르|증가하|올라가)면|(?:이|가)\s*되면)"
BELOW_KO = {"이하": "<=", "미만": "<", "아래": "<", "안쪽": "<=", "안 넘": "<=", "넘지 않": "<="}
ABOVE_KO = {"이상": ">=", "초과": ">", "넘": ">", "보다 높": ">", "보다 크": ">"}
KO_OPS = {**BELOW_KO, **ABOVE_KO}
EN_OPS = {"under": "<", "less than": "<", "below": "<", "at most": "<=", "no more than": "<=", "up to": "<=",
          "over": ">", "more than": ">", "above": ">", "greater than": ">", "higher than": ">", "at least": ">=",
          "lower than": "<"}
KO_OP_WORDS = "|".join(sorted(map(re.escape, KO_OPS), key=len, reverse=True))
EN_OP_WORDS = "|".join(sorted(map(re.escape, EN_OPS), key=len, reverse=True))
NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?)"
PER_MONTH = r"(?:\s*/\s*(?:month|mo|월)|\s*(?:a|per)\s*month)?"
MONEY = rf"\$?\s*{NUMBER}\s*(?:달러|불|usd|\$|dollars?)?{PER_MONTH}"
MONEY_MARKED = rf"(?:\$\s*{NUMBER}|{NUMBER}\s*(?:달러|불|usd|dollars?)){PER_MONTH}"
METRICS = {"cpu": "cpu", "씨피유": "cpu", "메모리": "memory", "memory": "memory", "mem": "memory", "연결 수": "connections",
           "연결수": "connections", "커넥션": "connections", "connections": "connections"}
METRIC_WORDS = "|".join(sorted(map(re.escape, METRICS), key=len, reverse=True))
COST_WORDS = r"(?:추가\s*)?(?:비용|요금|가격|금액|돈|청구액)"

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("cost", re.compile(rf"(?:월\s*)?{COST_WORDS}\s*(?:이|가|은|는)?\s*(?:월\s*)?{MONEY}\s*(?:로\s*)?(?P<op>{KO_OP_WORDS}){KO_COND}")),
    ("cost", re.compile(rf"(?:월\s*)?{MONEY_MARKED}\s*(?P<op>{KO_OP_WORDS}){KO_COND}")),
    ("cost", re.compile(rf"(?:only\s+)?(?:if|as long as|provided(?: that)?)\s+(?:it|that|this|the\s+(?:change|cost|increase|bill|added cost|extra cost))?"
                        rf"\s*(?:costs?|is|stays|comes to|adds|would cost|will cost|goes up by|increases by|would add|will add)?\s*"
                        rf"(?P<op>{EN_OP_WORDS})\s*{MONEY_MARKED}")),
    ("metric", re.compile(rf"(?P<metric>{METRIC_WORDS})\s*(?:사용률|사용량|사용율|usage|utili[sz]ation)?\s*(?:이|가|은|는)?\s*"
                          rf"{NUMBER}\s*(?:%|퍼센트)?\s*(?:를|을)?\s*(?P<op>{KO_OP_WORDS}){KO_COND}")),
    ("metric", re.compile(rf"(?:only\s+)?(?:if|when|as long as)\s+(?:the\s+)?(?:average\s+)?(?P<metric>{METRIC_WORDS})"
                          rf"(?:\s+(?:usage|utili[sz]ation|load))?\s+(?:is\s+|goes\s+|stays\s+|has been\s+)?(?P<op>{EN_OP_WORDS})\s+"
                          rf"{NUMBER}\s*(?:%|percent)?")),
]


@dataclass
class FoundCondition:
    condition: Condition
    rest: str  # the words without the condition


def find_condition(text: str) -> FoundCondition | None:
    """The first condition in the words, and the words without it; None when there is none."""
    lowered = text.lower()
    for subject, pattern in PATTERNS:
        m = pattern.search(lowered)
        if m is None:
            continue
        op_word = m.group("op")
        operator = KO_OPS.get(op_word) or EN_OPS.get(op_word) or ">="
        numbers = [g for i, g in enumerate(m.groups(), 1) if g and re.fullmatch(r"[0-9][0-9,]*(?:\.[0-9]+)?", g)
                   and pattern.groupindex.get("op") != i]
        if not numbers:
            continue
        threshold = float(numbers[0].replace(",", ""))
        metric = METRICS.get(m.group("metric")) if subject == "metric" else None
        rest = (text[:m.start()] + " " + text[m.end():]).strip(" ,.;")
        rest = re.sub(r"^(?:then|그러면|그럼)\s+", "", rest).strip()
        return FoundCondition(Condition(subject=subject, metric=metric, operator=operator, threshold=threshold,  # type: ignore[arg-type]
                                        words=text[m.start():m.end()].strip()), rest)
    return None


def holds(value: float, operator: str, threshold: float) -> bool:
    return {"<": value < threshold, "<=": value <= threshold, ">": value > threshold, ">=": value >= threshold}[operator]


def cost_delta(spec: dict[str, Any], changes: dict[str, Any]) -> float:
    """The change's monthly cost increase over every environment it touches (tools/cost.py)."""
    from tools.cost import estimate_change_cost

    after = apply_changes(spec, changes)
    envs = sorted({p.split(".")[1] for p in changes if p.startswith("environments.")})
    return round(sum(estimate_change_cost(spec, after, env).monthly_delta for env in envs), 2)


def metric_name(spec: dict[str, Any], changes: dict[str, Any], metric: str, config_dir: Any) -> tuple[str | None, str]:
    """The metric a condition reads for the first component the change touches, or (None, why not)."""
    settings = settings_of("requests", config_dir).get("conditions") or {}
    table = settings.get("metrics") or {}
    for path in changes:
        parts = path.split(".")
        if len(parts) < 4 or parts[0] != "environments":
            continue
        env, component = parts[1], parts[2]
        name = parts[3] if component == "ec2" else ""
        template = (table.get(component) or {}).get(metric)
        if template:
            return template.format(project=spec.get("project", ""), env=env, name=name), ""
        return None, f"config/requests.yaml names no {metric} metric for {component}"
    return None, "the change touches no component with metrics"


async def judge(condition: Condition, change: SpecChange, spec: dict[str, Any], world: Any, now: datetime,
                config_dir: Any, language: Language) -> Condition:
    """The condition with its verdict (met, observed, detail)."""
    if condition.subject == "cost":
        try:
            delta = cost_delta(spec, change.changes)
        except (SpecError, Exception) as exc:  # no price table: the condition cannot be checked
            return condition.model_copy(update={"met": None, "detail": f"the cost could not be estimated: {str(exc).splitlines()[0]}"})
        met = holds(delta, condition.operator, condition.threshold)
        detail = (f"이 변경으로 월 비용이 ${delta:,.2f} 늘어납니다 (조건: {condition.operator} ${condition.threshold:,.2f})" if language == "ko"
                  else f"this change adds ${delta:,.2f} a month (condition: {condition.operator} ${condition.threshold:,.2f})")
        return condition.model_copy(update={"met": met, "observed": delta, "detail": detail})
    name, why = metric_name(spec, change.changes, condition.metric or "cpu", config_dir)
    if name is None:
        return condition.model_copy(update={"met": None, "detail": why})
    settings = settings_of("requests", config_dir).get("conditions") or {}
    window = timedelta(minutes=float(settings.get("window_minutes", 15)))
    try:
        series = list(await world.read_metric(name))
    except Exception as exc:  # a provider error is never a yes
        return condition.model_copy(update={"met": None, "detail": f"{name} could not be read: {type(exc).__name__}"})
    points = []
    for moment, value in series:
        t = datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
        t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        if now - window <= t <= now:
            points.append(float(value))
    if not points:
        return condition.model_copy(update={"met": None, "detail": f"no points of {name} in the {window.total_seconds() / 60:g} minutes "
                                                                  f"before {now:%Y-%m-%d %H:%M} UTC"})
    average = sum(points) / len(points)
    met = holds(average, condition.operator, condition.threshold)
    detail = (f"{name} 최근 {window.total_seconds() / 60:g}분 평균 {average:.1f} ({len(points)}개 지점; 조건 {condition.operator} {condition.threshold:g})"
              if language == "ko" else
              f"{name} averaged {average:.1f} over the last {window.total_seconds() / 60:g} minutes ({len(points)} points; "
              f"condition {condition.operator} {condition.threshold:g})")
    return condition.model_copy(update={"met": met, "observed": round(average, 2), "detail": detail})


def not_done(change: SpecChange, condition: Condition, language: Language) -> SpecChange:
    """The change withheld: the condition did not hold (or could not be checked); the would-be change is kept in `parts`."""
    if condition.met is False:
        answer = (f"조건이 맞지 않아 변경하지 않았습니다: {condition.detail}." if language == "ko"
                  else f"Not done: the condition does not hold: {condition.detail}.")
    else:
        answer = (f"조건을 확인할 수 없어 변경하지 않았습니다: {condition.detail}." if language == "ko"
                  else f"Not done: the condition could not be checked: {condition.detail}.")
    from graphs.state import ChangePart

    parts = change.parts or [ChangePart(words="(the change, withheld)", changes=dict(change.changes))]
    return change.model_copy(update={"changes": {}, "answer": answer, "condition": condition, "parts": parts,
                                     "rationale": f"withheld by its condition: {condition.words}"})


__all__ = ["FoundCondition", "cost_delta", "find_condition", "holds", "judge", "metric_name", "not_done"]
