"""Terraform errors, the request's own words, and similar past incidents.

Terraform output names its category outright. The alert's wording and past
incidents are hints: they may tip a close call but never carry a diagnosis
on their own (scoring requires direct evidence).
"""

from __future__ import annotations

import re

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.parsers.terraform import TerraformFacts

# (pattern over the alert name, summary, text and labels; category; hint weight). English and Korean.
HINTS: tuple[tuple[re.Pattern[str], str, float], ...] = tuple(
    (re.compile(p, re.I), c, w) for p, c, w in (
        (r"memory|\bmem\b|\boom|heap|\brss\b|메모리|힙", "memory_leak", 0.4),
        (r"memory|\bmem\b|\boom|swap|메모리|스왑", "memory_pressure", 0.4),
        (r"leak|누수", "memory_leak", 0.2),
        (r"\bcpu|load ?average|high ?load|부하|씨피유|cputhrottling", "cpu_saturation", 0.6),
        (r"disk ?(?:space|full|usage)|filesystem|no space|디스크|용량 부족", "disk_full", 0.6),
        (r"inode|아이노드", "inode_exhaustion", 1.0),
        (r"\biops\b|i/o|iowait|disk ?latency|\bebs\b|디스크 지연", "disk_io_bottleneck", 0.5),
        (r"connection|\bpool\b|too many connections|커넥션|연결", "db_connection_exhaustion", 0.4),
        (r"\bleak|close_wait|누수", "connection_leak", 0.3),
        (r"slow ?quer|long[- ]running|lock wait|deadlock|슬로우 ?쿼리|느린 쿼리", "db_slow_query", 0.7),
        (r"\b(?:db|database|rds|mysql|postgres)\b.*(?:down|unreachable|unavailable)|데이터베이스.*(?:다운|접속)", "db_unreachable", 0.5),
        (r"\bdns\b|resolv|nxdomain|name resolution|도메인", "dns_failure", 0.8),
        (r"unreachable|packet loss|no route|security group|\bnacl\b|네트워크", "network_unreachable", 0.5),
        (r"upstream|dependency|third[- ]party|5\d\d|bad gateway|외부 api|의존", "dependency_failure", 0.4),
        (r"timeout|hang|stuck|hung|타임아웃|멈춤|응답 없", "missing_timeout", 0.3),
        (r"crash|restart|crashloop|backoff|재시작|죽", "service_crashloop", 0.6),
        (r"config|setting|env(?:ironment)? var|설정", "config_error", 0.5),
        (r"deploy|release|rollout|version|배포|릴리스", "bad_deploy", 0.5),
        (r"certificate|\bcert\b|\bssl\b|\btls\b|x509|인증서", "certificate_expired", 0.9),
        (r"permission|access ?denied|unauthori[sz]ed|forbidden|\biam\b|권한", "permission_denied", 0.7),
        (r"(?<!cpu )(?<!cpu)throttl|rate ?limit|\b429\b|quota exceeded|too many requests|스로틀", "rate_limited", 0.8),  # CPU throttling is not a rate limit
        (r"pending|capacity|insufficient|unschedulable|no free ip|quota|노드 부족|용량", "capacity_exhausted", 0.6),
        (r"terraform.{0,40}(?:lock|잠금|락)|state lock|(?:lock|잠금|락).{0,40}terraform", "terraform_state_lock", 1.0),
        (r"terraform", "terraform_config_error", 0.3),
        (r"already exists|name conflict|이미 존재", "resource_name_conflict", 0.8),
    )
)


def analyze_terraform(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    for e, tf in view.facts(TerraformFacts):
        seen: dict[str, int] = {}
        for issue in tf.issues:
            if issue.category in ("unknown", ""):
                continue
            if issue.severity == "warning":
                out.append(Signal(category=issue.category, weight=0.3, evidence_id=e.id, reason=f"terraform warning: {issue.summary}"[:300]))
                continue
            seen[issue.category] = seen.get(issue.category, 0) + 1
            if seen[issue.category] > 1:
                continue
            reason = f"terraform: {issue.summary}"
            if issue.lock is not None and issue.lock.id and issue.lock.id not in reason:
                reason += f" (lock {issue.lock.id}, held by {issue.lock.who or 'unknown'} since {issue.lock.created or '?'})"
            out.append(Signal(category=issue.category, weight=3.0, evidence_id=e.id, reason=reason[:300]))
        for category, count in seen.items():
            if count > 1:
                out.append(Signal(category=category, weight=0.3, evidence_id=e.id, reason=f"{count} terraform errors of this kind"))
    return out


def analyze_hints(view: EvidenceView) -> list[Signal]:
    """The request's words as weak hints (indirect: they never carry a diagnosis alone)."""
    words = view.situation.words
    alert_eid = next((e.id for e in view.evidence if e.kind == "alert"), None)
    out = []
    for pattern, category, weight in HINTS:
        m = pattern.search(words)
        if m:
            shown = m.group(0) if len(m.group(0)) <= 40 else m.group(0)[:37] + "..."
            out.append(Signal(category=category, weight=weight, evidence_id=alert_eid, reason=f"the request mentions \"{shown}\"", direct=False))
    return out


def analyze_incidents(view: EvidenceView) -> list[Signal]:
    """Similar resolved incidents vote for their root cause, by similarity (indirect)."""
    out = []
    for e in view.evidence:
        if e.kind != "incident" or not e.facts:
            continue
        category = str(e.facts.get("root_cause") or "")
        score = float(e.facts.get("score") or 0.0)
        if category and category != "unknown" and score >= 0.3:
            out.append(Signal(category=category, weight=round(min(1.0, 0.9 * score), 3), evidence_id=e.id,
                              reason=f"a similar past incident ({e.source}, similarity {score:.2f}) was {category}", direct=False))
    return out
