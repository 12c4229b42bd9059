"""Relative asks against the spec's current values, constraints, and the one clarifying question.

Relative asks become absolute values here ("하나 더" on 3 nodes is 4, "두 배"
is 6, "한 단계 올려" on db.t3.medium is db.t3.large); every result is
validated by tools/spec.py, and the EKS bounds follow the count (asking for
5 nodes with node_max 4 also raises node_max to 5, and a note says so).
Which environment an operation applies to is decided here too (see
intents.py for the rule). Anything unclear raises `Unresolved` carrying one
question in the asker's language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from agents.planning import clarify
from agents.planning.interpret import EnvOp, Op
from agents.planning.rules import Reading
from graphs.state import AgentNote, SpecChange
from tools.spec import (
    SpecError, apply_changes, coerce_value, is_known_path, size_rank, size_step, value_at, version_step,
)

AGENT = "planner"


@dataclass
class RulesPlan:
    """The rules' answer: the change (or question, or answer), notes for the report, and why it asked."""

    change: SpecChange
    notes: list[AgentNote] = field(default_factory=list)
    ambiguity: str | None = None  # environment | component | amount | value | attribute | invalid | nothing
    reading: Reading | None = None


class Unresolved(Exception):
    """Raised inside resolution to turn into one clarifying question."""

    def __init__(self, question: str, ambiguity: str):
        super().__init__(question)
        self.question = question
        self.ambiguity = ambiguity


def note(text: str, level: str = "info") -> AgentNote:
    return AgentNote(agent=AGENT, text=text, level=level)  # type: ignore[arg-type]


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


