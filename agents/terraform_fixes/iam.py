"""Permission fixes: grant the one IAM action an AccessDenied names, to the role that needed it.

Least privilege: the action goes into a policy document already attached to
the role (next to actions of the same service), scoped to the resource ARN
from the error when there is one. A role these files do not manage is not
guessed at; the template gives up and says so.
"""

from __future__ import annotations

import re

from agents.terraform_fixes import hcl_text
from agents.terraform_fixes.base import FixContext, FixPlan

_ACTION = re.compile(r"not authorized to perform:?\s+([a-z0-9-]+:[A-Za-z0-9*]+)")
_PRINCIPAL = re.compile(r"arn:aws[a-z-]*:(?:sts|iam)::\d+:(?:assumed-role|role)/([A-Za-z0-9+=,.@_-]+)")
_RESOURCE = re.compile(r"on resource:?\s+(arn:aws[a-z-]*:[^\s\"',]+)")


def _facts(ctx: FixContext) -> tuple[str | None, str | None, str | None]:
    text = ctx.text()
    action = ctx.target.get("action") if isinstance(ctx.target.get("action"), str) and ":" in str(ctx.target.get("action")) else None
    if action is None:
        try:
            from tools.terraform_errors import parse_terraform_output

            action = next((i.action for i in parse_terraform_output(ctx.terraform_output or "") if i.action), None)
        except ImportError:
            pass
    if action is None:
        m = _ACTION.search(text)
        action = m.group(1) if m else None
    role = ctx.target.get("role")
    if not isinstance(role, str):
        m = _PRINCIPAL.search(text)
        role = m.group(1) if m else None
    resource = ctx.target.get("resource_arn")
    if not isinstance(resource, str):
        m = _RESOURCE.search(text)
        resource = m.group(1) if m else None
    return action, role, resource


def _role_label(ctx: FixContext, role: str) -> tuple[str, str] | None:
    """(directory file, label) of the aws_iam_role whose name matches the role in the error."""
    project = (ctx.spec or {}).get("project")
    prefix = f"{project}-{ctx.environment}" if project else None
    for path, span in hcl_text.resource_blocks(ctx.files, "aws_iam_role"):
        text = ctx.files[path]
        attr = hcl_text.attribute(text, span, "name")
        if attr is None:
            continue
        expression = attr.value(text).strip().strip('"')
        regex = ""
        for part in re.split(r"(\$\{[^}]*\})", expression):
            if part.startswith("${"):
                regex += re.escape(prefix) if prefix and part in ("${var.name_prefix}", "${local.name_prefix}") else r"[A-Za-z0-9_.-]*?"
            else:
                regex += re.escape(part)
        if re.fullmatch(regex, role) or span.labels[1] == role:
            return path, span.labels[1]
    return None


def grant_iam_action(ctx: FixContext) -> FixPlan | None:
    """permission_denied: add the missing action to the role's policy document."""
    if ctx.diagnosis.root_cause != "permission_denied" or not ctx.files:
        return None
    action, role, resource = _facts(ctx)
    if not action or not role:
        return None
    found = _role_label(ctx, role)
    if found is None:
        return None
    role_path, label = found
    service = action.split(":", 1)[0]
    # Policy documents attached to the role: aws_iam_role_policy { role = aws_iam_role.<label>..., policy = data.aws_iam_policy_document.<doc>.json }
    docs: list[str] = []
    for path, span in hcl_text.resource_blocks(ctx.files, "aws_iam_role_policy"):
        text = ctx.files[path]
        attrs = hcl_text.attributes(text, span)
        if "role" in attrs and f"aws_iam_role.{label}." in attrs["role"].value(text) and "policy" in attrs:
            m = re.search(r"data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json", attrs["policy"].value(text))
            if m:
                docs.append(m.group(1))
    for doc in docs:
        for path, text in sorted(ctx.files.items()):
            if not path.endswith(".tf"):
                continue
            span = hcl_text.block(text, "data", "aws_iam_policy_document", doc)
            if span is None:
                continue
            statements = hcl_text.blocks(text, "statement", within=span)
            for statement in statements:
                attrs = hcl_text.attributes(text, statement)
                actions = attrs.get("actions")
                if actions is None or f'"{service}:' not in actions.value(text):
                    continue
                if f'"{action}"' in actions.value(text):
                    return None  # granted already: the denial comes from elsewhere (an SCP, a boundary, the resource policy)
                new_text = text
                resources = attrs.get("resources")
                if resource and resources is not None and '"*"' not in resources.value(text) and resource not in resources.value(text):
                    new_text = hcl_text.set_value(new_text, resources, _add_item(resources.value(text), f'"{resource}"'))
                new_text = hcl_text.set_value(new_text, actions, _add_item(actions.value(text), f'"{action}"'))
                return _plan(ctx, path, new_text, action, role, f"data.aws_iam_policy_document.{doc}")
            snippet = (f"statement {{\n  sid       = \"{_sid(action)}\"\n  actions   = [\"{action}\"]\n"
                       f"  resources = [\"{resource or '*'}\"]\n}}")
            return _plan(ctx, path, hcl_text.insert_in_block(text, span, snippet), action, role, f"data.aws_iam_policy_document.{doc}")
    return None


def _sid(action: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", action.title())


def _add_item(list_text: str, item: str) -> str:
    """Append an item to an HCL list literal, keeping its layout (one line or one item per line)."""
    body = list_text.strip()
    if not body.startswith("[") or not body.endswith("]"):
        raise hcl_text.HclEditError(f"not a list literal: {list_text[:40]}")
    inner = body[1:-1]
    if "\n" in inner:
        lines = inner.rstrip().split("\n")
        indent = re.match(r"[ \t]*", lines[-1] if lines[-1].strip() else lines[-2]).group(0)
        last = inner.rstrip().rstrip(",")
        closing = re.match(r"[ \t]*", body.split("\n")[-1]).group(0)
        return f"[{last},\n{indent}{item},\n{closing}]"
    items = inner.strip().rstrip(",")
    return f"[{items}, {item}]" if items else f"[{item}]"


def _plan(ctx: FixContext, path: str, new_text: str, action: str, role: str, where: str) -> FixPlan:
    return FixPlan(
        template="grant_iam_action",
        title=f"grant {action} to role {role}",
        rationale=f"AWS denied {action} to {role}; the action is added to {where} ({path}), scoped to the resource in the error where one was named",
        file_edits={path: new_text},
        risk="medium" if ctx.environment != "prod" else "high",
        notes=["if the denial persists, an SCP, a permissions boundary or the resource's own policy also blocks it"],
        rollback=f"remove {action} from {where}",
    )
