"""The author model's turn: when no template fits, ask the "author" role for a patch.

The model sees the diagnosis, Terraform's output, the environment's spec
and the code (redacted by the router, within a size budget) and answers with
an `AuthoredPatch`: whole new file contents or spec changes. Its answer is
held to the same paths and validation as a template's; nothing it writes
outside the Terraform files or the diagnosed environment is accepted.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Awaitable, Callable

import yaml
from pydantic import BaseModel, Field

from agents.terraform_fixes.base import FixContext, FixPlan
from graphs.state import Risk, RoleUsage
from tools.redact import redact

PROMPT = "terraform_author"
MAX_FILES = 3
FILES_BUDGET = 24_000  # characters of Terraform code shown to the model


class FileChange(BaseModel):
    path: str = Field(description="path relative to the Terraform root, as listed")
    content: str = Field(description="the file's full new content")


class AuthoredPatch(BaseModel):
    """What the author model returns when no template fits."""

    summary: str = Field(description="one line: what the change does")
    rationale: str = Field(default="", description="why this fixes the diagnosed cause")
    files: list[FileChange] = Field(default_factory=list, max_length=MAX_FILES)
    spec_changes: dict[str, Any] = Field(default_factory=dict, description="dotted spec path -> new value")
    risk: Risk = "medium"
    cannot_fix: str | None = Field(default=None, description="why no Terraform change fixes this, if so")


def files_for_prompt(fctx: FixContext) -> str:
    """The files Terraform's output names first, then the rest, within the budget."""
    named = set(re.findall(r"on ([\w./-]+\.tf) line", fctx.terraform_output or ""))
    ordered = sorted(fctx.files, key=lambda p: (p not in named, p.count("/"), p))
    parts: list[str] = []
    used = 0
    for path in ordered:
        if not path.endswith((".tf", ".tfvars.json")):
            continue
        chunk = f"--- {path}\n{fctx.files[path]}\n"
        if used + len(chunk) > FILES_BUDGET:
            parts.append(f"--- {path} (not shown: over the size budget)\n")
            continue
        parts.append(chunk)
        used += len(chunk)
    return "".join(parts) or "(no Terraform files)"


ANSWER_TOOL = "AuthoredPatch"  # the schema's name, as the single-call author used
ANSWER_HELP = "Your change: whole new file contents and/or spec changes, or cannot_fix with one sentence why."
Check = Callable[[FixPlan], Awaitable[str | None]]


def plan_of(patch: AuthoredPatch, fctx: FixContext) -> FixPlan | str:
    """The patch as a FixPlan, or why it may not be one (paths outside the Terraform files or the environment)."""
    known_dirs = {posixpath.dirname(p) for p in fctx.files}
    edits: dict[str, str] = {}
    for change in patch.files:
        rel = posixpath.normpath(change.path)
        if rel.startswith(("/", "..")) or not rel.endswith(".tf") or (rel not in fctx.files and posixpath.dirname(rel) not in known_dirs):
            return f"it writes {change.path!r}, outside the Terraform files"
        edits[rel] = change.content if change.content.endswith("\n") else change.content + "\n"
    outside = [p for p in patch.spec_changes if not p.startswith(f"environments.{fctx.environment}.")]
    if outside:
        return f"it changes {', '.join(outside)} outside {fctx.environment}"
    return FixPlan(template="author_model", title=patch.summary[:120], rationale=patch.rationale,
                   spec_changes=patch.spec_changes, file_edits=edits, risk=patch.risk, rollback="revert the diff and apply")


def file_tools(fctx: FixContext) -> list[Any]:
    """The author's read inside its loop: one Terraform file in full (the prompt shows them within a budget)."""
    from agents.investigator.loop import LoopTool, ToolReply

    paths = sorted(p for p in fctx.files if p.endswith((".tf", ".tfvars.json")))
    if not paths:
        return []

    async def read_file(args: dict[str, Any]) -> ToolReply:
        return ToolReply(text=f"--- {args['path']}\n{fctx.files[args['path']]}")

    return [LoopTool(name="read_file", description="The full content of one Terraform file.", run=read_file,
                     schema={"type": "object", "properties": {"path": {"type": "string", "enum": paths[:200]}},
                             "required": ["path"], "additionalProperties": False})]


async def draft_fix(models: Any, fctx: FixContext, check: Check | None = None) -> tuple[FixPlan | None, list[tuple[str, str]], dict[str, RoleUsage]]:
    """(plan or None, [(note, level)], usage). The author model drafts in a bounded loop (file reads); every
    draft is held to the Terraform files and the environment, then to `check` (hcl2, checkov, lints), and a
    failing draft goes back to the model once with the reasons."""
    from agents.investigator.budget import load_investigation_config
    from agents.investigator.loop import run_loop
    from agents.llm import load_prompt, render_prompt

    env_spec = fctx.env_spec()
    variables = {
        "diagnosis": fctx.diagnosis.model_dump_json(indent=1),
        "environment": fctx.environment,
        "terraform_output": fctx.terraform_output or "(none)",
        "spec": yaml.safe_dump(env_spec, sort_keys=False) if env_spec else "(no spec)",
        "files": files_for_prompt(fctx),
    }
    accepted: dict[str, FixPlan] = {}

    async def validate(patch: AuthoredPatch, _gathered: list[Any]) -> str | None:
        if patch.cannot_fix or (not patch.files and not patch.spec_changes):
            return None  # declining is an answer
        plan = plan_of(patch, fctx)
        if isinstance(plan, str):
            return plan
        problem = await check(plan) if check is not None else None
        if problem:
            return f"it failed validation ({problem})"
        accepted["plan"] = plan
        return None

    outcome = await run_loop(models, "author", agent="Terraform author", observation=render_prompt(
        load_prompt(str(models.settings.prompts_dir), PROMPT), variables), tools=file_tools(fctx), answer_schema=AuthoredPatch,
        answer_tool=ANSWER_TOOL, answer_description=ANSWER_HELP, validate=validate,
        budget=load_investigation_config(str(models.settings.config_dir)).budget("authoring"))
    usage = outcome.usages
    if outcome.answer is None:
        if outcome.rejections:
            return None, [(f"the author model's patch was rejected: {outcome.rejections[0]}"
                           + (f" (and again: {outcome.rejections[-1]})" if len(outcome.rejections) > 1 else ""), "warning")], usage
        return None, [(f"the author model failed ({outcome.stopped}); a person must write this change", "warning")], usage
    patch = outcome.answer
    if "plan" not in accepted:
        why = patch.cannot_fix or "it returned no change"
        return None, [(f"the author model proposed no Terraform change: {redact(why)}", "limitation")], usage
    notes = [(f"the author model's first patch was rejected ({outcome.rejections[0]}); its second passed", "info")] if outcome.rejections else []
    return accepted["plan"], notes, usage
