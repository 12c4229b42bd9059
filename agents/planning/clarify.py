"""One clarifying question, in the asker's language, showing what the spec holds now.

A question that shows the current values ("dev 3, staging 2, prod 4") is
answered in one reply; a bare "which one?" costs a round trip more.
"""

from __future__ import annotations

import re
from typing import Any, Literal

Language = Literal["ko", "en"]

LABELS: dict[str, tuple[str, str]] = {
    "eks.node_count": ("EKS 노드 수", "EKS node count"),
    "eks.node_min": ("EKS 최소 노드 수", "EKS minimum node count"),
    "eks.node_max": ("EKS 최대 노드 수", "EKS maximum node count"),
    "eks.node_instance_type": ("EKS 노드 인스턴스 타입", "EKS node instance type"),
    "eks.node_disk_gb": ("EKS 노드 디스크(GB)", "EKS node disk (GB)"),
    "eks.version": ("EKS 버전", "EKS version"),
    "eks.enabled": ("EKS 클러스터", "the EKS cluster"),
    "rds.instance_class": ("RDS 인스턴스 클래스", "RDS instance class"),
    "rds.storage_gb": ("RDS 스토리지(GB)", "RDS storage (GB)"),
    "rds.max_storage_gb": ("RDS 최대 스토리지(GB)", "RDS max storage (GB)"),
    "rds.backup_retention_days": ("RDS 백업 보존 기간(일)", "RDS backup retention (days)"),
    "rds.multi_az": ("RDS Multi-AZ", "RDS Multi-AZ"),
    "rds.max_connections": ("RDS 최대 연결 수", "RDS max connections"),
    "rds.engine_version": ("RDS 엔진 버전", "RDS engine version"),
    "rds.enabled": ("RDS", "RDS"),
    "redis.enabled": ("Redis", "Redis"),
    "redis.node_type": ("Redis 노드 타입", "Redis node type"),
    "redis.nodes": ("Redis 노드 수", "Redis node count"),
    "redis.engine_version": ("Redis 엔진 버전", "Redis engine version"),
    "vpc.nat_gateways": ("NAT 게이트웨이 수", "NAT gateway count"),
    "vpc.azs": ("가용 영역 수", "availability zone count"),
    "vpc.cidr": ("VPC CIDR", "VPC CIDR"),
    "enabled": ("환경 전체", "the whole environment"),
}
EC2_LABELS = {
    "count": ("EC2 {name} 대수", "EC2 {name} count"),
    "instance_type": ("EC2 {name} 인스턴스 타입", "EC2 {name} instance type"),
    "volume_gb": ("EC2 {name} 볼륨(GB)", "EC2 {name} volume (GB)"),
    "enabled": ("EC2 {name}", "EC2 {name}"),
}
COMPONENT_LABELS = {"eks": ("EKS", "EKS"), "rds": ("RDS", "RDS"), "redis": ("Redis", "Redis"), "vpc": ("VPC", "VPC"),
                    "ec2": ("EC2", "EC2")}


def josa(word: str, pair: str) -> str:
    """The Korean particle that fits `word` ("노드 수" + 을/를 -> "을", "RDS" + 을/를 -> "를")."""
    with_final, without = pair.split("/")
    stem = re.sub(r"\s*\([^)]*\)\s*$", "", word).rstrip()
    last = next((ch for ch in reversed(stem) if ch.isalnum()), "")
    if "\uac00" <= last <= "\ud7a3":
        final = (ord(last) - 0xAC00) % 28
        has_final = final != 0 and not (pair == "으로/로" and final == 8)
    elif last.isdigit():
        has_final = last in "013678" and not (pair == "으로/로" and last in "178")
    elif last.isascii() and last.isalpha():
        has_final = last.lower() in "lmnr" and not (pair == "으로/로" and last.lower() in "lr")
    else:
        return f"{with_final}({without})"
    return with_final if has_final else without


def label(suffix: str, language: Language) -> str:
    """A person's name for a path below environments.<env> ("eks.node_count" -> "EKS 노드 수")."""
    index = 0 if language == "ko" else 1
    if suffix in LABELS:
        return LABELS[suffix][index]
    parts = suffix.split(".")
    if len(parts) == 3 and parts[0] == "ec2" and parts[2] in EC2_LABELS:
        return EC2_LABELS[parts[2]][index].format(name=parts[1])
    return suffix


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "-" if value is None else str(value)


def values_line(values: dict[str, Any], language: Language) -> str:
    """"dev 3, staging 2, prod 4" (the current values per environment)."""
    return ", ".join(f"{env} {show(v)}" for env, v in values.items())


