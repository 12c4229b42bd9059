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


def test_prod_remedy_needs_two_including_lead_or_cto():
    d = decide(default_policy(), environment="prod", kind="command", resource_count=1, at=TUESDAY_10)
    assert [(r.count, "cto" in r.roles) for r in d.rules] == [(2, True), (1, True)]
    assert "developer" not in d.rules[0].roles


def _approve(name: str, role: str) -> ApprovalDecision:
    return ApprovalDecision(request_id="A1", user=UserRef(id=name, name=name), role=role, approved=True)


def test_prod_apply_needs_the_devops_lead_and_the_cto():
    """The infrastructure conventions' production apply rule is the shipped default: both, not one of them."""
    d = decide(default_policy(), environment="prod", kind="terraform", cost_delta_monthly=10, resource_count=1, at=TUESDAY_10)
    assert d.rules[0].count == 2
    assert still_needed(d.rules, [_approve("kim", "devops-lead"), _approve("park", "senior")]) == [
        r for r in d.rules if r.roles == ["cto"]]
    assert still_needed(d.rules, [_approve("kim", "devops-lead"), _approve("lee", "devops-lead")])  # two leads: no CTO
    assert still_needed(d.rules, [_approve("kim", "devops-lead"), _approve("lee", "cto")]) == []
    # the cost tiers still raise the count of the first rule: a third approver above $500/month
    d = decide(default_policy(), environment="prod", kind="terraform", cost_delta_monthly=480, resource_count=1, at=TUESDAY_10)
    assert d.rules[0].count == 2
    d = decide(default_policy(), environment="prod", kind="terraform", cost_delta_monthly=501, resource_count=1, at=TUESDAY_10)
    assert d.rules[0].count == 3 and still_needed(d.rules, [_approve("kim", "devops-lead"), _approve("lee", "cto")])


def test_prod_manual_rollback_needs_the_devops_lead_and_the_cto_at_any_hour():
    d = decide(default_policy(), environment="prod", kind="rollback", at=FRIDAY_EVENING)
    assert not d.blocked
    assert still_needed(d.rules, [_approve("kim", "devops-lead"), _approve("park", "sre")])
    assert still_needed(d.rules, [_approve("kim", "devops-lead"), _approve("lee", "cto")]) == []
    d = decide(default_policy(), environment="staging", kind="rollback", at=FRIDAY_EVENING)
    assert d.rules[0].count == 1 and not d.blocked


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
    assert d.blocked and "outside the prod infrastructure deployment window" in d.blocked[0] and "Fri 2026-03-06 19:30" in d.blocked[0]
    assert "Mon 2026-03-09 09:00" in d.unblock_hint and "--emergency" in d.unblock_hint


def test_christmas_is_blocked_even_inside_the_window():
    d = decide(default_policy(), environment="prod", kind="terraform", at=datetime(2026, 12, 24, 10, 0, tzinfo=KST))  # Thursday
    assert any("12-24..12-26" in b for b in d.blocked)
    d = decide(default_policy(), environment="prod", kind="command", at=datetime(2027, 1, 1, 10, 0, tzinfo=KST))
    assert any("12-31..01-02" in b for b in d.blocked)


def test_emergency_override_adds_an_approval_instead_of_blocking():
    d = decide(default_policy(), environment="prod", kind="terraform", at=FRIDAY_EVENING)
    assert d.blocked
    d = decide(default_policy(), environment="prod", kind="terraform", at=FRIDAY_EVENING, emergency=True)
    assert not d.blocked
    assert d.rules[-1].roles == ["cto", "devops-lead"] and "emergency override" in d.reasons[-1]


def test_each_kind_of_change_has_its_own_window():
    policy = default_policy()
    # infrastructure: Mon–Thu 09:00–17:00 only
    assert decide(policy, environment="prod", kind="terraform", at=TUESDAY_10).blocked == []
    assert decide(policy, environment="prod", kind="unlock", at=FRIDAY_EVENING).blocked
    # an incident remedy is not held by the weekly window
    assert decide(policy, environment="prod", kind="command", at=FRIDAY_EVENING).blocked == []
    # a code hotfix may go out in business hours, with a warning; outside them without one
    noon = decide(policy, environment="prod", kind="code_patch", at=TUESDAY_10)
    assert not noon.blocked and noon.warnings and "outside business hours" in noon.warnings[0]
    evening = decide(policy, environment="prod", kind="code_patch", at=datetime(2026, 3, 3, 20, 0, tzinfo=KST))
    assert not evening.blocked and not evening.warnings
    # dev has no windows at all
    assert decide(policy, environment="dev", kind="terraform", cost_delta_monthly=35, resource_count=2, at=FRIDAY_EVENING).blocked == []


