"""The same change in another environment, and one change per environment in order.

- "프로덕션 환경에 동일하게 배포해줘", "apply the same to prod": the paths the
  thread's last change set in its environment are copied to the target as a
  change of its own (with its own diff, cost and approvals). Copying a value
  can mean the opposite of what the source change did ("dev 노드 3 → 4" copied
  to prod, which has 6, would *remove* two nodes): then the planner asks
  whether to copy the value or repeat the step.
- "dev → staging → prod 순서로 배포": the change is planned for the first
  environment and copied to each next one; `stages` keeps the order, and the
  graph puts each environment's change to its approvers only after the one
  before it stayed healthy (graphs/stages.py).
"""

from __future__ import annotations

import re
from typing import Any

from agents.planning.clarify import Language, label, show
from agents.planning.lexicon import load_lexicon, matcher_for
from agents.planning.resolve import RulesPlan, note
from graphs.state import ChangePart, SpecChange
from tools.spec import SpecError, apply_changes, get_path, size_rank, size_step, value_at

ARROWS = re.compile(r"(→|->|=>|⇒|>|그\s*다음|다음에|then)")
CHOICE_VALUE = ("value", "같은 값", "값으로", "그대로", "copy", "same value", "값")
CHOICE_STEP = ("step", "만큼", "같은 만큼", "증가분", "delta", "same step", "by the same", "step")


def named_envs(text: str, config_dir: Any) -> list[str]:
    """Environments the words name, in the order they are named (repeats dropped)."""
    lex = load_lexicon(config_dir)
    out: list[str] = []
    for hit in matcher_for(config_dir, {}).scan(text.lower()):
        for env in hit.keys("env"):
            if env in lex.environments and env not in out:
                out.append(env)
        if hit.has("all_envs"):
            out += [e for e in lex.environments if e not in out]
    return out


def env_sequence(text: str, config_dir: Any, sequence_words: bool) -> list[str]:
    """"dev → staging → prod", "dev, staging, then prod 순서로": two or more environments in a named order."""
    envs = named_envs(text, config_dir)
    if len(envs) >= 2 and (ARROWS.search(text) or sequence_words):
        return envs
    return []


def source_environment(changes: dict[str, Any]) -> str | None:
    envs = {p.split(".")[1] for p in changes if p.startswith("environments.") and len(p.split(".")) > 2}
    return envs.pop() if len(envs) == 1 else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def copy_changes(spec: dict[str, Any], change: SpecChange, source: str, target: str, mode: str = "value"
                 ) -> tuple[dict[str, Any], list[str]]:
    """The source environment's changed paths for the target: (changes, paths where copying reverses the step)."""
    out: dict[str, Any] = {}
    reversed_paths: list[str] = []
    for path, value in change.changes.items():
        prefix = f"environments.{source}."
        if not path.startswith(prefix):
            continue
        suffix = path[len(prefix):]
        target_path = f"environments.{target}.{suffix}"
        current = value_at(spec, target_path)
        before = change.before.get(path) if change.before else None
        if mode == "step" and _is_number(value) and _is_number(before) and _is_number(current):
            out[target_path] = type(current)(current + (value - before))
            continue
        if mode == "step" and isinstance(value, str) and isinstance(before, str) and isinstance(current, str):
            b, a = size_rank(before), size_rank(value)
            stepped = size_step(current, a - b) if a is not None and b is not None else None
            if stepped:  # the same number of sizes, in the target's own family
                out[target_path] = stepped
                continue
        out[target_path] = value
        if _is_number(value) and _is_number(before) and _is_number(current) and current != value:
            step_up = value > before
            if (step_up and value < current) or (not step_up and value > current):
                reversed_paths.append(target_path)
        if isinstance(value, str) and isinstance(before, str) and isinstance(current, str):
            b, a, c = size_rank(before), size_rank(value), size_rank(current)
            if None not in (a, b, c) and ((a > b and a < c) or (a < b and a > c)):  # type: ignore[operator]
                reversed_paths.append(target_path)
    return out, reversed_paths