class Resolver:
    def __init__(self, spec: dict[str, Any], reading: Reading, request_env: str, env_explicit: bool):
        self.spec = spec
        self.reading = reading
        self.language = reading.language
        self.request_env = request_env
        self.env_explicit = env_explicit
        self.spec_envs = list((spec.get("environments") or {}).keys()) or ["dev", "staging", "prod"]
        self.notes: list[AgentNote] = []
        self.sources: dict[str, str] = {}  # path -> the words (clause) that asked for it, for compound requests

    # ------------------------------------------------------------ helpers

    def current(self, env: str, suffix: str) -> Any:
        return value_at(self.spec, f"environments.{env}.{suffix}")

    def current_by_env(self, suffix: str, envs: list[str] | None = None) -> dict[str, Any]:
        out = {}
        for env in envs or self.spec_envs:
            try:
                out[env] = self.current(env, suffix)
            except SpecError:
                out[env] = None
        return out

    def ec2_names(self, env: str) -> list[str]:
        return sorted(((self.spec.get("environments") or {}).get(env) or {}).get("ec2") or {})

    def envs_for(self, op: Op | EnvOp, suffixes: list[str]) -> list[str]:
        if op.all_envs:
            return list(self.spec_envs)
        if op.envs:
            return list(op.envs)
        if self.env_explicit:
            return [self.request_env]
        if isinstance(op, EnvOp):
            raise Unresolved(clarify.ask_environment_whole(op.kind, self.spec_envs, self.language), "environment")
        if op.attribute == "enabled" and op.value is False and len(self.spec_envs) > 1:
            # removing a component is destructive: like a whole environment, never on a default
            suffix = suffixes[0] if suffixes else "enabled"
            raise Unresolved(clarify.ask_environment(suffix, self.current_by_env(suffix), self.language), "environment")
        for suffix in suffixes:
            values = self.current_by_env(suffix)
            if len({repr(v) for v in values.values()}) > 1:
                raise Unresolved(clarify.ask_environment(suffix, values, self.language), "environment")
        return [self.request_env]

    def _concrete_suffix(self, op: Op, env: str) -> str:
        target = op.target or ""
        if target.startswith("ec2.*."):
            names = self.ec2_names(env)
            if len(names) != 1:
                raise Unresolved(clarify.ask_ec2_name(names, self.language), "ec2_name")
            target = f"ec2.{names[0]}.{target.split('.', 2)[2]}"
        return target

    # ------------------------------------------------------------- values

    def new_value(self, op: Op, env: str, suffix: str) -> Any:
        path = f"environments.{env}.{suffix}"
        current = self.current(env, suffix)
        if op.kind == "copy":
            source = op.source_env or ""
            return self.current(source, suffix)
        if op.kind == "set":
            value = op.value
            if isinstance(value, str) and value.startswith("*."):
                size = value[2:]
                if not isinstance(current, str) or "." not in current:
                    raise Unresolved(clarify.ask_value(suffix, {env: current}, None, self.language), "value")
                value = f"{current.rpartition('.')[0]}.{size}"
            return coerce_value(path, value)
        if op.kind == "step" and suffix.endswith("version"):
            try:
                return version_step(current, int(op.value))
            except ValueError as exc:
                raise Unresolved(clarify.ask_valid_value(str(exc), self.language), "invalid") from None
        if op.kind == "step":
            if not isinstance(current, str):
                raise Unresolved(clarify.ask_value(suffix, {env: current}, None, self.language), "value")
            stepped = size_step(current, int(op.value))
            if stepped is None:
                edge = "largest" if int(op.value) > 0 else "smallest"
                raise Unresolved(clarify.ask_valid_value(f"{current} is already the {edge} size this planner knows", self.language), "invalid")
            return stepped
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            if isinstance(current, str) and op.kind in ("mul", "div"):
                steps = 1 if op.kind == "mul" else -1
                stepped = size_step(current, steps * max(1, round(math.log2(max(float(op.value), 1.0)))))
                if stepped:
                    return stepped
            raise Unresolved(clarify.ask_amount(suffix, {env: current}, self.language), "amount")
        number = float(op.value)
        if op.kind == "add":
            result = current + number
        elif op.kind == "sub":
            result = current - number
        elif op.kind == "mul":
            result = current * number
        elif op.kind == "div":
            result = current / number if number else current
        else:
            result = number
        return _round_half_up(result) if isinstance(current, int) else result

    # -------------------------------------------------------- constraints

    def fit_bounds(self, env: str, changes: dict[str, Any], explicit: set[str]) -> None:
        """Keep node_min <= node_count <= node_max (moving a bound the words did not set), NAT <= AZs, storage <= max."""
        p = f"environments.{env}."
        if any(k.startswith(p + "eks.") for k in changes):
            def now(key: str) -> Any:
                return changes.get(p + key, self.current(env, key))

            count, low, high = now("eks.node_count"), now("eks.node_min"), now("eks.node_max")
            if all(isinstance(v, int) and not isinstance(v, bool) for v in (count, low, high)):
                if count > high:
                    if p + "eks.node_max" in explicit:
                        raise Unresolved(self._bounds_question(env, count, low, high), "invalid")
                    changes[p + "eks.node_max"] = count
                    self.notes.append(note(f"{env}: node_max raised from {high} to {count} so node_count {count} fits"))
                if count < low:
                    if p + "eks.node_min" in explicit:
                        raise Unresolved(self._bounds_question(env, count, low, high), "invalid")
                    changes[p + "eks.node_min"] = count
                    self.notes.append(note(f"{env}: node_min lowered from {low} to {count} so node_count {count} fits"))
        if any(k.startswith(p + "rds.storage_gb") for k in changes):
            storage = changes[p + "rds.storage_gb"]
            ceiling = changes.get(p + "rds.max_storage_gb", self.current(env, "rds.max_storage_gb"))
            if isinstance(storage, int) and isinstance(ceiling, int) and ceiling and storage > ceiling:
                if p + "rds.max_storage_gb" in explicit:
                    raise Unresolved(clarify.ask_valid_value(f"storage_gb {storage} is above max_storage_gb {ceiling}", self.language), "invalid")
                changes[p + "rds.max_storage_gb"] = storage
                self.notes.append(note(f"{env}: max_storage_gb raised from {ceiling} to {storage} so storage_gb {storage} fits"))

    def _bounds_question(self, env: str, count: int, low: int, high: int) -> str:
        if self.language == "ko":
            return (f"{env}의 노드 수 {count}이(가) 범위(최소 {low}, 최대 {high})를 벗어납니다. "
                    f"노드 수도 함께 {max(low, min(count, high))}(으)로 맞출까요?")
        return (f"{env}: node_count {count} falls outside min {low} / max {high}. "
                f"Set node_count to {max(low, min(count, high))} as well?")

    # ---------------------------------------------------------- modify ops

    def changes_for(self, ops: list[Op]) -> dict[str, Any]:
        unclear = next((op for op in ops if op.unclear), None)
        if unclear is not None:
            raise Unresolved(*self.question_for(unclear))
        changes: dict[str, Any] = {}
        explicit: set[str] = set()
        touched: list[str] = []
        for op in ops:
            envs = self.envs_for(op, [self._concrete_suffix(op, e) for e in ([op.envs[0]] if op.envs else [self.request_env])])
            if op.kind == "copy":
                envs = [e for e in envs if e != op.source_env]
            for env in envs:
                suffix = self._concrete_suffix(op, env)
                if op.alternative and self.current(env, suffix) is True:
                    # "레디스 추가해줘" when Redis is already on: more of it, but how many?
                    alternative = Op(target=op.alternative, envs=[env], component=op.component, attribute="count",
                                     unclear="amount", clause=op.clause)
                    raise Unresolved(*self.question_for(alternative))
                path = f"environments.{env}.{suffix}"
                if not is_known_path(path):
                    raise Unresolved(clarify.ask_valid_value(f"{path} is not part of the spec", self.language), "invalid")
                value = self.new_value(op, env, suffix)
                changes[path] = value
                explicit.add(path)
                self.sources.setdefault(path, op.clause)
                if env not in touched:
                    touched.append(env)
                self._sanity_notes(op, env, suffix, value)
        for env in touched:
            self.fit_bounds(env, changes, explicit)
        try:
            apply_changes(self.spec, changes)
        except SpecError as exc:
            raise Unresolved(clarify.ask_valid_value(str(exc), self.language), "invalid") from None
        return changes

    def _sanity_notes(self, op: Op, env: str, suffix: str, value: Any) -> None:
        current = self.current(env, suffix)
        verbs = self._verbs(op)
        if suffix.endswith(("node_instance_type", "instance_class", "node_type", "instance_type")) and isinstance(current, str) and isinstance(value, str):
            before, after = size_rank(current), size_rank(value)
            if before is not None and after is not None and current.rpartition(".")[0] == value.rpartition(".")[0]:
                if "increase" in verbs and after < before:
                    self.notes.append(note(f"{env}: asked to size up, but {value} is smaller than the current {current}", "warning"))
                if "decrease" in verbs and "destroy" not in verbs and after > before:
                    self.notes.append(note(f"{env}: asked to size down, but {value} is larger than the current {current}", "warning"))
        if isinstance(current, int) and isinstance(value, int) and not isinstance(value, bool) and op.kind == "set":
            if "increase" in verbs and "decrease" not in verbs and value < current:
                self.notes.append(note(f"{env}: asked to increase {suffix}, but {value} is below the current {current}", "warning"))
            if "decrease" in verbs and "increase" not in verbs and "destroy" not in verbs and value > current:
                self.notes.append(note(f"{env}: asked to decrease {suffix}, but {value} is above the current {current}", "warning"))
        if suffix == "rds.storage_gb" and isinstance(current, int) and isinstance(value, int) and value < current:
            raise Unresolved(clarify.ask_valid_value(
                f"{env} RDS storage is {current} GB and AWS cannot shrink allocated storage in place "
                f"(only increases; a smaller disk means a new instance and a data migration)", self.language), "invalid")
        if suffix.startswith("redis.") and suffix != "redis.enabled" and not self.current(env, "redis.enabled"):
            self.notes.append(note(f"{env}: Redis is disabled (redis.enabled: false); this change takes effect when it is enabled"))

    def _verbs(self, op: Op) -> set[str]:
        for clause in self.reading.clauses:
            if clause.text == op.clause:
                return clause.verbs
        return set()

    # ----------------------------------------------------------- questions

    def question_for(self, op: Op) -> tuple[str, str]:
        lang = self.language
        env = op.envs[0] if op.envs else self.request_env
        envs = op.envs or ([self.request_env] if self.env_explicit else self.spec_envs)
        if op.unclear == "component":
            if op.attribute == "type":
                options = {s: self.current(env, s) for s in ("eks.node_instance_type", "rds.instance_class", "redis.node_type")}
                for name in self.ec2_names(env):
                    options[f"ec2.{name}.instance_type"] = self.current(env, f"ec2.{name}.instance_type")
            else:
                options = {s: self.current(env, s) for s in ("eks.node_count", "eks.node_instance_type", "rds.instance_class", "rds.storage_gb", "redis.enabled")}
            return clarify.ask_component(op.attribute, options, lang), "component"
        if op.unclear == "type_owner":
            options = {"eks.node_instance_type": self.current(env, "eks.node_instance_type")}
            for name in self.ec2_names(env):
                options[f"ec2.{name}.instance_type"] = self.current(env, f"ec2.{name}.instance_type")
            return clarify.ask_type_owner(str(op.value), options, lang), "component"
        suffix = op.target or ""
        if suffix.startswith("ec2.*."):
            names = self.ec2_names(env)
            if len(names) != 1:
                return clarify.ask_ec2_name(names, lang), "ec2_name"
            suffix = f"ec2.{names[0]}.{suffix.split('.', 2)[2]}"
        if op.unclear == "amount":
            values = self.current_by_env(suffix, envs) if suffix else {}
            bounds = ""
            if suffix == "eks.node_count" and len(envs) == 1:
                bounds = f" (min {self.current(env, 'eks.node_min')}, max {self.current(env, 'eks.node_max')})"
            return clarify.ask_amount(suffix, values, lang, bounds), "amount"
        if op.unclear == "value":
            values = self.current_by_env(suffix, envs) if suffix else {}
            current = values.get(env) if len(envs) == 1 else None
            suggestion = size_step(current, 1) if isinstance(current, str) and suffix.endswith(("type", "class")) else None
            return clarify.ask_value(suffix, values, suggestion, lang), "value"
        if op.unclear == "direction":
            return clarify.ask_direction(suffix, lang), "amount"
        component = op.component or "eks"
        options = {
            "eks": ["eks.node_count", "eks.node_instance_type", "eks.node_min", "eks.node_max", "eks.version"],
            "rds": ["rds.instance_class", "rds.storage_gb", "rds.backup_retention_days", "rds.multi_az", "rds.max_connections"],
            "redis": ["redis.enabled", "redis.node_type", "redis.nodes"],
            "vpc": ["vpc.nat_gateways", "vpc.azs"],
            "ec2": ["ec2.*.count", "ec2.*.instance_type"],
        }.get(component.split(":")[0], [])
        options = [o.replace("*", component.split(":", 1)[1]) if ":" in component else o for o in options]
        return clarify.ask_attribute(component.split(":")[0], options, lang), "attribute"
