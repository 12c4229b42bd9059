"""The triage model as a second reader of the words, checked by the spec schema.

The model returns a `PlanDraft` (SpecChange's fields, with changes as a list
of path/value pairs: a free-form mapping is not portable across providers'
structured output). Nothing it says is taken on trust:
- every path must exist in the schema and every value must validate
  (tools/spec.py `apply_changes`); the EKS bounds are moved the same way the
  rules move them;
- destroy_all / create_all need the words to ask for it: a model cannot
  turn "노드 줄여줘" into tearing an environment down;
- a plan that fails any check is dropped and the rules' result stands, with
  a note saying why.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from agents.planning.resolve import Resolver, RulesPlan, Unresolved
from agents.planning.interpret import EnvOp
from agents.planning.rules import Reading
from graphs.errors import ProviderError
from graphs.state import Intent, RoleUsage, SpecChange
from tools.spec import SpecError, apply_changes, coerce_value, is_known_path, value_at

PROMPT = "plan"
ROLE = "triage"


class PlannedValue(BaseModel):
    path: str = Field(description="dotted spec path, e.g. environments.dev.eks.node_count")
    value: bool | int | float | str = Field(description="the new absolute value")


class PlanDraft(BaseModel):
    """The model's plan, in SpecChange's terms."""

    intent: Intent
    environment: Literal["dev", "staging", "prod", "all"] | None = None
    changes: list[PlannedValue] = Field(default_factory=list)
    question: str | None = None
    answer: str | None = None
    rationale: str = Field(default="", max_length=600)


class DraftRejected(Exception):
    """The model's plan failed a check; the message says which."""


PATH_SUFFIXES = (
    "enabled", "eks.node_count", "eks.node_min", "eks.node_max", "eks.node_instance_type", "eks.version", "eks.enabled",
    "rds.instance_class", "rds.storage_gb", "rds.max_storage_gb", "rds.multi_az", "rds.backup_retention_days",
    "rds.max_connections", "rds.engine_version", "rds.enabled", "redis.enabled", "redis.node_type", "redis.nodes",
    "vpc.azs", "vpc.nat_gateways",
)


def allowed_paths(spec: dict[str, Any]) -> str:
    """The paths the model may use, with current values, one per line."""
    lines = []
    for env, env_spec in (spec.get("environments") or {}).items():
        for suffix in PATH_SUFFIXES:
            lines.append(f"environments.{env}.{suffix}: {value_at(spec, f'environments.{env}.{suffix}')}")
        for name in sorted((env_spec or {}).get("ec2") or {}):
            for key in ("instance_type", "count", "enabled"):
                lines.append(f"environments.{env}.ec2.{name}.{key}: {value_at(spec, f'environments.{env}.ec2.{name}.{key}')}")
    return "\n".join(lines)


def describe_rules(plan: RulesPlan) -> str:
    change = plan.change
    data = {"intent": change.intent, "environment": change.environment, "changes": change.changes,
            "question": change.question, "answer": change.answer}
    return yaml.safe_dump({k: v for k, v in data.items() if v not in (None, {}, "")}, allow_unicode=True, sort_keys=False).strip()


def _asked_for(reading: Reading, kind: str) -> bool:
    verbs = {"destroy": {"destroy", "disable"}, "create": {"create", "enable"}}[kind]
    return any(isinstance(op, EnvOp) and op.kind == kind for op in reading.ops) or any(
        c.verbs & verbs for c in reading.clauses)


def check_draft(draft: PlanDraft, spec: dict[str, Any], reading: Reading, request_env: str, env_explicit: bool,
                rules: RulesPlan) -> SpecChange:
    """The draft as a validated SpecChange, or DraftRejected naming the first problem."""
    if draft.question:
        return SpecChange(intent=draft.intent, environment=draft.environment, question=draft.question.strip(),
                          rationale=draft.rationale, decided_by="llm")
    spec_envs = list((spec.get("environments") or {}).keys())
    if draft.intent == "query":
        answer = rules.change.answer if rules.change.intent == "query" and rules.change.answer else draft.answer
        if not answer:
            raise DraftRejected("a query without an answer")
        return SpecChange(intent="query", environment=draft.environment, answer=answer, rationale=draft.rationale, decided_by="llm")
    if draft.intent in ("create_all", "destroy_all"):
        kind = "destroy" if draft.intent == "destroy_all" else "create"
        if not _asked_for(reading, kind):
            raise DraftRejected(f"{draft.intent} but the words do not ask to {kind} an environment")
        envs = spec_envs if draft.environment == "all" else ([draft.environment] if draft.environment else [])
        if not envs:
            envs = sorted({c.path.split(".")[1] for c in draft.changes if c.path.startswith("environments.")})
        if not envs:
            raise DraftRejected(f"{draft.intent} without an environment")
        if not reading.envs and not reading.all_envs and not env_explicit and envs != [request_env]:
            raise DraftRejected("the words name no environment and the request's environment was not explicit")
        changes = {f"environments.{env}.enabled": kind == "create" for env in envs}
        return SpecChange(intent=draft.intent, environment=draft.environment or (envs[0] if len(envs) == 1 else "all"),
                          changes=changes, rationale=draft.rationale, decided_by="llm")
    if not draft.changes:
        raise DraftRejected("modify without changes")
    changes: dict[str, Any] = {}
    for item in draft.changes:
        path = item.path.strip()
        parts = path.split(".")
        if len(parts) < 3 or parts[0] != "environments":
            raise DraftRejected(f"{path}: changes must lie under environments.<env>.")
        if not is_known_path(path):
            raise DraftRejected(f"{path}: not a path of the spec")
        changes[path] = coerce_value(path, item.value)
    resolver = Resolver(spec, reading, request_env, env_explicit)
    explicit = set(changes)
    try:
        for env in dict.fromkeys(p.split(".")[1] for p in changes):
            resolver.fit_bounds(env, changes, explicit)
        apply_changes(spec, changes)
    except (SpecError, Unresolved) as exc:
        raise DraftRejected(str(exc)) from None
    envs = list(dict.fromkeys(p.split(".")[1] for p in changes))
    environment = envs[0] if len(envs) == 1 else ("all" if set(envs) == set(spec_envs) else None)
    return SpecChange(intent="modify", environment=environment, changes=changes, rationale=draft.rationale, decided_by="llm")


