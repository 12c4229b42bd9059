"""Plan JSON from real Terraform runs -> counts, replacements, hash.

Two sources: ../shared/data/terraform (TF 1.0/1.5 runs from iac-eval and
Infracost's test data; skipped when that directory is absent) and
tests/fake_terraform/recorded (TF 1.11.4 runs on this machine).
"""

import json
from pathlib import Path

import pytest

from tools.plan_summary import has_changes, plan_hash, render_plan_summary, summarize_plan

HERE = Path(__file__).parent
SHARED = HERE.parent.parent / "shared" / "data" / "terraform"
RECORDED = HERE / "fake_terraform" / "recorded"

SHARED_COUNTS = {
    "plan-vpc-create.json": (1, 0, 0, []),
    "plan-subnet-create.json": (1, 0, 0, []),  # the vpc beside it is a no-op
    "plan-infracost-example.json": (5, 0, 0, []),
    "plan-update-target.json": (0, 1, 0, []),
}
RECORDED_COUNTS = {
    "plan-create.json": (2, 0, 0, []),
    "plan-update.json": (0, 1, 0, []),
    "plan-nochanges.json": (0, 0, 0, []),
    "plan-destroy.json": (0, 0, 2, []),
    "plan-replace.json": (2, 0, 2, ["terraform_data.cluster", "terraform_data.node_group"]),
    "plan-replace-destroyfirst.json": (2, 0, 2, ["terraform_data.cluster", "terraform_data.node_group"]),
}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/terraform is not present")
def test_every_shared_plan_file_is_covered():
    assert {p.name for p in SHARED.glob("plan-*.json")} == set(SHARED_COUNTS)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/terraform is not present")
@pytest.mark.parametrize("name", sorted(SHARED_COUNTS))
def test_shared_plans(name):
    summary = summarize_plan(load(SHARED / name))
    assert (summary.add, summary.change, summary.destroy, summary.replace) == SHARED_COUNTS[name]


@pytest.mark.parametrize("name", sorted(RECORDED_COUNTS))
def test_recorded_plans_match_terraforms_own_plan_line(name):
    summary = summarize_plan(load(RECORDED / name))
    add, change, destroy, replace = RECORDED_COUNTS[name]
    assert (summary.add, summary.change, summary.destroy, summary.replace) == (add, change, destroy, replace)
    human = (RECORDED / name.replace(".json", ".txt")).read_text(encoding="utf-8")
    if has_changes(summary):
        assert f"Plan: {add} to add, {change} to change, {destroy} to destroy." in human
        assert summary.text.startswith(f"Plan: {add} to add, {change} to change, {destroy} to destroy.")
    else:
        assert "No changes." in human and summary.text.startswith("No changes.")


def test_replacements_are_called_out_with_order_and_reason():
    first = summarize_plan(load(RECORDED / "plan-replace-destroyfirst.json"))
    later = summarize_plan(load(RECORDED / "plan-replace.json"))
    assert "terraform_data.cluster: replace (destroy first; an argument that cannot be updated in place changed)" in first.resources
    assert "terraform_data.cluster: replace (create first; an argument that cannot be updated in place changed)" in later.resources
    assert "Replacements (2, each destroys a resource)" in first.text
    assert "-/+ terraform_data.cluster" in first.text and "+/- terraform_data.cluster" in later.text


def test_destroys_are_listed():
    summary = summarize_plan(load(RECORDED / "plan-destroy.json"))
    assert summary.resources == ["terraform_data.cluster: destroy", "terraform_data.node_group: destroy"]
    assert "Destroyed (2): terraform_data.cluster, terraform_data.node_group" in render_plan_summary(summary)


def test_hash_covers_changes_not_timestamps():
    plan = load(RECORDED / "plan-update.json")
    again = json.loads(json.dumps(plan))
    again["timestamp"] = "2030-01-01T00:00:00Z"
    assert plan_hash(plan) == plan_hash(again) == summarize_plan(plan).plan_hash
    node_group = next(rc for rc in again["resource_changes"] if rc["address"] == "terraform_data.node_group")
    node_group["change"]["after"]["input"]["desired_size"] = 5
    assert plan_hash(again) != plan_hash(plan)
    assert plan_hash(plan, b"file-a") != plan_hash(plan, b"file-b") != plan_hash(plan)
    assert len(plan_hash(plan)) == 64
