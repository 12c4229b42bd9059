"""Name conflicts: a name AWS still holds ("scheduled for deletion") or that exists already.

A deleted Secrets Manager secret keeps its name for its recovery window (7
to 30 days); a new resource needs a new name. The fix adds a version suffix
(`-v2`, or the next one): through the spec's `name_suffix` where the code
reads one, else in the name itself. Never `timestamp()`: such a name changes
at every plan and replaces the resource each time.
"""

from __future__ import annotations

import posixpath
import re

from agents.terraform_fixes import hcl_text
from agents.terraform_fixes.base import FixContext, FixPlan, env_path, get_path
from tools.tf_lint import load_lint_config

_CONFLICT_NAME = [
    re.compile(r"creating [^()\n]*?\(([^()\s]+)\)"),
    re.compile(r"(?:secret|name|resource)[^\n]*?['\"]([a-z0-9][a-z0-9/_.-]+)['\"][^\n]*?(?:already exists|scheduled for deletion)", re.I),
    re.compile(r"\b([a-z0-9][a-z0-9_.-]*-[a-z0-9_.-]+) already exists", re.I),
]
_SUFFIX = re.compile(r"-v(\d+)$")


def conflicting_name(ctx: FixContext) -> str | None:
    for key in ("name", "resource_name", "conflicting_name"):
        if isinstance(ctx.target.get(key), str):
            return ctx.target[key]
    try:
        from tools.terraform_errors import parse_terraform_output

        for issue in parse_terraform_output(ctx.terraform_output or ""):
            if issue.category == "resource_name_conflict" and issue.name:
                return issue.name
    except ImportError:  # the parser is optional; the patterns below read the common messages
        pass
    text = ctx.text()
    for pattern in _CONFLICT_NAME:
        m = pattern.search(text)
        if m:
            return m.group(1)
    return None


def _pattern(expression: str, prefix: str | None) -> tuple[re.Pattern[str], int]:
    """A name expression as a regex over real names, and how many literal characters it pins."""
    parts = re.split(r"(\$\{[^}]*\})", expression)
    regex, literal = "", 0
    for part in parts:
        if part.startswith("${"):
            if prefix and part in ("${var.name_prefix}", "${local.name_prefix}"):
                regex += re.escape(prefix)
                literal += len(prefix)
            else:
                regex += r"[A-Za-z0-9_./-]*?"
        else:
            regex += re.escape(part)
            literal += len(part)
    return re.compile(f"^{regex}$"), literal


def next_suffix(current: str) -> str:
    m = re.fullmatch(r"v(\d+)", current or "")
    return f"v{int(m.group(1)) + 1}" if m else "v2"


def rename_conflicting(ctx: FixContext) -> FixPlan | None:
    """resource_name_conflict: give the resource a new, versioned name."""
    if ctx.diagnosis.root_cause != "resource_name_conflict" or not ctx.files:
        return None
    name = conflicting_name(ctx)
    if not name:
        return None
    project = (ctx.spec or {}).get("project")
    prefix = f"{project}-{ctx.environment}" if project else None
    attributes = load_lint_config().naming.attributes
    best: tuple[int, str, hcl_text.Span, hcl_text.Attribute, str] | None = None
    for path, text in sorted(ctx.files.items()):
        if not path.endswith(".tf"):
            continue
        for span in hcl_text.blocks(text, "resource"):
            attrs = hcl_text.attributes(text, span)
            for attr_name in attributes:
                attr = attrs.get(attr_name)
                if attr is None:
                    continue
                expression = attr.value(text).strip()
                if not (expression.startswith('"') and expression.endswith('"')):
                    continue
                regex, literal = _pattern(expression[1:-1], prefix)
                if regex.match(name) and (best is None or literal > best[0]):
                    best = (literal, path, span, attr, expression)
    if best is None:
        return None
    _, path, span, attr, expression = best
    address = ".".join(span.labels)
    scheduled = re.search(r"scheduled for deletion|marked for deletion", ctx.text(), re.I) is not None
    why = (f"the name {name!r} is still held by a deleted resource in its recovery window" if scheduled
           else f"the name {name!r} is taken by a resource this state does not manage")
    notes = ["clients that read the old name (applications, pipelines) must use the new one"]
    if not scheduled:
        notes.append("if the existing resource is the one this code should manage, `terraform import` it instead (a person decides)")
    section = _suffix_section(ctx, path, expression)
    if section is not None:
        current = str(get_path(ctx.env_spec(), f"{section}.name_suffix", "") or "")
        suffix = next_suffix(current)
        return FixPlan(
            template="rename_conflicting",
            title=f"rename {address} in {ctx.environment} with suffix -{suffix}",
            rationale=f"{why}; the code appends {section}.name_suffix to the name, so the spec sets it to {suffix!r}",
            spec_changes={env_path(ctx, section, "name_suffix"): suffix},
            risk="medium",
            notes=notes,
            rollback=f"set {section}.name_suffix back to {current!r} once the old name is free",
        )
    text = ctx.files[path]
    inner = expression[1:-1]
    m = _SUFFIX.search(inner)
    new_inner = f"{inner[:m.start()]}-v{int(m.group(1)) + 1}" if m else f"{inner}-v2"
    return FixPlan(
        template="rename_conflicting",
        title=f"rename {address}: {inner} -> {new_inner}",
        rationale=f"{why}; a versioned suffix gives a fresh name that still follows {{project}}-{{env}}-{{component}}",
        file_edits={path: hcl_text.set_value(text, attr, f'"{new_inner}"')},
        risk="medium",
        notes=notes,
        rollback=f"restore the name {inner!r} in {path} once the old name is free",
    )


def _suffix_section(ctx: FixContext, path: str, expression: str) -> str | None:
    """The spec section whose name_suffix feeds this name (root: `name_suffix = var.<section>.name_suffix`)."""
    if "suffix" not in expression or ctx.env_spec() is None:
        return None
    directory = posixpath.dirname(path)
    for caller, text in ctx.files.items():
        if not caller.endswith(".tf"):
            continue
        for span in hcl_text.blocks(text, "module"):
            attrs = hcl_text.attributes(text, span)
            source = hcl_text.literal_string(attrs["source"].value(text)) if "source" in attrs else None
            if not source or posixpath.normpath(posixpath.join(posixpath.dirname(caller), source)) != directory:
                continue
            suffix = attrs.get("name_suffix")
            m = re.fullmatch(r"var\.([a-z0-9_]+)\.name_suffix", suffix.value(text).strip()) if suffix else None
            if m:
                return m.group(1)
    return None