class ModelPlan(BaseModel):
    """What the model produced: a checked change, or why its draft was dropped; usage either way."""

    change: SpecChange | None = None
    usage: RoleUsage = Field(default_factory=RoleUsage)
    usages: dict[str, RoleUsage] = Field(default_factory=dict)  # every billed call, by usage key (fallbacks too)
    rejected: str | None = None


ANSWER_TOOL = "PlanDraft"  # the schema's name, as the single-call planner used
ANSWER_HELP = "Your plan: intent, environment, changes as path/value pairs, or a question, or an answer to a query."


def planning_tools(spec: dict[str, Any]) -> list[Any]:
    """Reads the planner's model may use inside its loop: a spec value, and what a change would cost."""
    from agents.investigator.loop import LoopTool, ToolParamProblem, ToolReply
    from tools.cost import estimate_change_cost

    envs = sorted((spec.get("environments") or {}).keys())

    async def spec_value(args: dict[str, Any]) -> ToolReply:
        path = args["path"].strip()
        if not is_known_path(path):
            raise ToolParamProblem(f"{path}: not a path of the spec")
        value = value_at(spec, path)
        shown = yaml.safe_dump(value, allow_unicode=True).strip() if isinstance(value, (dict, list)) else json.dumps(value, ensure_ascii=False)
        return ToolReply(text=f"{path}: {shown}")

    async def estimate_cost(args: dict[str, Any]) -> ToolReply:
        try:
            changes = {c["path"]: coerce_value(c["path"], c["value"]) for c in args["changes"]}
            after = apply_changes(spec, changes)
        except (SpecError, KeyError) as exc:
            raise ToolParamProblem(f"changes: {exc}") from None
        est = estimate_change_cost(spec, after, args["environment"])
        return ToolReply(text=f"{args['environment']}: ${est.monthly_before:,.2f} -> ${est.monthly_after:,.2f} a month "
                              f"({est.monthly_delta:+,.2f}; {est.source})")

    change_item = {"type": "object", "properties": {"path": {"type": "string"}, "value": {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}},
                   "required": ["path", "value"]}
    return [
        LoopTool(name="spec_value", description="The current value at a dotted spec path (environments.<env>....).",
                 schema={"type": "object", "properties": {"path": {"type": "string", "pattern": r"^environments\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$"}},
                         "required": ["path"], "additionalProperties": False}, run=spec_value),
        LoopTool(name="estimate_cost", description="Monthly cost of an environment before and after a change (offline price table).",
                 schema={"type": "object", "properties": {"environment": {"type": "string", "enum": envs},
                                                          "changes": {"type": "array", "items": change_item, "minItems": 1, "maxItems": 12}},
                         "required": ["environment", "changes"], "additionalProperties": False}, run=estimate_cost),
    ]


async def plan_with_model(models: Any, text: str, spec: dict[str, Any], reading: Reading, request_env: str,
                          env_explicit: bool, rules: RulesPlan) -> ModelPlan:
    """The triage model plans in a bounded loop (spec and cost reads), every draft checked; one rejected
    draft is sent back once. ProviderError when the model gave no answer at all (the caller keeps the rules)."""
    from agents.investigator.budget import load_investigation_config
    from agents.investigator.loop import run_loop
    from agents.llm import load_prompt, render_prompt

    variables = {
        "text": text, "environment": request_env, "environment_explicit": "yes" if env_explicit else "no",
        "spec": spec, "paths": allowed_paths(spec), "rules": describe_rules(rules),
    }
    checked: dict[str, SpecChange] = {}

    async def validate(draft: PlanDraft, _gathered: list[Any]) -> str | None:
        try:
            checked["change"] = check_draft(draft, spec, reading, request_env, env_explicit, rules)
        except DraftRejected as exc:
            return str(exc)
        return None

    outcome = await run_loop(models, ROLE, agent="planner", observation=render_prompt(load_prompt(str(models.settings.prompts_dir), PROMPT), variables),
                             tools=planning_tools(spec), answer_schema=PlanDraft, answer_tool=ANSWER_TOOL, answer_description=ANSWER_HELP,
                             validate=validate, budget=load_investigation_config(str(models.settings.config_dir)).budget("planning"))
    usage = _role_usage(outcome.usages)
    if outcome.answer is not None:
        return ModelPlan(change=checked["change"], usage=usage, usages=outcome.usages)
    if outcome.rejections:
        return ModelPlan(usage=usage, usages=outcome.usages, rejected=outcome.rejections[0])
    error = ProviderError(outcome.stopped)
    error.usages = outcome.usages  # type: ignore[attr-defined]
    raise error


def _role_usage(usages: dict[str, RoleUsage]) -> RoleUsage:
    from agents.llm_usage import total_usage

    return total_usage(usages)


__all__ = ["PlanDraft", "PlannedValue", "ModelPlan", "DraftRejected", "check_draft", "plan_with_model", "allowed_paths", "ProviderError"]