def fit_node_bounds(spec: dict[str, Any], changes: dict[str, Any]) -> list[str]:
    """A copied node count outside the target's bounds moves the bound with it (as the planner does for words)."""
    moved: list[str] = []
    for path, count in list(changes.items()):
        if not path.endswith(".eks.node_count") or not _is_number(count):
            continue
        block = path.rsplit(".", 1)[0]
        high = changes.get(f"{block}.node_max", value_at(spec, f"{block}.node_max"))
        low = changes.get(f"{block}.node_min", value_at(spec, f"{block}.node_min"))
        if _is_number(high) and count > high:
            changes[f"{block}.node_max"] = count
            moved.append(f"{block}.node_max {high} → {count}")
        if _is_number(low) and count < low:
            changes[f"{block}.node_min"] = count
            moved.append(f"{block}.node_min {low} → {count}")
    return moved


def wants_step(text: str) -> bool | None:
    lowered = text.lower()
    if any(w in lowered for w in CHOICE_STEP):
        return True
    if any(w in lowered for w in CHOICE_VALUE):
        return False
    return None


def _ask_mode(reversed_paths: list[str], copied: dict[str, Any], spec: dict[str, Any], change: SpecChange, source: str,
              language: Language) -> str:
    lines = []
    for path in reversed_paths:
        suffix = path.split(".", 2)[2]
        src = f"environments.{source}.{suffix}"
        lines.append(f"{label(suffix, language)}: {source} {show(change.before.get(src))} → {show(change.changes.get(src))}, "
                     f"{path.split('.')[1]} {show(value_at(spec, path))}")
    if language == "ko":
        return ("그대로 복사하면 반대 방향으로 바뀌는 값이 있습니다: " + "; ".join(lines)
                + ". 같은 값으로 맞출까요('같은 값'), 같은 만큼 바꿀까요('같은 만큼')?")
    return ("Copying would move some values the other way: " + "; ".join(lines)
            + ". Set the same value ('same value'), or change by the same step ('same step')?")


def promote(spec: dict[str, Any], change: SpecChange | None, targets: list[str], language: Language,
            replies: list[str], words: str) -> RulesPlan:
    """The last change copied to each target environment, as a change of its own (or the question it needs)."""
    if change is None or not change.changes:
        question = ("어떤 변경을 적용할까요? 이 스레드에는 아직 적용할 변경이 없습니다 (예: 'dev 노드 타입 t3.large로 바꾸고 prod에도 동일하게')."
                    if language == "ko" else "Which change should I apply? This thread has no change yet "
                    "(e.g. 'set dev node type to t3.large, then the same in prod').")
        return RulesPlan(SpecChange(intent="modify", task="promote", question=question, rationale="needs input: promotion source"),
                         [], "nothing")
    source = source_environment(change.changes)
    if source is None:
        question = ("이 변경은 여러 환경에 걸쳐 있어 어느 환경 것을 복사할지 모르겠습니다. 어느 환경에서 가져올까요?" if language == "ko"
                    else "The last change spans several environments: which environment's values should I copy?")
        return RulesPlan(SpecChange(intent="modify", task="promote", question=question, rationale="needs input: promotion source"),
                         [], "environment")
    targets = [t for t in targets if t != source]
    if not targets:
        envs = [e for e in (spec.get("environments") or {}) if e != source]
        question = (f"어느 환경에 같은 변경을 적용할까요? ({', '.join(envs)})" if language == "ko"
                    else f"Which environment should get the same change: {', '.join(envs)}?")
        return RulesPlan(SpecChange(intent="modify", task="promote", question=question, rationale="needs input: target"),
                         [], "environment")
    mode_choice = next((wants_step(r) for r in replies if wants_step(r) is not None), None)
    merged: dict[str, Any] = {}
    parts: list[ChangePart] = []
    notes = []
    for target in targets:
        copied, reversed_paths = copy_changes(spec, change, source, target, "step" if mode_choice else "value")
        if reversed_paths and mode_choice is None:
            return RulesPlan(SpecChange(intent="modify", task="promote", promoted_from=source, environment=target,  # type: ignore[arg-type]
                                        question=_ask_mode(reversed_paths, copied, spec, change, source, language),
                                        choices=["same value", "same step"], rationale="needs input: copy or step"),
                             [], "value")
        merged.update(copied)
        parts.append(ChangePart(words=f"{words} ({source} → {target})", changes=copied))
    effective = {p: v for p, v in merged.items() if get_path(spec, p, object()) != v}
    for moved in fit_node_bounds(spec, effective):
        notes.append(note(f"so the copied node count fits: {moved}"))
    if not effective:
        answer = (f"{', '.join(targets)}은(는) 이미 {source}와 같습니다: 바꿀 것이 없습니다." if language == "ko"
                  else f"{', '.join(targets)} already has these values: nothing to change.")
        return RulesPlan(SpecChange(intent="modify", task="promote", promoted_from=source, answer=answer, rationale="already so"),
                         [note(answer)], None)
    try:
        apply_changes(spec, effective)
    except SpecError as exc:
        question = (f"{', '.join(targets)}에 그대로는 적용할 수 없습니다: {exc}. 어떻게 할까요?" if language == "ko"
                    else f"This cannot be copied to {', '.join(targets)} as it is: {exc}. What should it be?")
        return RulesPlan(SpecChange(intent="modify", task="promote", question=question, rationale="needs input: invalid copy"),
                         [], "invalid")
    from agents.planning.intents import _environment_field, _rationale

    envs = list((spec.get("environments") or {}).keys())
    notes.append(note(f"promotion: the paths {source} changed, copied to {', '.join(targets)}"
                      + (" by the same step" if mode_choice else " by value")))
    return RulesPlan(SpecChange(intent="modify", task="promote", promoted_from=source,
                                environment=_environment_field(effective, envs, None), changes=effective,  # type: ignore[arg-type]
                                rationale=_rationale(effective, spec), parts=parts), notes, None)