def ask_environment(suffix: str, values: dict[str, Any], language: Language, verb: str = "change") -> str:
    what = label(suffix, language)
    if language == "ko":
        return f"어느 환경의 {what}{josa(what, '을/를')} 바꿀까요? 현재 {values_line(values, language)}입니다. (dev, staging, prod 중 하나를 말해 주세요)"
    return f"Which environment's {what} should I change? Now: {values_line(values, language)}. (say dev, staging or prod)"


def ask_environment_whole(kind: str, envs: list[str], language: Language) -> str:
    names = ", ".join(envs)
    if language == "ko":
        action = "삭제(destroy)할까요" if kind == "destroy" else "생성(create)할까요"
        return f"어느 환경을 {action}? ({names} 중 하나를 말해 주세요)"
    action = "destroy" if kind == "destroy" else "create"
    return f"Which environment should I {action}: {names}?"


def ask_component(attribute: str | None, options: dict[str, Any], language: Language) -> str:
    """What to change, when the words name no part of the spec ("사양 올려줘", "늘려줘")."""
    listed = ", ".join(f"{label(k, language)} ({show(v)})" for k, v in options.items())
    if language == "ko":
        if attribute == "type":
            return f"어느 구성 요소의 사양을 바꿀까요? 현재 {listed}."
        return f"무엇을 바꿀까요? 예: {listed}."
    if attribute == "type":
        return f"Which component's size should change? Now: {listed}."
    return f"What should I change? For example: {listed}."


def ask_amount(suffix: str, values: dict[str, Any], language: Language, bounds: str = "") -> str:
    what = label(suffix, language)
    now = values_line(values, language)
    if language == "ko":
        return f"{what}{josa(what, '을/를')} 얼마로 할까요? 현재 {now}{bounds}. (예: '3개로', '하나 더', '+2')"
    return f"What should the {what} be? Now: {now}{bounds}. (e.g. 'to 3', 'one more', '+2')"


def ask_value(suffix: str, values: dict[str, Any], suggestion: str | None, language: Language) -> str:
    what = label(suffix, language)
    now = values_line(values, language)
    if language == "ko":
        hint = f" (한 단계 위: {suggestion})" if suggestion else ""
        return f"{what}{josa(what, '을/를')} 무엇으로 바꿀까요? 현재 {now}{hint}."
    hint = f" (one size up: {suggestion})" if suggestion else ""
    return f"What should the {what} be? Now: {now}{hint}."


def ask_attribute(component: str, options: list[str], language: Language) -> str:
    name = COMPONENT_LABELS.get(component, (component, component))[0 if language == "ko" else 1]
    listed = ", ".join(label(o, language) for o in options)
    if language == "ko":
        return f"{name}의 무엇을 바꿀까요? ({listed} 중에서 말해 주세요)"
    return f"What about {name} should change: {listed}?"


def ask_ec2_name(names: list[str], language: Language) -> str:
    if language == "ko":
        return f"어느 EC2 인스턴스인가요? ({', '.join(names) or '스펙에 EC2 인스턴스가 없습니다'})"
    return f"Which EC2 instance: {', '.join(names) or 'the spec has none'}?"


def ask_type_owner(value: str, options: dict[str, Any], language: Language) -> str:
    listed = ", ".join(f"{label(k, language)} ({show(v)})" for k, v in options.items())
    if language == "ko":
        return f"{value}{josa(value, '은/는')} 어디에 적용할까요? 현재 {listed}."
    return f"Where should {value} apply? Now: {listed}."


def ask_direction(suffix: str, language: Language) -> str:
    what = label(suffix, language)
    if language == "ko":
        return f"{what}{josa(what, '을/를')} 올릴까요, 내릴까요?"
    return f"Should the {what} go up or down?"


def ask_valid_value(error: str, language: Language) -> str:
    if language == "ko":
        return f"그 값으로는 바꿀 수 없습니다: {error}. 어떤 값으로 할까요?"
    return f"That change is not possible: {error}. Which value do you want?"


def ask_anything(language: Language) -> str:
    if language == "ko":
        return ("무엇을 할까요? 예: '개발 EKS 노드 3개로', '운영 RDS를 db.r6g.xlarge로', '스테이징 레디스 켜줘', "
                "'운영 비용 얼마야?'")
    return ("What should I do? For example: 'dev EKS nodes to 3', 'prod RDS to db.r6g.xlarge', "
            "'enable redis in staging', 'how much does prod cost?'")
