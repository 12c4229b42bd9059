"""Reading one clause into operations on the spec: which component, which attribute, which value.

A clause ("운영 DB 사양 한 단계 올려줘", "add two nodes to staging") has, after
text.py and the lexicon have read it, environments, components, attributes,
verbs, values and amounts. This module decides what they mean together:
an `Op` on a path below `environments.<env>.` ("eks.node_count", add 1), an
`EnvOp` (create or destroy whole environments), or an `Op` marked `unclear`
with what is missing ("component", "amount", "value", ...), so the planner
asks instead of guessing. It never looks at the spec's values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.planning.lexicon import Hit
from agents.planning.text import Amount, Value, particle_after

OpKind = Literal["set", "add", "sub", "mul", "div", "step", "copy"]
Unclear = Literal["component", "amount", "value", "attribute", "ec2_name", "direction", "type_owner"]

RDS_ONLY = ("multi_az", "single_az", "backup", "max_connections", "max_storage")
VPC_ONLY = ("nat", "azs", "cidr")
INCREASE_AFTER = re.compile(r"^[\s을를이가만씩]*$")
ADD_WORDS = re.compile(r"(추가|붙여|넣어|도입|\badd\b|\bintroduce\b)")
SAME_AS = re.compile(r"(같게|같이|똑같이|동일하게|처럼|맞춰|same as|match|like)")


@dataclass
class Op:
    """One change to one attribute, in every environment the clause names."""

    target: str | None  # path below environments.<env>, e.g. "eks.node_count"
    kind: OpKind = "set"
    value: Any = None
    envs: list[str] = field(default_factory=list)
    all_envs: bool = False
    component: str | None = None
    attribute: str | None = None
    unclear: Unclear | None = None
    clause: str = ""
    source_env: str | None = None  # for kind == "copy"
    alternative: str | None = None  # "레디스 추가해줘": enable it when off, else this path's amount is unclear


@dataclass
class EnvOp:
    """Create or destroy whole environments."""

    kind: Literal["create", "destroy"]
    envs: list[str] = field(default_factory=list)
    all_envs: bool = False
    clause: str = ""


@dataclass
class Clause:
    """One clause of a request: its text (values masked), lexicon hits, values and amounts."""

    text: str
    masked: str
    hits: list[Hit]
    values: list[Value]
    amounts: list[Amount]
    envs: list[str] = field(default_factory=list)
    all_envs: bool = False
    sentence: int = 0  # which sentence of the request the clause is in
    envs_from_earlier_sentence: bool = False  # its environment was inherited across a sentence end

    def tagged(self, category: str) -> list[Hit]:
        return [h for h in self.hits if h.has(category)]

    def keys(self, category: str) -> list[str]:
        out: list[str] = []
        for h in self.hits:
            for k in h.keys(category):
                if k not in out:
                    out.append(k)
        return out

    @property
    def verbs(self) -> set[str]:
        return set(self.keys("verb"))

    @property
    def components(self) -> list[str]:
        return self.keys("component")

    @property
    def attributes(self) -> list[str]:
        return self.keys("attribute")

    @property
    def ec2_names(self) -> list[str]:
        return self.keys("ec2_name")

    @property
    def whole(self) -> bool:
        return bool(self.tagged("whole"))

    @property
    def is_commentary(self) -> bool:
        """A remark with no order in it ("it's at 83%", "트래픽도 0이야"): nothing to change, only bare numbers."""
        return not (self.envs or self.all_envs or self.components or self.ec2_names or self.attributes or self.verbs
                    or self.values or self.whole) \
            and all(a.unit is None and a.kind in ("set", "pct") for a in self.amounts)

    @property
    def has_content(self) -> bool:
        return bool(self.components or self.ec2_names or self.attributes or self.verbs or self.values or self.amounts
                    or self.whole or self.tagged("query") or self.tagged("cost"))


# ------------------------------------------------------------- interpreting


def _component(clause: Clause, previous: str | None) -> str | None:
    names = clause.ec2_names
    comps = clause.components
    if names:
        return f"ec2:{names[0]}"
    if "redis" in comps:
        return "redis"
    if "rds" in comps:
        return "rds"
    if "nodes" in comps or "eks" in comps:
        return "eks"
    if "vpc" in comps:
        return "vpc"
    if "ec2" in comps:
        return "ec2"
    for v in clause.values:
        if v.kind == "instance_type" and v.text.startswith("db."):
            return "rds"
        if v.kind == "instance_type" and v.text.startswith("cache."):
            return "redis"
        if v.kind == "cidr":
            return "vpc"
        if v.kind == "version" and re.fullmatch(r"1\.[0-9]{2}", v.text):
            return "eks"
    attrs = clause.attributes
    if any(a in attrs for a in RDS_ONLY) or any(a.unit in ("connections", "days", "weeks") for a in clause.amounts):
        return "rds"
    if any(a in attrs for a in VPC_ONLY):
        return "vpc"
    if ("min" in attrs or "max" in attrs) and clause.amounts:
        return previous or "eks"
    if previous and (clause.values or clause.amounts or attrs or clause.verbs & {"enable", "disable"}):
        return previous
    if "storage" in attrs or any(a.unit in ("storage", "storage_tb") for a in clause.amounts):
        return "rds"
    return None


def _direction(verbs: set[str]) -> int:
    up = "increase" in verbs
    down = "decrease" in verbs
    if up and not down:
        return 1
    if down and not up:
        return -1
    return 0


def _verb_right_after(clause: Clause, amount: Amount) -> set[str]:
    for h in clause.hits:
        if h.start >= amount.end and h.has("verb"):
            between = clause.masked[amount.end:h.start]
            return set(h.keys("verb")) if INCREASE_AFTER.match(between) else set()
    return set()


def _numeric_op(clause: Clause, amount: Amount, direction: int) -> tuple[OpKind, float] | None:
    """How one amount changes a number; None when the direction is missing (e.g. "50%" alone)."""
    if amount.kind in ("set", "add", "sub", "mul", "div"):
        kind: OpKind = amount.kind  # type: ignore[assignment]
        if amount.kind == "set" and not particle_after(clause.masked, amount.end):
            after = _verb_right_after(clause, amount)
            if "increase" in after and "decrease" not in after:
                kind = "add"
            elif after & {"decrease", "destroy"} and "increase" not in after:
                kind = "sub"
        return kind, amount.number
    if amount.kind == "delta":
        return ("sub" if direction < 0 else "add"), amount.number
    if amount.kind == "pct":
        if direction == 0:
            return None
        return "mul", 1 + direction * amount.number / 100
    return None


def _scaled(amount: Amount) -> float:
    if amount.unit == "storage_tb":
        return amount.number * 1024
    if amount.unit == "weeks":
        return amount.number * 7
    return amount.number


NUMERIC_TARGETS: dict[str, dict[str, str]] = {
    "eks": {"count": "eks.node_count", "min": "eks.node_min", "max": "eks.node_max", "storage": "eks.node_disk_gb"},
    "rds": {"storage": "rds.storage_gb", "max_storage": "rds.max_storage_gb", "backup": "rds.backup_retention_days",
            "max_connections": "rds.max_connections"},
    "redis": {"count": "redis.nodes"},
    "vpc": {"nat": "vpc.nat_gateways", "azs": "vpc.azs"},
    "ec2": {"count": "count", "storage": "volume_gb"},
}
UNIT_ATTRIBUTE = {"storage": "storage", "storage_tb": "storage", "days": "backup", "weeks": "backup", "connections": "max_connections"}
TYPE_TARGET = {"eks": "eks.node_instance_type", "rds": "rds.instance_class", "redis": "redis.node_type", "ec2": "instance_type"}
ENABLE_TARGET = {"eks": "eks.enabled", "rds": "rds.enabled", "redis": "redis.enabled", "ec2": "enabled"}
VERSION_TARGET = {"eks": "eks.version", "rds": "rds.engine_version", "redis": "redis.engine_version"}


def _ec2_path(component: str, suffix: str) -> str:
    name = component.split(":", 1)[1] if ":" in component else "*"
    return f"ec2.{name}.{suffix}"


def _op(clause: Clause, component: str | None, attribute: str | None, target: str | None, kind: OpKind = "set",
        value: Any = None, unclear: Unclear | None = None) -> Op:
    if target and component and component.startswith("ec2"):
        target = _ec2_path(component, target)
    base = component.split(":")[0] if component else None
    return Op(target=target, kind=kind, value=value, envs=list(clause.envs), all_envs=clause.all_envs,
              component=component if component and component != "ec2" else base, attribute=attribute, unclear=unclear,
              clause=clause.text)


def _interpret_clause(clause: Clause, component: str | None) -> list[Op | EnvOp]:
    verbs = clause.verbs
    attrs = clause.attributes
    direction = _direction(verbs)
    base = component.split(":")[0] if component else None
    types = [v for v in clause.values if v.kind in ("instance_type", "size")]
    versions = [v for v in clause.values if v.kind == "version"]
    cidrs = [v for v in clause.values if v.kind == "cidr"]
    amounts = list(clause.amounts)
    out: list[Op | EnvOp] = []

    # A whole environment: create/destroy words and nothing more specific, about an environment this
    # sentence names ("...늘려주세요. QA가 복원 테스트를 하고 싶대요" restores nothing).
    if base is None and not attrs and not clause.values and not amounts and not clause.envs_from_earlier_sentence:
        if verbs & {"destroy", "disable"} and not verbs & {"create", "enable"}:
            if clause.envs or clause.all_envs or clause.whole:
                return [EnvOp("destroy", list(clause.envs), clause.all_envs, clause.text)]
        if verbs & {"create", "enable"} and not verbs & {"destroy", "disable"}:
            if clause.envs or clause.all_envs or clause.whole:
                return [EnvOp("create", list(clause.envs), clause.all_envs, clause.text)]
        if verbs & {"create", "destroy"} and (clause.envs or clause.all_envs or clause.whole):
            # "내리고 다시 만들어": the goal is an environment built from the spec
            return [EnvOp("create", list(clause.envs), clause.all_envs, clause.text)]

    if base is None:
        if types and not any(t.text.startswith(("db.", "cache.")) for t in types):
            return [_op(clause, None, "type", None, "set", types[0].text, unclear="type_owner")]
        if clause.verbs or clause.amounts or attrs:
            return [_op(clause, None, attrs[0] if attrs else None, None, unclear="component")]
        return []

    # Same value as another environment: "staging 노드 수를 prod랑 같게".
    if len(clause.envs) >= 2 and SAME_AS.search(clause.masked) and not amounts and not types:
        source = _source_env(clause)
        if source:
            targets = [e for e in clause.envs if e != source]
            attribute = next((a for a in attrs if a in NUMERIC_TARGETS.get(base, {})), "type" if "type" in attrs else "count")
            path = (TYPE_TARGET if attribute == "type" else NUMERIC_TARGETS.get(base, {})).get(base if attribute == "type" else attribute)
            if path:
                op = _op(clause, component, attribute, path, "copy")
                op.envs, op.source_env = targets, source
                return [op]

    # Instance type / class / node type.
    if base in TYPE_TARGET:
        if types:
            value = types[0]
            out.append(_op(clause, component, "type", TYPE_TARGET[base], "set", value.text if value.kind == "instance_type" else f"*.{value.text}"))
        elif "type" in attrs or ("version" not in attrs and any(a.kind == "step" for a in amounts)):  # sizes step only as types do
            step = next((a for a in amounts if a.kind == "step" or ("type" in attrs and a.kind in ("mul", "div"))), None)
            if step is not None:
                amounts.remove(step)
                if step.kind == "step" and step.unit == "direction":  # "한 단계 위로": the words carry the direction
                    out.append(_op(clause, component, "type", TYPE_TARGET[base], "step", int(step.number)))
                elif step.kind == "step":
                    if direction == 0:
                        out.append(_op(clause, component, "type", TYPE_TARGET[base], unclear="direction"))
                    else:
                        out.append(_op(clause, component, "type", TYPE_TARGET[base], "step", int(step.number) * direction))
                else:
                    steps = 1 if step.kind == "mul" else -1
                    out.append(_op(clause, component, "type", TYPE_TARGET[base], "step", steps * max(1, round(step.number / 2))))
            elif not amounts:
                out.append(_op(clause, component, "type", TYPE_TARGET[base], unclear="value"))

    if base in VERSION_TARGET and (versions or "version" in attrs):
        step = next((a for a in amounts if a.kind == "step"), None)
        if step is None and base == "eks" and "version" in attrs and direction:
            step = next((a for a in amounts if a.unit is None and a.kind in ("set", "add")), None)  # "버전 하나 올려"
        if versions:
            out.append(_op(clause, component, "version", VERSION_TARGET[base], "set", versions[0].text))
        elif base == "eks" and not out and (step is not None or (direction and not amounts)):
            # "쿠버네티스 버전 한 단계 올려", "upgrade the EKS version": minor versions, counted
            steps = direction if step is None else int(step.number) * (1 if step.unit == "direction" else direction or 1)
            out.append(_op(clause, component, "version", VERSION_TARGET[base], "step", steps))
            if step is not None:
                amounts.remove(step)
        elif not amounts and not out:
            out.append(_op(clause, component, "version", VERSION_TARGET[base], unclear="value"))

    if base == "vpc" and cidrs:
        out.append(_op(clause, component, "cidr", "vpc.cidr", "set", cidrs[0].text))

    # Switches: multi-AZ, enabled.
    if base == "rds" and ("multi_az" in attrs or "single_az" in attrs):
        on = not (verbs & {"disable", "decrease", "destroy"})
        if "single_az" in attrs and "multi_az" not in attrs:
            on = not on
        out.append(_op(clause, component, "multi_az", "rds.multi_az", "set", on))

    numeric = NUMERIC_TARGETS.get(base or "", {})
    numeric_attrs = [h for h in clause.hits if any(k in numeric for k in h.keys("attribute"))]
    if amounts:
        if len(numeric_attrs) >= 2 and len(amounts) >= 2:
            pairs = []
            for index, hit in enumerate(numeric_attrs):
                limit = numeric_attrs[index + 1].start if index + 1 < len(numeric_attrs) else len(clause.masked)
                amount = next((a for a in amounts if hit.end <= a.start < limit), None)
                if amount is not None:
                    pairs.append((next(k for k in hit.keys("attribute") if k in numeric), amount))
        else:
            attribute = _numeric_attribute(base, attrs, amounts[0], numeric)
            pairs = [(attribute, amounts[0])] if attribute else []
            if attribute is None:
                out.append(_op(clause, component, None, None, unclear="attribute"))
        for attribute, amount in pairs:
            op = _numeric_op(clause, amount, direction)
            if op is None:
                out.append(_op(clause, component, attribute, numeric[attribute], unclear="direction"))
                continue
            kind, number = op
            value: Any = _scaled(amount) if kind in ("set", "add", "sub") else number
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            out.append(_op(clause, component, attribute, numeric[attribute], kind, value))
        return _enable_or_destroy(clause, component, out)

    if out:
        return out

    switched = _enable_or_destroy(clause, component, out)
    if switched:
        return switched
    if numeric and (direction or verbs & {"set"} or any(a in numeric for a in attrs)):
        attribute = next((a for a in attrs if a in numeric), "count" if "count" in numeric else None)
        if attribute:
            return [_op(clause, component, attribute, numeric[attribute], unclear="amount")]
    if clause.verbs or attrs:
        return [_op(clause, component, attrs[0] if attrs else None, None, unclear="attribute")]
    return [_op(clause, component, None, None, unclear="attribute")]


def _enable_or_destroy(clause: Clause, component: str | None, out: list[Op | EnvOp]) -> list[Op | EnvOp]:
    """On/off words on a component (with nothing more specific) switch its `enabled`."""
    if out:
        return out
    base = component.split(":")[0] if component else None
    verbs = clause.verbs
    if base not in ENABLE_TARGET or clause.amounts or clause.values:
        return out
    specific = [a for a in clause.attributes if a not in ("count",)]
    if specific:
        return out
    on = verbs & {"enable", "create"}
    off = verbs & {"disable", "destroy"}
    if base == "eks" and "nodes" in clause.components and "eks" not in clause.components and off and not on:
        return [_op(clause, component, "count", "eks.node_count", unclear="amount")]
    if on and not off:
        return [_op(clause, component, "enabled", ENABLE_TARGET[base], "set", True)]
    if not off and ADD_WORDS.search(clause.masked) and base in ("redis", "rds", "eks") or (base == "ec2" and ADD_WORDS.search(clause.masked)):
        op = _op(clause, component, "enabled", ENABLE_TARGET[base], "set", True)
        count = NUMERIC_TARGETS.get(base, {}).get("count")
        op.alternative = _ec2_path(component, count) if count and base == "ec2" else count
        return [op]
    if off and not on:
        return [_op(clause, component, "enabled", ENABLE_TARGET[base], "set", False)]
    return out


def _numeric_attribute(base: str | None, attrs: list[str], amount: Amount, numeric: dict[str, str]) -> str | None:
    if amount.unit in UNIT_ATTRIBUTE and UNIT_ATTRIBUTE[amount.unit] in numeric:
        if base == "eks" or base == "ec2":
            return "storage" if "storage" in numeric else None
        return UNIT_ATTRIBUTE[amount.unit]
    for attr in attrs:
        if attr in numeric and attr != "count":
            return attr
    if "count" in numeric:
        return "count"
    return None


def _source_env(clause: Clause) -> str | None:
    """In "staging 노드를 prod랑 같게", the environment followed by 랑/와/처럼 (or after "as"/"like") is the source."""
    for h in clause.tagged("env"):
        after = clause.masked[h.end:h.end + 6]
        before = clause.masked[max(0, h.start - 9):h.start]
        if re.match(r"\s*(랑|이랑|와|과|하고|처럼|같|만큼|수준)", after) or re.search(r"(as|like|match|with)\s*(the\s*)?$", before):
            return h.keys("env")[0]
    return None


def interpret(clauses: list[Clause]) -> list[Op | EnvOp]:
    """Every clause's operations, in order; a clause inherits environment and component from the one before."""
    ops: list[Op | EnvOp] = []
    previous_component: str | None = None
    previous_envs: list[str] = []
    previous_all = False
    previous_sentence = 0
    for clause in clauses:
        if not clause.has_content or (ops and clause.is_commentary):
            continue
        if not clause.envs and not clause.all_envs and (previous_envs or previous_all):
            clause.envs_from_earlier_sentence = previous_sentence != clause.sentence
        if not clause.envs and not clause.all_envs and previous_envs:
            clause.envs = list(previous_envs)
        if not clause.all_envs and not clause.envs and previous_all:
            clause.all_envs = True
        component = _component(clause, previous_component)
        found = _interpret_clause(clause, component)
        several = [c for c in ("eks", "rds", "redis") if c in clause.components or (c == "eks" and "nodes" in clause.components)]
        if len(several) > 1 and clause.verbs & {"enable", "disable", "create", "destroy"} and not clause.amounts and not clause.values:
            # "레디스랑 RDS 둘 다 꺼줘": the same switch on each component named
            found = [op for c in several for op in _interpret_clause(clause, c)]
        if ops and all(isinstance(o, Op) and o.unclear == "component" and not o.attribute for o in found) \
                and not clause.values and not clause.amounts:
            continue  # ", we need to cut costs": a reason after an order, not another order
        ops += found
        if component:
            previous_component = component
        previous_envs, previous_all, previous_sentence = list(clause.envs), clause.all_envs, clause.sentence
    return ops
