""""Is prod what the spec says?": a refresh-only plan read as drift, and the choice to adopt it or revert it.

The refresh-only plan is a read: Terraform refreshes the state from the real
objects into a plan file and changes nothing. Live (and with the test
stand-in), it runs in a scratch copy of the environment's workspace, like
the plans made for approval; in a recording, the recorded refresh-only plan
(`world.infra.refresh_plan`) answers it. When something drifted, the run asks
whether to *adopt* the drift (the spec takes the values now in the cloud: a
spec change with its own diff and approvals; the next plan shows nothing to
change) or *revert* it (the spec is applied as it is: a proposal whose plan
puts the cloud back, with the approvals of any apply). Drift in attributes
the spec does not hold can only be reverted, and the answer says so.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from typing import Any

import yaml

from agents.conversation.words import word_book
from agents.planning.clarify import Language
from agents.planning.resolve import RulesPlan, note
from agents.terraform_workspace import SCRATCH_IGNORE, _recorded_copy, environment_args, runs_terraform
from graphs.errors import CloudDoctorError
from graphs.state import DriftReport, PlanSummary, Proposal, SpecChange
from tools.drift import describe_drift, summarize_drift
from tools.spec import SpecError, apply_changes, value_at
from tools.terraform_runner import TerraformRunner
from tools.tfvars import SPEC_FILE, tfvars_json, tfvars_path


async def read_refresh_plan(ctx: Any, env: str) -> tuple[dict[str, Any] | None, str, str | None]:
    """(plan JSON, where it came from, why it could not be read)."""
    infra = ctx.world.infra()
    recorded = (getattr(infra, "model_extra", None) or {}).get("refresh_plan")
    if ctx.world.name == "recorded" and not runs_terraform(ctx):
        if isinstance(recorded, dict):
            ctx.audit.append("terraform", command="terraform plan -refresh-only", environment=env, status="recorded")
            return recorded, "the recorded refresh-only plan", None
        return None, "", "this recording has no refresh-only plan (world.infra.refresh_plan)"
    scratch = ctx.settings.data_dir / "drift" / f"{env}-{uuid.uuid4().hex[:8]}"
    try:
        if ctx.world.name == "recorded":
            _recorded_copy(ctx, scratch)
        else:
            source = ctx.settings.require_terraform_dir()
            scratch.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source, scratch, ignore=SCRATCH_IGNORE, symlinks=True)
        env_dir = scratch / "envs" / env
        workdir = env_dir if env_dir.is_dir() else scratch
        runner = TerraformRunner(workdir, binary=ctx.settings.terraform_bin, environment=env, audit=ctx.audit, settings=ctx.settings)
        init_args, plan_args = environment_args(workdir, env)
        await runner.init(init_args)
        result = await runner.plan("drift.tfplan", extra_args=["-refresh-only", *plan_args])
    except (CloudDoctorError, OSError) as exc:
        return None, "", f"the refresh-only plan failed: {str(exc).splitlines()[0]}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result.plan_json, f"terraform plan -refresh-only (plan {result.plan_hash[:12]})", None


def choice_of(replies: list[str], config_dir: Any) -> str | None:
    book = word_book("conversation", config_dir)
    for reply in reversed(replies):
        keys = book.keys(reply, "answers")
        for key in ("cancel", "revert", "adopt"):
            if key in keys:
                return key
    return None


def _question(report: DriftReport, language: Language) -> str:
    text = describe_drift(report, language)
    unmapped = [f"{i.address}.{a.name}" for i in report.items for a in i.attributes if not a.spec_path]
    unmapped += [i.address for i in report.items if i.action == "delete"]
    if language == "ko":
        tail = " 스펙에 반영(adopt)할까요, 스펙대로 되돌릴(revert)까요?"
        if unmapped:
            tail += f" (스펙에 없는 {', '.join(unmapped[:5])}은(는) 되돌리기만 할 수 있습니다)"
        return text + "." + tail
    tail = " Adopt it into the spec, or revert it to the spec?"
    if unmapped:
        tail += f" ({', '.join(unmapped[:5])} is not in the spec: it can only be reverted)"
    return text + "." + tail


def revert_proposal(spec: dict[str, Any], env: str, report: DriftReport, language: Language) -> Proposal:
    """The spec applied as it is: a Terraform proposal whose plan puts the drifted objects back."""
    spec_text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, default_flow_style=False)
    drifted = [f"{i.address}: " + (", ".join(f"{a.name} {a.actual!r} → {a.spec_value!r}" for a in i.attributes) or "recreate")
               for i in report.items]
    digest = hashlib.sha1(json.dumps(drifted, default=str).encode()).hexdigest()[:8]
    recreated = sum(1 for i in report.items if i.action == "delete")
    summary = PlanSummary(add=recreated, change=len(report.items) - recreated, resources=[f"{d}: revert" for d in drifted],
                          text="estimated from the drift: " + "; ".join(drifted[:10]))
    return Proposal(
        id=f"P-drift-{env}-{digest}", kind="terraform", title=f"{env}: revert drift (apply the spec as it is)",
        description=("Revert what changed outside Terraform: " + "; ".join(drifted)
                     + f". Source: {report.source}. The files are the spec's current tfvars: the plan (made before approval) "
                       "puts the objects back."),
        environment=env,  # type: ignore[arg-type]
        files={tfvars_path(env): tfvars_json(spec, env), SPEC_FILE: spec_text},
        plan=summary, rollback=("adopt the drift instead: set the spec to the values that were in the cloud ("
                                + "; ".join(f"{p} = {v!r}" for p, v in report.adoptable.items()) + ") and apply"),
        risk="high" if env == "prod" else "medium", resource_count=len(report.items), author="planner",
    )


async def plan_drift(ctx: Any, spec: dict[str, Any], env: str | None, language: Language, replies: list[str]
                     ) -> tuple[RulesPlan, list[Proposal]]:
    config_dir = ctx.settings.config_dir
    if env is None:
        envs = list(spec.get("environments") or {})
        question = (f"어느 환경이 스펙대로인지 확인할까요? ({', '.join(envs)})" if language == "ko"
                    else f"Which environment should I compare with the spec: {', '.join(envs)}?")
        return RulesPlan(SpecChange(intent="query", task="drift", question=question, rationale="needs input: environment"),
                         [], "environment"), []
    plan_json, source, problem = await read_refresh_plan(ctx, env)
    if plan_json is None:
        answer = (f"{env}의 드리프트를 확인할 수 없습니다: {problem}." if language == "ko" else f"Drift in {env} could not be read: {problem}.")
        return RulesPlan(SpecChange(intent="query", task="drift", environment=env, answer=answer, rationale="drift not read"),  # type: ignore[arg-type]
                         [note(problem or "drift not read", "limitation")], None), []
    report = summarize_drift(plan_json, env, config_dir, source)
    if not report.items:
        return RulesPlan(SpecChange(intent="query", task="drift", environment=env, drift=report,  # type: ignore[arg-type]
                                    answer=describe_drift(report, language), rationale="no drift"), [], None), []
    choice = choice_of(replies, config_dir)
    if choice is None:
        return RulesPlan(SpecChange(intent="query", task="drift", environment=env, drift=report, question=_question(report, language),  # type: ignore[arg-type]
                                    choices=["adopt", "revert"], rationale="drift: adopt or revert?"), [], "choice"), []
    if choice == "cancel":
        answer = "아무것도 바꾸지 않았습니다. 드리프트는 그대로 남아 있습니다." if language == "ko" else "Nothing changed: the drift stays as it is."
        return RulesPlan(SpecChange(intent="query", task="drift", environment=env, drift=report, answer=answer,  # type: ignore[arg-type]
                                    rationale="drift: left as it is"), [], None), []
    chosen = report.model_copy(update={"choice": choice})
    if choice == "revert":
        proposal = revert_proposal(spec, env, chosen, language)
        return RulesPlan(SpecChange(intent="modify", task="drift", environment=env, drift=chosen,  # type: ignore[arg-type]
                                    rationale=f"revert drift in {env}: apply the spec as it is"),
                         [note(f"drift in {env}: reverting to the spec ({len(report.items)} resource(s))")], None), [proposal]
    changes = {p: v for p, v in report.adoptable.items() if value_at(spec, p) != v}
    if not changes:
        answer = ("스펙에 반영할 수 있는 값이 없습니다: 바뀐 속성은 스펙이 다루지 않습니다. 되돌리기(revert)만 가능합니다." if language == "ko"
                  else "Nothing here can be adopted: the spec does not hold the attributes that changed. Only reverting is possible.")
        return RulesPlan(SpecChange(intent="query", task="drift", environment=env, drift=chosen, answer=answer,  # type: ignore[arg-type]
                                    rationale="drift: nothing adoptable"), [], None), []
    try:
        apply_changes(spec, changes)
    except SpecError as exc:
        answer = (f"드리프트 값을 스펙에 그대로 넣을 수 없습니다: {exc}. 되돌리기를 권합니다." if language == "ko"
                  else f"The drifted values do not fit the spec: {exc}. Reverting is the way back.")
        return RulesPlan(SpecChange(intent="query", task="drift", environment=env, drift=chosen, answer=answer,  # type: ignore[arg-type]
                                    rationale="drift: not adoptable"), [], None), []
    from agents.planning.intents import _rationale

    left = [f"{i.address}.{a.name}" for i in report.items for a in i.attributes if not a.spec_path]
    notes = [note(f"drift in {env}: adopted into the spec: " + ", ".join(changes))]
    if left:
        notes.append(note("not in the spec, still drifted (revert it separately): " + ", ".join(left[:10]), "warning"))
    return RulesPlan(SpecChange(intent="modify", task="drift", environment=env, drift=chosen, changes=changes,  # type: ignore[arg-type]
                                rationale="adopt drift: " + _rationale(changes, spec)), notes, None), []


__all__ = ["choice_of", "plan_drift", "read_refresh_plan", "revert_proposal"]
