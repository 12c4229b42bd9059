"""The Terraform workspace: plans made before approval, the spec written back with its comments."""

import json
from pathlib import Path

import yaml

from agents.context import AgentContext
from agents.terraform_workspace import plan_for_approval
from config.settings import Settings
from graphs.state import Proposal
from tests.test_deployer import FAKE, MAIN_TF, LocalWorld, fake_env  # noqa: F401 (fixture)
from tools.spec_text import merge_spec_file_text, render_spec_update

REPO = Path(__file__).resolve().parent.parent
SPEC = """# Shop infrastructure (read by terraform/ through envs/<env>.auto.tfvars.json).
project: shop            # resource names: {project}-{env}-{component}
region: ap-northeast-2
owner: platform-team
environments:
  dev:
    enabled: true
    eks:
      version: "1.31"    # pinned until the 1.32 upgrade test passes
      node_count: 2
    tags: {CostCenter: shop-dev}
  prod:
    enabled: true
    rds: {instance_class: db.r6g.large, multi_az: true}   # never single-AZ
"""


def test_a_spec_change_keeps_comments_quoting_and_order():
    spec = yaml.safe_load(SPEC)
    spec["environments"]["dev"]["eks"]["node_count"] = 3
    spec["environments"]["prod"]["rds"]["instance_class"] = "db.r6g.xlarge"
    spec["environments"]["dev"]["redis"] = {"enabled": True}
    out = render_spec_update(SPEC, spec)
    assert yaml.safe_load(out) == spec
    for kept in ("# Shop infrastructure", "# resource names", "# pinned until the 1.32 upgrade test passes", "# never single-AZ",
                 'version: "1.31"', "tags: {CostCenter: shop-dev}"):
        assert kept in out
    assert "node_count: 3" in out and "db.r6g.xlarge" in out
    assert out.index("project:") < out.index("region:") < out.index("environments:")


def test_removed_keys_go_and_a_proposal_without_a_current_file_is_written_as_is():
    spec = yaml.safe_load(SPEC)
    del spec["environments"]["prod"]
    out = merge_spec_file_text(SPEC, yaml.safe_dump(spec))
    assert yaml.safe_load(out) == spec and "never single-AZ" not in out and "# pinned" in out
    assert merge_spec_file_text(None, "project: shop\n") == "project: shop\n"


def test_the_shipped_reference_spec_survives_a_round_trip_unchanged():
    text = (REPO / "terraform" / "spec.yaml").read_text()
    assert render_spec_update(text, yaml.safe_load(text)) == text


def _proposal(**update) -> Proposal:
    fields = dict(id="P-tf-dev-nodes", kind="terraform", title="dev: node_count 2 → 3", environment="dev",
                  files={"main.tf": MAIN_TF, "spec.yaml": "project: shop\n"})
    fields.update(update)
    return Proposal(**fields)


async def test_a_live_proposal_is_planned_in_a_scratch_copy_before_approval(tmp_path, fake_env):
    root = tmp_path / "terraform"
    root.mkdir()
    (root / "spec.yaml").write_text(SPEC)
    settings = Settings(data_dir=tmp_path / "data", terraform_bin=FAKE, terraform_dir=root)
    gate = await plan_for_approval(AgentContext(world=LocalWorld(), settings=settings), _proposal())
    assert not gate.blocked
    plan = gate.proposal.plan
    assert plan is not None and len(plan.plan_hash) == 64 and plan.add == 1
    assert gate.proposal.resource_count == 1 and "planned for approval" in gate.notes[0].text
    assert (root / "spec.yaml").read_text() == SPEC and not (root / "main.tf").exists()  # the workspace is untouched
    calls = [json.loads(line) for line in fake_env.read_text().splitlines()]
    assert {c["argv"][0] for c in calls} <= {"init", "plan", "show"}  # reads only: no apply before approval
    assert all(str(root) != c["cwd"] for c in calls)


async def test_a_proposal_that_cannot_be_planned_is_blocked_not_approved(tmp_path, fake_env, monkeypatch):
    monkeypatch.setenv("FAKE_TF_SCENARIO", "config-error")
    root = tmp_path / "terraform"
    root.mkdir()
    settings = Settings(data_dir=tmp_path / "data", terraform_bin=FAKE, terraform_dir=root)
    gate = await plan_for_approval(AgentContext(world=LocalWorld(), settings=settings), _proposal())
    assert gate.blocked and "no plan to approve" in gate.blocked[0] and gate.proposal.plan is None
    unconfigured = Settings(data_dir=tmp_path / "data", terraform_bin=FAKE)
    gate = await plan_for_approval(AgentContext(world=LocalWorld(), settings=unconfigured), _proposal())
    assert gate.blocked and "CLOUD_DOCTOR_TERRAFORM_DIR" in gate.blocked[0]


async def test_proposals_that_need_no_plan_pass_as_they_are(tmp_path, fake_env):
    settings = Settings(data_dir=tmp_path / "data", terraform_bin=FAKE, terraform_dir=tmp_path / "terraform")
    ctx = AgentContext(world=LocalWorld(), settings=settings)
    command = Proposal(id="P-cmd", kind="command", title="restart", commands=["systemctl restart api"])
    assert (await plan_for_approval(ctx, command)).proposal == command
    assert not fake_env.exists()