def stage(spec: dict[str, Any], base: SpecChange, stages: list[str], language: Language, words: str) -> RulesPlan:
    """One change per environment in `stages` order: the base change (planned for the first) copied to each next."""
    source = source_environment(base.changes) or stages[0]
    merged: dict[str, Any] = {}
    parts: list[ChangePart] = []
    for env in stages:
        copied = dict(base.changes) if env == source else copy_changes(spec, base, source, env)[0]
        copied = {p: v for p, v in copied.items() if get_path(spec, p, object()) != v}
        fit_node_bounds(spec, copied)
        merged.update(copied)
        parts.append(ChangePart(words=f"{words} ({env})", changes=copied))
    try:
        apply_changes(spec, merged)
    except SpecError as exc:
        question = (f"모든 단계에 같은 변경을 적용할 수 없습니다: {exc}. 어떻게 할까요?" if language == "ko"
                    else f"The change cannot be applied the same way at every stage: {exc}. What should it be?")
        return RulesPlan(SpecChange(intent="modify", task="staged", stages=stages, question=question, rationale="needs input"),
                         [], "invalid")
    if not merged:
        answer = "모든 환경이 이미 그렇게 되어 있습니다." if language == "ko" else "Every environment already has these values."
        return RulesPlan(SpecChange(intent="modify", task="staged", stages=stages, answer=answer, rationale="already so"), [], None)
    from agents.planning.intents import _environment_field, _rationale

    delivered = [env for env, part in zip(stages, parts) if part.changes]
    environment = _environment_field(merged, list((spec.get("environments") or {}).keys()), None)
    return RulesPlan(SpecChange(intent="modify", task="staged", stages=delivered, environment=environment,  # type: ignore[arg-type]
                                changes=merged, rationale=_rationale(merged, spec), parts=parts),
                     [note(f"staged delivery: {' → '.join(delivered)}, one change per environment with a gate between")], None)


__all__ = ["copy_changes", "env_sequence", "named_envs", "promote", "source_environment", "stage", "wants_step"]