@pytest.mark.parametrize("day, blocked", [
    (datetime(2026, 1, 30, 10, 0, tzinfo=KST), True),    # last Friday of January
    (datetime(2026, 1, 23, 10, 0, tzinfo=KST), False),   # a Friday, not the last
    (datetime(2026, 7, 31, 10, 0, tzinfo=KST), True),    # the 31st
    (datetime(2026, 2, 27, 10, 0, tzinfo=KST), True),    # February's last Friday (28 days)
    (datetime(2026, 3, 26, 10, 0, tzinfo=KST), False),   # a Thursday in the window
])
def test_the_last_friday_of_every_month_is_blocked_for_releases_and_infrastructure(day, blocked):
    policy = default_policy()
    release = decide(policy, environment="prod", kind="code_patch", at=day)
    assert bool(release.blocked) is blocked
    if blocked:
        assert "the last Fri of every month (monthly maintenance day)" in release.blocked[0]
        assert any("last Fri" in b for b in decide(policy, environment="prod", kind="terraform", at=day).blocked)
    assert decide(policy, environment="prod", kind="command", at=day).blocked == []  # remedies are not held


def test_next_window_hint_skips_the_last_friday_and_blocked_days():
    policy = default_policy()
    # Thursday 2026-01-29 17:30: Friday the 30th is the maintenance day and outside Mon–Thu anyway; Monday opens
    d = decide(policy, environment="prod", kind="terraform", at=datetime(2026, 1, 29, 17, 30, tzinfo=KST))
    assert "Mon 2026-02-02 09:00" in d.unblock_hint
    # a release on the last Friday of July (no weekly window) may go the next day at midnight
    d = decide(policy, environment="prod", kind="code_patch", at=datetime(2026, 7, 31, 10, 0, tzinfo=KST))
    assert "Sat 2026-08-01 00:00" in d.unblock_hint


def test_recurring_blocked_days_and_windows_are_validated(tmp_path):
    from graphs.errors import ConfigError
    from tools.policy import load_policy

    base = "roles: [devops]\nenvironments:\n  prod:\n    approvals: [{count: 1, roles: [devops]}]\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(base + "    changes:\n      release:\n        blocked: [{weekday: Fri, occurrence: fifth}]\n")
    with pytest.raises(ConfigError, match="occurrence"):
        load_policy(bad)
    bad.write_text(base + "    changes:\n      deploys: {}\n")
    with pytest.raises(ConfigError, match="changes"):
        load_policy(bad)
    good = tmp_path / "good.yaml"
    good.write_text(base + "    changes:\n      release:\n        blocked: [{weekday: Mon, occurrence: first}]\n")
    policy = load_policy(good)
    assert decide(policy, environment="prod", kind="release", at=datetime(2026, 3, 2, 10, 0, tzinfo=KST)).blocked
    assert not decide(policy, environment="prod", kind="release", at=datetime(2026, 3, 9, 10, 0, tzinfo=KST)).blocked
    # the older per-environment form still works for classes without their own entry
    old = tmp_path / "old.yaml"
    old.write_text(base + "    windows: [{days: [Mon], start: '09:00', end: '10:00'}]\n    blocked_dates: ['03-03']\n")
    policy = load_policy(old)
    assert decide(policy, environment="prod", kind="command", at=TUESDAY_10).blocked


def test_window_is_judged_in_seoul_time():
    # 01:00 UTC on a Tuesday is 10:00 in Seoul: inside the window.
    d = decide(default_policy(), environment="prod", kind="command", at=datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc))
    assert not d.blocked


def test_destroying_prod_needs_the_strongest_approvals_and_the_name():
    d = decide(default_policy(), environment="prod", kind="terraform", destructive=True, destroys_environment=True, at=TUESDAY_10)
    assert d.rules[0].roles == ["devops-lead", "cto"] and d.rules[0].count == 2
    assert still_needed(d.rules, [_approve("kim", "devops-lead"), _approve("lee", "devops-lead")])  # the CTO too
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
