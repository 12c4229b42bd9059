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
from typing import Any

import yaml
from pydantic import BaseModel, Field

from agents.terraform_fixes.base import FixContext, FixPlan
from graphs.errors import ProviderError
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


async def draft_fix(models: Any, fctx: FixContext) -> tuple[FixPlan | None, list[tuple[str, str]], dict[str, RoleUsage]]:
    """(plan or None, [(note, level)], usage). The plan still has to pass validation before anyone sees it."""
    env_spec = fctx.env_spec()
    variables = {
        "diagnosis": fctx.diagnosis.model_dump_json(indent=1),
        "environment": fctx.environment,
        "terraform_output": fctx.terraform_output or "(none)",
        "spec": yaml.safe_dump(env_spec, sort_keys=False) if env_spec else "(no spec)",
        "files": files_for_prompt(fctx),
    }
    try:
        answer = await models.structured("author", PROMPT, variables, AuthoredPatch)
    except ProviderError as exc:
        return None, [(f"the author model failed ({exc}); a person must write this change", "warning")], dict(getattr(exc, "usages", None) or {})
    usage = answer.usages or {"author": answer.usage}
    patch: AuthoredPatch = answer.value
    if patch.cannot_fix or (not patch.files and not patch.spec_changes):
        why = patch.cannot_fix or "it returned no change"
        return None, [(f"the author model proposed no Terraform change: {redact(why)}", "limitation")], usage
    known_dirs = {posixpath.dirname(p) for p in fctx.files}
    edits: dict[str, str] = {}
    for change in patch.files:
        rel = posixpath.normpath(change.path)
        if rel.startswith(("/", "..")) or not rel.endswith(".tf") or (rel not in fctx.files and posixpath.dirname(rel) not in known_dirs):
            return None, [(f"the author model's patch was rejected: it writes {change.path!r}, outside the Terraform files", "warning")], usage
        edits[rel] = change.content if change.content.endswith("\n") else change.content + "\n"
    outside = [p for p in patch.spec_changes if not p.startswith(f"environments.{fctx.environment}.")]
    if outside:
        return None, [(f"the author model's patch was rejected: it changes {', '.join(outside)} outside {fctx.environment}", "warning")], usage
    plan = FixPlan(template="author_model", title=patch.summary[:120], rationale=patch.rationale,
                   spec_changes=patch.spec_changes, file_edits=edits, risk=patch.risk, rollback="revert the diff and apply")
    return plan, [], usage
