"""The Terraform workspace a proposal is planned and applied in, and how it is put back.

Three promises live here:

- The plan the approvers see is the plan that may be applied: a live
  Terraform proposal is planned *before* it is put to the approvers, in a
  scratch copy of the workspace, and its plan hash travels with the
  proposal (`plan_for_approval`). The deployer applies only a plan whose
  hash equals the approved one; without an approved hash it applies nothing.
- A live world's Terraform directory is the one configured
  (CLOUD_DOCTOR_TERRAFORM_DIR), never the repository's own terraform/.
- A failed apply leaves the workspace as it was: every file written for the
  proposal is restored (or removed, if it was new) by `WorkspaceBackup`.
  `spec.yaml` is written over the current one with its comments kept
  (tools/spec_text.py).

The scratch copy leaves out `.terraform/` and runs `terraform init` itself;
configure a provider plugin cache (TF_PLUGIN_CACHE_DIR) so it does not
download providers for every plan.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from agents.context import AgentContext
from graphs.errors import ConfigError
from graphs.state import AgentNote, Proposal
from tools.spec_text import merge_spec_file_text
from tools.terraform_runner import TerraformError, TerraformRunner, is_stand_in
from tools.tfvars import SPEC_FILE

SCRATCH_IGNORE = shutil.ignore_patterns(".terraform", "*.tfplan", "tfplan", ".terraform.tfstate.lock.info")


def runs_terraform(ctx: AgentContext) -> bool:
    """Terraform really runs in a live world, or in a recorded one when the binary is the test stand-in."""
    return ctx.world.name != "recorded" or is_stand_in(ctx.settings.terraform_bin)


def safe_relative(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"refused to write {path!r}: proposal files must be relative paths inside the Terraform directory")
    return rel


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)


@dataclass
class WorkspaceBackup:
    """What the files written for a proposal held before (None: the file did not exist)."""

    root: Path
    originals: dict[Path, str | None] = field(default_factory=dict)

    def write(self, rel: PurePosixPath, text: str) -> None:
        target = self.root / rel
        if target not in self.originals:
            self.originals[target] = target.read_text(encoding="utf-8") if target.is_file() else None
        if rel.name == SPEC_FILE:
            text = merge_spec_file_text(self.originals[target], text)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def restore(self) -> int:
        """Put every written file back as it was; returns how many files were restored or removed."""
        for target, original in self.originals.items():
            if original is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(original, encoding="utf-8")
        return len(self.originals)


def _recorded_copy(ctx: AgentContext, root: Path) -> None:
    """A scratch copy of a recording's Terraform files (replay with the stand-in binary)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name, text in (ctx.world.infra().terraform_files or {}).items():
        target = root / safe_relative(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def prepare_workspace(ctx: AgentContext, proposal: Proposal) -> tuple[Path, WorkspaceBackup]:
    """Write the approved files where they are applied: the configured Terraform directory (live), or a
    scratch copy of the recorded code. Returns the working directory and the backup to restore on failure."""
    if ctx.world.name == "recorded":
        root = ctx.settings.data_dir / "workspaces" / _slug(proposal.id)
        _recorded_copy(ctx, root)
    else:
        root = ctx.settings.require_terraform_dir()
        root.mkdir(parents=True, exist_ok=True)
    backup = WorkspaceBackup(root)
    for name in proposal.files:
        safe_relative(name)  # refuse the whole proposal before writing any of it
    for name, text in proposal.files.items():
        backup.write(safe_relative(name), text)
    env_dir = root / "envs" / proposal.environment
    return (env_dir if env_dir.is_dir() else root), backup


def environment_args(workdir: Path, environment: str) -> tuple[list[str], list[str]]:
    """Per-environment flags for a root module shared by environments (terraform/envs/<env>.*)."""
    init_args: list[str] = []
    plan_args: list[str] = []
    backend = workdir / "envs" / f"{environment}.backend.hcl"
    if backend.is_file():
        init_args += [f"-backend-config=envs/{environment}.backend.hcl", "-reconfigure"]
    for name in (f"{environment}.auto.tfvars.json", f"{environment}.tfvars.json", f"{environment}.tfvars"):
        if (workdir / "envs" / name).is_file():
            plan_args.append(f"-var-file=envs/{name}")
            break
    return init_args, plan_args


def destroy_mode(proposal: Proposal) -> bool:
    return any(c.strip().startswith(("terraform destroy", "terraform plan -destroy")) for c in proposal.commands)


class PlanGate(BaseModel):
    """A proposal as it goes to the approvers: planned (with its hash), or blocked because it could not be."""

    proposal: Proposal
    notes: list[AgentNote] = Field(default_factory=list)
    blocked: list[str] = Field(default_factory=list)


def _unplanned(proposal: Proposal, why: str) -> PlanGate:
    return PlanGate(proposal=proposal, notes=[AgentNote(agent="deployer", level="warning", text=f"{proposal.id}: {why}")],
                    blocked=[f"no plan to approve: {why} (a Terraform change is applied only as an approved plan)"])


async def plan_for_approval(ctx: AgentContext, proposal: Proposal) -> PlanGate:
    """Plan a Terraform proposal in a scratch copy of its workspace, so the approvers approve a plan hash.

    Proposals that already carry a hash, other kinds, and replays without Terraform pass as they are."""
    if proposal.kind != "terraform" or (proposal.plan is not None and proposal.plan.plan_hash) or not runs_terraform(ctx):
        return PlanGate(proposal=proposal)
    scratch = ctx.settings.data_dir / "plans" / _slug(proposal.id)
    try:
        if ctx.world.name == "recorded":
            _recorded_copy(ctx, scratch)
        else:
            source = ctx.settings.require_terraform_dir()
            if scratch.exists():
                shutil.rmtree(scratch)
            scratch.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source, scratch, ignore=SCRATCH_IGNORE, symlinks=True)
        backup = WorkspaceBackup(scratch)
        for name, text in proposal.files.items():
            backup.write(safe_relative(name), text)
    except (ValueError, OSError, ConfigError) as exc:
        return _unplanned(proposal, f"it could not be planned: {exc}")
    env_dir = scratch / "envs" / proposal.environment
    workdir = env_dir if env_dir.is_dir() else scratch
    runner = TerraformRunner(workdir, binary=ctx.settings.terraform_bin, environment=proposal.environment, audit=ctx.audit,
                             settings=ctx.settings)
    init_args, plan_args = environment_args(workdir, proposal.environment)
    try:
        await runner.init(init_args)
        plan = await runner.plan("approval.tfplan", destroy=destroy_mode(proposal), extra_args=plan_args)
    except TerraformError as exc:
        return _unplanned(proposal, f"terraform plan failed: {str(exc).splitlines()[0]}")
    summary = plan.summary.model_copy(update={"plan_hash": plan.plan_hash})
    planned = proposal.model_copy(update={
        "plan": summary,
        "resource_count": summary.add + summary.change + summary.destroy,
        "destructive": proposal.destructive or summary.destroy > 0,
    })
    return PlanGate(proposal=planned, notes=[AgentNote(
        agent="deployer", text=f"{proposal.id} planned for approval: {summary.add} to add, {summary.change} to change, "
                               f"{summary.destroy} to destroy (plan {plan.plan_hash[:12]}); only this plan will be applied")])
