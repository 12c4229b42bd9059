"""Policy gates: approvals by environment and cost, windows and blocked dates in Asia/Seoul."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from graphs.state import ApprovalDecision, ApprovalRequest, ApprovalRule, UserRef
from tools.policy import ApprovalError, ChangeFacts, check_decision, default_policy, evaluate_change, still_needed

KST = ZoneInfo("Asia/Seoul")
TUESDAY_10 = datetime(2026, 3, 3, 10, 0, tzinfo=KST)
FRIDAY_EVENING = datetime(2026, 3, 6, 19, 30, tzinfo=KST)


def decide(policy, **facts):
    return evaluate_change(policy, ChangeFacts(**facts))


def test_small_dev_change_needs_no_approval():
    d = decide(default_policy(), environment="dev", kind="terraform", cost_delta_monthly=-30, resource_count=1, at=TUESDAY_10)
    assert not d.required


def test_large_dev_change_is_plan_only_until_approved():
    d = decide(default_policy(), environment="dev", kind="terraform", cost_delta_monthly=35, resource_count=2, at=TUESDAY_10)
    assert d.required and d.rules[0].count == 1 and not d.blocked


def test_prod_needs_two_including_lead_or_cto():
    d = decide(default_policy(), environment="prod", kind="terraform", cost_delta_monthly=10, resource_count=1, at=TUESDAY_10)
    assert [(r.count, "cto" in r.roles) for r in d.rules] == [(2, True), (1, True)]
    assert "developer" not in d.rules[0].roles


def test_cost_tiers_raise_the_count_and_ask_for_justification():
    policy = default_policy()
    d = decide(policy, environment="staging", kind="terraform", cost_delta_monthly=90, resource_count=1, at=TUESDAY_10)
    assert d.rules[0].count == 1 and not d.blocked
    d = decide(policy, environment="prod", kind="terraform", cost_delta_monthly=499, resource_count=1, at=TUESDAY_10)
    assert d.rules[0].count == 2
    d = decide(policy, environment="staging", kind="terraform", cost_delta_monthly=150, resource_count=1, at=TUESDAY_10)
    assert d.blocked and "max_cost_increase" in d.blocked[0] and "split the change" in d.unblock_hint


def test_friday_evening_prod_is_blocked_with_reason_and_next_window():
    d = decide(default_policy(), environment="prod", kind="terraform", cost_delta_monthly=0, resource_count=1, at=FRIDAY_EVENING)
    assert d.blocked and "outside the prod deployment window" in d.blocked[0] and "Fri 2026-03-06 19:30" in d.blocked[0]
    assert "Mon 2026-03-09 09:00" in d.unblock_hint and "--emergency" in d.unblock_hint


def test_christmas_is_blocked_even_inside_the_window():
    d = decide(default_policy(), environment="prod", kind="command", at=datetime(2026, 12, 24, 10, 0, tzinfo=KST))  # Thursday
    assert any("12-24..12-26" in b for b in d.blocked)
    d = decide(default_policy(), environment="prod", kind="command", at=datetime(2027, 1, 1, 10, 0, tzinfo=KST))
    assert any("12-31..01-02" in b for b in d.blocked)


def test_emergency_override_adds_an_approval_instead_of_blocking():
    d = decide(default_policy(), environment="prod", kind="command", at=FRIDAY_EVENING, emergency=True)
    assert not d.blocked
    assert d.rules[-1].roles == ["cto", "devops-lead"]


def test_window_is_judged_in_seoul_time():
    # 01:00 UTC on a Tuesday is 10:00 in Seoul: inside the window.
    d = decide(default_policy(), environment="prod", kind="command", at=datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc))
    assert not d.blocked


def test_destroying_prod_needs_the_strongest_approvals_and_the_name():
    d = decide(default_policy(), environment="prod", kind="terraform", destructive=True, destroys_environment=True, at=TUESDAY_10)
    assert d.rules[0].roles == ["devops-lead", "cto"] and d.rules[0].count == 2
    assert d.confirmation == "prod"


def _request(rules, **extra):
    return ApprovalRequest(id="A1", proposal_id="P1", action="apply", reason="r", environment="prod", rules=rules,
                           still_needed=rules, requested_by=UserRef(id="U1", name="alice"), **extra)


def test_still_needed_counts_one_person_once_per_rule():
    rules = [ApprovalRule(count=2, roles=["senior", "devops-lead"]), ApprovalRule(count=1, roles=["devops-lead"])]
    lead = ApprovalDecision(request_id="A1", user=UserRef(id="U2", name="bob"), role="devops-lead", approved=True)
    left = still_needed(rules, [lead])
    assert [(r.count, r.roles) for r in left] == [(1, ["senior", "devops-lead"])]
    senior = ApprovalDecision(request_id="A1", user=UserRef(id="U3", name="carol"), role="senior", approved=True)
    assert still_needed(rules, [lead, senior]) == []


def test_check_decision_refuses_wrong_role_self_and_duplicates():
    policy = default_policy()
    rules = [ApprovalRule(count=1, roles=["devops-lead", "cto"])]
    request = _request(rules)
    with pytest.raises(ApprovalError, match="cannot approve this"):
        check_decision(policy, request, ApprovalDecision(request_id="A1", user=UserRef(id="U9"), role="developer", approved=True), [])
    with pytest.raises(ApprovalError, match="cannot approve it"):
        check_decision(policy, request, ApprovalDecision(request_id="A1", user=UserRef(id="U1"), role="cto", approved=True), [])
    with pytest.raises(ApprovalError, match="unknown role"):
        check_decision(policy, request, ApprovalDecision(request_id="A1", user=UserRef(id="U9"), role="intern", approved=True), [])
    # a rejection from anyone with a known role is always accepted
    check_decision(policy, request, ApprovalDecision(request_id="A1", user=UserRef(id="U9"), role="developer", approved=False), [])


def test_expired_request_cannot_be_decided():
    request = _request([ApprovalRule(count=1, roles=["cto"])], expires_at=datetime.now(timezone.utc) - timedelta(hours=1))
    with pytest.raises(ApprovalError, match="expired"):
        check_decision(default_policy(), request, ApprovalDecision(request_id="A1", user=UserRef(id="U9"), role="cto", approved=True), [])


def test_whole_environment_changes_skip_per_change_limits_but_keep_cost_tiers():
    d = decide(default_policy(), environment="dev", kind="terraform", cost_delta_monthly=287, resource_count=47,
               whole_environment=True, at=TUESDAY_10)
    assert not d.blocked and d.rules[0].count == 2  # the $100-500 tier
    d = decide(default_policy(), environment="dev", kind="terraform", cost_delta_monthly=287, resource_count=47, at=TUESDAY_10)
    assert d.blocked
