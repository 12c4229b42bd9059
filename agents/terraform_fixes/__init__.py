"""The library of Terraform fix templates, by root cause.

Each template reads a `FixContext` (diagnosis, spec, Terraform files,
Terraform's output) and returns a `FixPlan` or None. `choose_fix` tries the
templates registered for the diagnosis' root cause in order; the first that
fits wins. Anything else goes to the author LLM, or to a person.
"""

from __future__ import annotations

from agents.terraform_fixes.base import FixContext, FixPlan, Template, apply_spec_changes, get_path, set_path
from agents.terraform_fixes.capacity import bigger_instance_type, scale_node_group
from agents.terraform_fixes.database import raise_max_connections
from agents.terraform_fixes.disk import grow_disk, raise_disk_io
from agents.terraform_fixes.iam import grant_iam_action
from agents.terraform_fixes.names import rename_conflicting
from agents.terraform_fixes.network import narrow_open_ingress, restore_ingress
from agents.terraform_fixes.outputs import add_module_output

TEMPLATES: dict[str, list[Template]] = {
    "capacity_exhausted": [scale_node_group],
    "memory_pressure": [bigger_instance_type],
    "cpu_saturation": [bigger_instance_type],
    "db_connection_exhaustion": [raise_max_connections],
    "disk_full": [grow_disk],
    "disk_io_bottleneck": [raise_disk_io],
    "terraform_config_error": [add_module_output],
    "network_unreachable": [narrow_open_ingress, restore_ingress],
    "resource_name_conflict": [rename_conflicting],
    "permission_denied": [grant_iam_action],
}
# Any root cause: an open security group named by the diagnosis is narrowed.
ANY_CAUSE: list[Template] = [narrow_open_ingress]


def choose_fix(ctx: FixContext) -> FixPlan | None:
    """The first template for the root cause that fits, or None."""
    candidates = TEMPLATES.get(ctx.diagnosis.root_cause, []) + [t for t in ANY_CAUSE if t not in TEMPLATES.get(ctx.diagnosis.root_cause, [])]
    for template in candidates:
        plan = template(ctx)
        if plan is not None:
            return plan
    return None


__all__ = ["FixContext", "FixPlan", "TEMPLATES", "choose_fix", "apply_spec_changes", "get_path", "set_path"]
