"""Who may see which run: the runs a token started, runs in environments its roles may approve, runs shared with it.

A developer's token does not read a prod incident it has no part in; an
approver sees every run it could be asked to approve. Pure functions of the
policy and the run, so the list, the run view and the event stream agree.
"""

from __future__ import annotations

from graphs.threads import ThreadInfo
from tools.policy import Policy


def approvable_environments(policy: Policy, roles: list[str]) -> set[str]:
    """Environments in which at least one of `roles` counts towards some approval."""
    held = set(roles)
    found: set[str] = set()
    for name, env in policy.environments.items():
        rules = [*env.approvals, *env.destroy_approvals]
        if any(held.intersection(rule.roles) for rule in rules):
            found.add(name)
    return found


def can_see(user_id: str, roles: list[str], info: ThreadInfo, policy: Policy, shared: bool) -> bool:
    return info.requested_by == user_id or info.environment in approvable_environments(policy, roles) or shared
