"""`terraform show -json` of a plan, reduced to what an approver reads: counts, replacements, one line per change.

The summary also carries the plan's hash, so the deployer can prove that the
plan it applies is the plan that was approved (Atlantis' rule). The hash
covers `resource_changes` in canonical JSON: two plans that would make the
same changes hash the same even though their files (timestamps) differ; a plan
that would change anything else does not. Pass the plan file's bytes as well
to pin one exact file.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from graphs.state import PlanSummary

REASONS = {
    "replace_because_cannot_update": "an argument that cannot be updated in place changed",
    "replace_because_tainted": "the object is tainted",
    "replace_by_request": "replacement was requested (-replace)",
    "replace_by_triggers": "replace_triggered_by fired",
    "delete_because_no_resource_config": "removed from the configuration",
    "delete_because_no_module": "its module was removed",
    "delete_because_wrong_repetition": "count/for_each changed shape",
    "delete_because_count_index": "count was lowered",
    "delete_because_each_key": "its for_each key was removed",
    "delete_because_no_move_target": "its moved block has no target",
    "read_because_config_unknown": "its configuration depends on values known only after apply",
    "read_because_dependency_pending": "it depends on a pending change",
}
SYMBOLS = (("replace (destroy first", "-/+"), ("replace (create first", "+/-"), ("create", "+"), ("update", "~"), ("destroy", "-"), ("read", "<="))


def plan_hash(plan_json: dict[str, Any], plan_bytes: bytes | None = None) -> str:
    """sha256 of the canonical JSON of `resource_changes` (plus the plan file's bytes when given)."""
    canonical = json.dumps(plan_json.get("resource_changes") or [], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8"))
    if plan_bytes is not None:
        digest.update(b"\x00plan-file\x00")
        digest.update(plan_bytes)
    return digest.hexdigest()


def _verb(actions: list[str]) -> str | None:
    if actions == ["create"]:
        return "create"
    if actions == ["update"]:
        return "update"
    if actions == ["delete"]:
        return "destroy"
    if actions == ["delete", "create"]:
        return "replace (destroy first)"
    if actions == ["create", "delete"]:
        return "replace (create first)"
    if actions == ["read"]:
        return "read"
    return None  # no-op


def summarize_plan(plan_json: dict[str, Any], plan_bytes: bytes | None = None) -> PlanSummary:
    """Counts the way Terraform's "Plan:" line does (a replacement is one add and one destroy), replacements named."""
    add = change = destroy = 0
    replace: list[str] = []
    lines: list[str] = []
    for rc in plan_json.get("resource_changes") or []:
        actions = list((rc.get("change") or {}).get("actions") or [])
        verb = _verb(actions)
        if verb is None:
            continue
        address = rc.get("address") or f"{rc.get('type')}.{rc.get('name')}"
        add += "create" in actions
        destroy += "delete" in actions
        change += actions == ["update"]
        if "create" in actions and "delete" in actions:
            replace.append(address)
        reason = REASONS.get(rc.get("action_reason") or "", rc.get("action_reason") or "")
        if reason and verb.endswith(")"):
            lines.append(f"{address}: {verb[:-1]}; {reason})")
        else:
            lines.append(f"{address}: {verb}" + (f" ({reason})" if reason else ""))
    summary = PlanSummary(add=add, change=change, destroy=destroy, replace=replace, resources=lines,
                          plan_hash=plan_hash(plan_json, plan_bytes))
    return summary.model_copy(update={"text": render_plan_summary(summary)})


def has_changes(summary: PlanSummary) -> bool:
    return bool(summary.add or summary.change or summary.destroy)


def render_plan_summary(summary: PlanSummary) -> str:
    """A short text for people: the Plan: line, replacements and deletions called out, one line per change."""
    if not has_changes(summary) and not summary.resources:
        return "No changes. The infrastructure matches the configuration."
    out = [f"Plan: {summary.add} to add, {summary.change} to change, {summary.destroy} to destroy."]
    if summary.replace:
        out.append(f"Replacements ({len(summary.replace)}, each destroys a resource): {', '.join(summary.replace)}")
    destroyed = [line.split(":", 1)[0] for line in summary.resources if line.split(": ", 1)[1].startswith("destroy")]
    if destroyed:
        out.append(f"Destroyed ({len(destroyed)}): {', '.join(destroyed)}")
    for line in summary.resources:
        address, rest = line.split(": ", 1)
        symbol = next((sym for prefix, sym in SYMBOLS if rest.startswith(prefix)), "?")
        out.append(f"  {symbol:>3} {address}: {rest}")
    if summary.plan_hash:
        out.append(f"plan sha256 {summary.plan_hash[:12]}")
    return "\n".join(out)
