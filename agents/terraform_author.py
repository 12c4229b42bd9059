"""The Terraform author: a spec change or a diagnosis in, a validated Terraform change out.

Two inputs, one kind of output (a `Proposal` a person can review):
- a planner's `SpecChange` becomes a new spec and, for each environment it
  touches, a tfvars diff; costed, with the resources it touches estimated;
- a diagnosis whose fix is Terraform goes through the fix templates
  (agents/terraform_fixes); when none fits, the author LLM (when configured)
  writes a patch; otherwise the report says plainly that a person must.
Every change is validated (hcl2 parse, checkov with no new failed check,
project lints) before anyone sees it; a failing change is shown with its
failures and never offered for approval. The node only computes: running it
twice gives the same proposals, so it is safe to re-run before an interrupt.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import posixpath
from pathlib import Path
from typing import Any

import yaml
from langchain_core.runnables import RunnableConfig

from agents.context import AgentContext, context_from
from agents.terraform_fixes import FixContext, FixPlan, apply_spec_changes, choose_fix, get_path
from agents.terraform_fixes.author_model import draft_fix
from agents.terraform_fixes.hcl_text import HclEditError, blocks
from agents.terraform_fixes.impact import Impact, estimate_impact
from config.settings import REPO_ROOT
from graphs.state import (
    AgentNote, CostEstimate, Diagnosis, OpsState, PlanSummary, Proposal, Risk, RoleUsage, SpecChange, ValidationResult,
)
from tools.redact import redact
from tools.tf_lint import read_terraform_dir
from tools.tf_validate import summarize, validate_files
from tools.tfvars import SPEC_FILE, TfvarsError, render_tfvars, tfvars_json, tfvars_path, unrendered_keys

AGENT = "terraform_author"
SPEC_TOP_LEVEL = ("environments", "project", "region", "owner")


# ---------------------------------------------------------------- helpers


def _note(text: str, level: str = "info") -> AgentNote:
    return AgentNote(agent=AGENT, text=text, level=level)  # type: ignore[arg-type]


def _digest(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _unified(path: str, before: str | None, after: str | None) -> str:
    return "".join(difflib.unified_diff(
        (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True),
        fromfile=f"a/{path}" if before else "/dev/null", tofile=f"b/{path}" if after else "/dev/null",
    ))


def _spec_text(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _load_spec(ctx: AgentContext) -> dict[str, Any] | None:
    """The world's spec; in a live world, the repository's spec beside the Terraform root."""
    spec = ctx.world.infra().spec
    if spec:
        return spec
    if ctx.world.name == "recorded" or ctx.settings.terraform_dir is None:
        return None
    path = Path(ctx.settings.terraform_dir) / SPEC_FILE
    if path.is_file():
        return yaml.safe_load(path.read_text(encoding="utf-8")) or None
    return None


def _load_files(ctx: AgentContext) -> tuple[dict[str, str], str]:
    """The Terraform code to change: the world's files, else the repository's reference project."""
    files = dict(ctx.world.infra().terraform_files or {})
    if files:
        return files, "the recorded Terraform files" if ctx.world.name == "recorded" else "the world's Terraform files"
    if ctx.settings.terraform_dir is not None:
        directory = Path(ctx.settings.terraform_dir)
    elif ctx.world.name == "recorded":
        directory = REPO_ROOT / "terraform"  # a recording without code is planned against the reference project
    else:
        directory = ctx.settings.require_terraform_dir()  # a live world: one line that says how to configure it
    if directory.is_dir():
        return read_terraform_dir(directory), f"the reference project ({directory.name}/)"
    return {}, "no Terraform files"


async def _validate(after: dict[str, str], before: dict[str, str], var_file: str | None) -> list[ValidationResult]:
    return await asyncio.to_thread(validate_files, after, baseline=before, var_file=var_file)


def _cost(before: dict[str, Any], after: dict[str, Any], environment: str) -> tuple[CostEstimate | None, str | None]:
    try:
        from tools.cost import estimate_change_cost
    except ImportError:
        return None, "cost not estimated: tools/cost.py is not available"
    try:
        return estimate_change_cost(before, after, environment), None
    except Exception as exc:  # a missing price table must not stop the proposal; the note says why
        return None, f"cost not estimated: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def _risk(environment: str, impact: Impact, destroy_all: bool, floor: Risk = "low") -> Risk:
    order = ["low", "medium", "high"]
    risk = floor
    if destroy_all or (environment == "prod" and impact.destroy):
        risk = "high"
    elif environment == "prod" or impact.destroy:
        risk = max(risk, "medium", key=order.index)  # type: ignore[assignment]
    return risk


def _changed_resources(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Resource blocks a code edit adds, changes or removes ("aws_security_group.db: update")."""
    def index(files: dict[str, str]) -> dict[tuple[str, tuple[str, ...]], str]:
        out: dict[tuple[str, tuple[str, ...]], str] = {}
        for path, text in files.items():
            if not path.endswith(".tf"):
                continue
            try:
                for span in blocks(text, "resource"):
                    out[(posixpath.dirname(path), span.labels)] = text[span.start:span.close + 1]
            except HclEditError:
                continue
        return out

    old, new = index(before), index(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        where = f"{key[0]}/" if key[0] else ""
        address = f"{where}{'.'.join(key[1])}"
        if key not in old:
            changes.append(f"{address}: create")
        elif key not in new:
            changes.append(f"{address}: destroy")
        elif old[key] != new[key]:
            changes.append(f"{address}: update")
    return changes


def _reverse(before_spec: dict[str, Any], changes: dict[str, Any]) -> str:

    parts = [f"{path}: {json.dumps(get_path(before_spec, path))}" for path in changes]
    return "; ".join(parts)


# ---------------------------------------------------------- spec changes


def _environments_for(change: SpecChange, spec: dict[str, Any], default: str) -> list[str]:
    known = list((spec.get("environments") or {}).keys())
    if change.environment == "all":
        return known
    if change.environment:
        return [change.environment]
    named = {p.split(".")[1] for p in change.changes if p.startswith("environments.") and len(p.split(".")) > 2}
    if named:
        return [e for e in known if e in named] + sorted(named - set(known))
    if change.changes:  # top-level keys (owner, region) touch every environment
        return known
    return [default]


def _new_spec(change: SpecChange, spec: dict[str, Any], environments: list[str]) -> dict[str, Any]:
    after = apply_spec_changes(spec, change.changes)
    for env in environments:
        if change.intent == "destroy_all":
            after = apply_spec_changes(after, {f"environments.{env}.enabled": False})
        elif change.intent == "create_all":
            after = apply_spec_changes(after, {f"environments.{env}.enabled": True})
    return after


def _title(change: SpecChange, env: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    if change.intent == "destroy_all":
        return f"destroy the {env} environment"
    if change.intent == "create_all":
        return f"create the {env} environment from the spec"

    parts = [f"{p.removeprefix(f'environments.{env}.')}: {get_path(before, p)} → {get_path(after, p)}"
             for p in change.changes if not p.startswith("environments.") or p.startswith(f"environments.{env}.")]
    return f"{env}: " + (", ".join(parts) if parts else "spec change")


async def _spec_proposals(ctx: AgentContext, state: OpsState, change: SpecChange,
                          spec: dict[str, Any], files: dict[str, str], source: str) -> tuple[list[Proposal], list[AgentNote]]:
    request = state["request"]
    notes: list[AgentNote] = []
    unknown = [p for p in change.changes if p.split(".")[0] not in SPEC_TOP_LEVEL or (p.startswith("environments.") and len(p.split(".")) < 3)]
    if unknown:
        notes.append(_note(f"{', '.join(unknown)} is not a path in the infrastructure spec "
                           "(paths look like environments.dev.eks.node_count); nothing was changed for it", "warning"))
        change = change.model_copy(update={"changes": {k: v for k, v in change.changes.items() if k not in unknown}})
        if not change.changes and change.intent == "modify":
            return [], notes
    environments = _environments_for(change, spec, request.environment)
    proposals: list[Proposal] = []
    for env in environments:
        # Each environment's proposal carries only its own part of the change, so approving
        # dev does not write prod's new values into the spec.
        own = change.model_copy(update={"changes": {
            k: v for k, v in change.changes.items() if not k.startswith("environments.") or k.startswith(f"environments.{env}.")}})
        after_spec = _new_spec(own, spec, [env])
        spec_diff = _unified(SPEC_FILE, _spec_text(spec), _spec_text(after_spec))
        if env not in (after_spec.get("environments") or {}):
            notes.append(_note(f"the spec has no environment {env!r}; add it to the spec before creating it", "warning"))
            continue
        try:
            before_vars = render_tfvars(spec, env) if env in (spec.get("environments") or {}) else None
            after_vars = render_tfvars(after_spec, env)
        except TfvarsError as exc:
            notes.append(_note(f"{env}: the spec cannot be rendered for Terraform: {exc}", "warning"))
            continue
        ignored = [p for p in unrendered_keys(after_spec, env) if p in own.changes]
        if ignored:
            notes.append(_note(f"{', '.join(ignored)} is not read by the Terraform code: the plan will not change for it", "warning"))
        path = tfvars_path(env)
        before_json = json.dumps(before_vars, indent=2, ensure_ascii=False) + "\n" if before_vars else None
        after_json = tfvars_json(after_spec, env)
        tfvars_diff = _unified(path, before_json, after_json)
        if not tfvars_diff and change.intent == "modify":
            notes.append(_note(f"{env}: the spec already says this; no Terraform change is needed"))
            continue
        impact = estimate_impact(before_vars, after_vars)
        if not tfvars_diff and change.intent == "create_all":
            impact = estimate_impact(None, after_vars)
            impact.resources.insert(0, "the spec already has this environment enabled: applying recreates whatever is missing")
        tree = {k: v for k, v in files.items() if k != path}
        before_tree = {**tree, **({path: before_json} if before_json else {})}
        after_tree = {**tree, path: after_json}
        validation = await _validate(after_tree, before_tree, path)
        cost, cost_note = _cost(spec, after_spec, env)
        if cost_note:
            notes.append(_note(cost_note, "limitation"))
        destroy_all = change.intent == "destroy_all"
        reverse = _reverse(spec, own.changes) if own.changes else ""
        if destroy_all:
            rollback = (f"set environments.{env}.enabled back to true and apply: the environment is rebuilt empty "
                        f"(databases and secrets come back without their data unless restored from a snapshot)")
        elif change.intent == "create_all":
            rollback = f"destroy_all on {env} (set environments.{env}.enabled to false and apply)"
        else:
            rollback = f"re-apply the previous tfvars (the - lines of the diff in {path}): {reverse}"
        description = "\n".join(filter(None, [
            change.rationale, f"Source: {source}; the spec is rendered to {path} by tools/tfvars.py.",
            impact.text(), "Validation:", summarize(validation),
        ]))
        proposals.append(Proposal(
            id=f"P-tf-{env}-{_digest(change.intent, tfvars_diff, spec_diff)}",
            kind="terraform",
            title=_title(own, env, spec, after_spec),
            description=description,
            environment=env,  # type: ignore[arg-type]
            diff=spec_diff + tfvars_diff,
            files={path: after_json, SPEC_FILE: _spec_text(after_spec)},
            cost=cost,
            plan=PlanSummary(add=impact.add, change=impact.change, destroy=impact.destroy, resources=impact.resources,
                             text=impact.text()),
            rollback=rollback,
            validation=validation,
            risk=_risk(env, impact, destroy_all),
            destructive=destroy_all or impact.destroy > 0,
            resource_count=impact.count,
            author=AGENT,
        ))
        failed = [v for v in validation if not v.passed]
        if failed:
            notes.append(_note(f"{env}: the change failed validation and is not offered for approval: "
                               + "; ".join(f"{v.check}: {v.details}" for v in failed), "warning"))
    return proposals, notes


# -------------------------------------------------------------- diagnoses


async def _proposal_from_plan(ctx: AgentContext, plan: FixPlan, fctx: FixContext, source: str,
                              author: str = AGENT) -> tuple[Proposal | None, list[AgentNote]]:
    notes = [_note(n) for n in plan.notes]
    env = fctx.environment
    files = fctx.files
    diff_parts: list[str] = []
    after_files = {**files, **plan.file_edits}
    before_files = dict(files)
    out_files: dict[str, str] = dict(plan.file_edits)
    cost: CostEstimate | None = None
    impact = Impact()
    var_file: str | None = None
    if plan.spec_changes:
        spec = fctx.spec
        if not spec:
            return None, [_note(f"{plan.template} needs the infrastructure spec, and this world has none", "limitation")]
        after_spec = apply_spec_changes(spec, plan.spec_changes)
        try:
            before_vars, after_vars = render_tfvars(spec, env), render_tfvars(after_spec, env)
        except TfvarsError as exc:
            return None, [_note(f"{plan.template}: the spec cannot be rendered for Terraform: {exc}", "warning")]
        var_file = tfvars_path(env)
        before_json = json.dumps(before_vars, indent=2, ensure_ascii=False) + "\n"
        after_json = tfvars_json(after_spec, env)
        before_files[var_file] = before_json
        after_files[var_file] = after_json
        out_files[var_file] = after_json
        out_files[SPEC_FILE] = _spec_text(after_spec)
        diff_parts += [_unified(SPEC_FILE, _spec_text(spec), _spec_text(after_spec)), _unified(var_file, before_json, after_json)]
        impact = estimate_impact(before_vars, after_vars)
        cost, cost_note = _cost(spec, after_spec, env)
        if cost_note:
            notes.append(_note(cost_note, "limitation"))
    for path, text in sorted(plan.file_edits.items()):
        diff_parts.append(_unified(path, files.get(path), text))
    if plan.file_edits:
        code_changes = _changed_resources(files, {**files, **plan.file_edits})
        impact.resources += code_changes
        impact.change += sum(1 for c in code_changes if c.endswith(": update"))
        impact.add += sum(1 for c in code_changes if c.endswith(": create"))
        impact.destroy += sum(1 for c in code_changes if c.endswith(": destroy"))
        if not plan.spec_changes:
            notes.append(_note("cost not estimated for a code edit: the deployer's plan prices it", "limitation"))
    diff = "".join(diff_parts)
    if not diff:
        return None, notes + [_note(f"{plan.template} produced no change", "warning")]
    validation = await _validate(after_files, before_files, var_file)
    diagnosis = fctx.diagnosis
    description = "\n".join([
        f"Fix for {diagnosis.root_cause}: {diagnosis.summary}", plan.rationale,
        f"Template: {plan.template}; source: {source}.", impact.text(), "Validation:", summarize(validation),
    ])
    proposal = Proposal(
        id=f"P-tf-{env}-{_digest(plan.template, diff)}",
        kind="terraform",
        title=plan.title,
        description=description,
        environment=env,  # type: ignore[arg-type]
        diff=diff,
        files=out_files,
        cost=cost,
        plan=PlanSummary(add=impact.add, change=impact.change, destroy=impact.destroy, resources=impact.resources, text=impact.text()),
        rollback=plan.rollback or "revert the diff and apply",
        validation=validation,
        risk=_risk(env, impact, False, plan.risk),
        destructive=impact.destroy > 0,
        resource_count=impact.count,
        author=author,
    )
    failed = [v for v in validation if not v.passed]
    if failed:
        notes.append(_note(f"the {plan.template} change failed validation and is not offered for approval: "
                           + "; ".join(f"{v.check}: {v.details}" for v in failed), "warning"))
    return proposal, notes


def _fix_context(ctx: AgentContext, state: OpsState, diagnosis: Diagnosis, spec: dict[str, Any] | None,
                 files: dict[str, str]) -> FixContext:
    request = state["request"]
    environment = str(diagnosis.target.get("environment") or request.environment)
    return FixContext(
        diagnosis=diagnosis, environment=environment, spec=spec, files=files,
        terraform_output=ctx.world.infra().terraform_output or "",
        evidence=list(state.get("evidence") or []),
        labels=dict(request.alert.labels) if request.alert else {},
    )


async def _llm_fix(ctx: AgentContext, fctx: FixContext, source: str) -> tuple[Proposal | None, list[AgentNote], dict[str, RoleUsage]]:
    """The author model's patch, validated like a template's; a failing patch goes back to the model once, then is rejected."""
    built: dict[str, Any] = {}

    async def check(plan: FixPlan) -> str | None:
        proposal, more = await _proposal_from_plan(ctx, plan, fctx, source, author=f"{AGENT} (author model)")
        built["result"] = (proposal, more)
        if proposal is None:
            return "; ".join(n.text for n in more) or "it could not be applied"
        return "; ".join(f"{v.check}: {v.details}" for v in proposal.validation if not v.passed) or None

    plan, problems, usage = await draft_fix(ctx.models, fctx, check=check)
    notes = [_note(text, level) for text, level in problems]
    if plan is None:
        return None, notes, usage
    proposal, more = built["result"]
    return proposal, notes + more, usage


async def _diagnosis_proposals(ctx: AgentContext, state: OpsState, diagnosis: Diagnosis, spec: dict[str, Any] | None,
                               files: dict[str, str], source: str) -> tuple[list[Proposal], list[AgentNote], dict[str, RoleUsage]]:
    fctx = _fix_context(ctx, state, diagnosis, spec, files)
    plan = choose_fix(fctx)
    if plan is not None:
        proposal, notes = await _proposal_from_plan(ctx, plan, fctx, source)
        return ([proposal] if proposal else []), notes, {}
    if ctx.models is not None and ctx.models.available("author"):
        proposal, notes, usage = await _llm_fix(ctx, fctx, source)
        return ([proposal] if proposal else []), notes, usage
    what = diagnosis.root_cause + (f" ({redact(diagnosis.summary)[:160]})" if diagnosis.summary else "")
    return [], [_note(f"no template for {what} fits {source}; a person must write this change "
                      "(configure an author model to have one drafted)", "limitation")], {}


# ------------------------------------------------------------------- node


async def terraform_author(state: OpsState, config: RunnableConfig) -> dict:
    """Turn the run's spec change or Terraform-fixable diagnosis into validated proposals."""
    ctx = context_from(config)
    route = state.get("route") or []
    change = state.get("spec_change")
    diagnosis = state.get("diagnosis")
    use_change = change is not None and change.question is None and change.intent != "query" and (
        not route or route[-1] != "diagnostician" or diagnosis is None)
    update: dict[str, Any] = {"route": [AGENT], "proposals": [], "notes": [], "usage": {}}
    files, source = _load_files(ctx)
    spec = _load_spec(ctx)
    if use_change:
        assert change is not None
        if spec is None:
            update["notes"] = [_note("no infrastructure spec in this world: a spec change has nothing to apply to", "limitation")]
            return update
        proposals, notes = await _spec_proposals(ctx, state, change, spec, files, source)
        update["proposals"], update["notes"] = proposals, notes
        return update
    if diagnosis is not None and diagnosis.fix_kind == "terraform":
        proposals, notes, usage = await _diagnosis_proposals(ctx, state, diagnosis, spec, files, source)
        update.update(proposals=proposals, notes=notes, usage=usage)
        return update
    update["notes"] = [_note("nothing for the Terraform author: no spec change and no diagnosis whose fix is Terraform")]
    return update
