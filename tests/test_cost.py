"""Monthly cost of specs, spec changes and plans, from the offline price table (or Infracost's output).

The table's us-east-1 figures are checked against Infracost's own test output
(../shared/data/terraform/infracost-breakdown.json), so a typo in the table or
a wrong formula shows up here.
"""

import copy
import json
import os
from pathlib import Path

import pytest
import yaml

from tools import cost
from tools.cost import (
    estimate_change_cost,
    estimate_plan_cost,
    estimate_plan_cost_from_table,
    estimate_spec_cost,
    load_price_table,
    parse_infracost_breakdown,
    render_cost_breakdown,
)

HERE = Path(__file__).parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data" / "terraform"
PLANS = HERE / "fake_terraform" / "plans"


@pytest.fixture
def spec():
    scenario = yaml.safe_load((REPO / "evals/scenarios/eks-nodes-ko.yaml").read_text(encoding="utf-8"))
    return scenario["world"]["infra"]["spec"]


def line(est, prefix: str):
    return next(item for item in est.lines if item.resource.startswith(prefix))


def test_price_tables_state_their_date_source_and_region():
    for region in ("ap-northeast-2", "us-east-1"):
        table = load_price_table(region)
        text = (REPO / "config" / "prices" / f"{region}.yaml").read_text(encoding="utf-8")
        assert table.region == region and table.as_of and "approximate" in table.source
        assert "as of" in text and "on-demand" in text.lower()
        assert table.hours_per_month == 730
        assert {"t3.medium", "m5.large", "m6i.large", "c5.large", "r5.large"} <= set(table.ec2_hour)
        assert {"db.t3.micro", "db.t4g.micro", "db.m5.large", "db.m6g.large", "db.r5.large", "db.r6g.large"} <= set(table.rds_mysql_hour)
        assert {"cache.t3.micro", "cache.t4g.micro", "cache.m5.large", "cache.r6g.large"} <= set(table.elasticache_hour)


def test_anchor_prices_from_infracosts_tests():
    us = load_price_table("us-east-1")
    assert round(us.eks["cluster_hour"] * 730, 2) == 73.00
    assert round(us.nat_gateway["hour"] * 730, 2) == 32.85
    assert round(us.ec2_hour["t3.medium"] * 730, 2) == 30.37


def test_example_spec_costs_per_component(spec):
    est = estimate_spec_cost(spec, "dev")
    # ap-northeast-2: EKS $0.10/h, t3.medium $0.052/h, NAT $0.059/h, db.t3.micro $0.026/h, t3.small $0.026/h
    assert line(est, "dev/eks: Control plane").monthly_after == 73.00
    assert line(est, "dev/eks: Worker nodes (t3.medium) (3 nodes").monthly_after == 113.88
    assert line(est, "dev/vpc: NAT gateway").monthly_after == 43.07
    assert line(est, "dev/rds: Database instance (db.t3.micro, Single-AZ)").monthly_after == 18.98
    assert line(est, "dev/rds: Storage (gp3, Single-AZ) (20 GB").monthly_after == 2.62
    assert line(est, "dev/rds: Secrets Manager secret").monthly_after == 0.40
    assert line(est, "dev/ec2.management: Instance (t3.small)").monthly_after == 18.98
    assert not [item for item in est.lines if item.resource.startswith("dev/redis")]  # redis disabled: no cost
    assert est.monthly_before == 0 and est.monthly_after == 287.35
    assert est.monthly_after == round(sum(item.monthly_after for item in est.lines), 2)


def test_node_count_three_to_two(spec):
    after = copy.deepcopy(spec)
    after["environments"]["dev"]["eks"]["node_count"] = 2
    est = estimate_change_cost(spec, after, "dev")
    nodes = line(est, "dev/eks: Worker nodes (t3.medium) (3 → 2 nodes")
    assert (nodes.monthly_before, nodes.monthly_after) == (113.88, 75.92)
    volumes = line(est, "dev/eks: Node volumes (gp3) (150 → 100 GB")  # 50 GB per node, as terraform/variables.tf
    assert (volumes.monthly_before, volumes.monthly_after) == (13.68, 9.12)
    assert est.monthly_before == 287.35 and est.monthly_after == 244.83
    assert est.monthly_delta == -42.52
    table = render_cost_breakdown(est, "shop")
    assert "Before" in table and "Diff" in table and "-$37.96" in table and "OVERALL TOTAL" in table
    assert "├─ Worker nodes (t3.medium) (3 → 2 nodes)" in table


def test_disabled_environment_costs_nothing_and_destroy_shows_every_line_going(spec):
    off = copy.deepcopy(spec)
    off["environments"]["dev"]["enabled"] = False
    assert estimate_spec_cost(off, "dev").monthly_after == 0
    est = estimate_change_cost(spec, off, "dev")
    assert est.monthly_after == 0 and est.monthly_delta == -287.35
    assert all(item.monthly_after == 0 for item in est.lines)


def test_multi_az_and_new_components(spec):
    after = copy.deepcopy(spec)
    after["environments"]["dev"]["rds"].update(multi_az=True, instance_class="db.r6g.large")
    after["environments"]["dev"]["redis"]["enabled"] = True
    est = estimate_change_cost(spec, after, "dev")
    assert line(est, "dev/rds: Database instance (db.r6g.large, Multi-AZ)").monthly_after == round(0.26 * 2 * 730, 2)
    assert line(est, "dev/rds: Database instance (db.t3.micro, Single-AZ)").monthly_after == 0  # the old class goes
    redis = line(est, "dev/redis: Cache nodes (cache.t3.micro) (+1 nodes")
    assert (redis.monthly_before, redis.monthly_after) == (0, 18.98)


def test_unknown_instance_type_is_marked_not_guessed(spec):
    odd = copy.deepcopy(spec)
    odd["environments"]["dev"]["eks"]["node_instance_type"] = "x9.mega"
    nodes = line(estimate_spec_cost(odd, "dev"), "dev/eks: Worker nodes (x9.mega)")
    assert nodes.monthly_after == 0 and "price not in table" in nodes.resource


def test_unknown_region_says_what_to_add(spec):
    other = copy.deepcopy(spec)
    other["region"] = "eu-central-1"
    with pytest.raises(Exception, match="config/prices/eu-central-1.yaml"):
        estimate_spec_cost(other, "dev")


def test_table_prices_a_plan_like_infracost_does():
    plan = json.loads((PLANS / "plan-infracost-example.json").read_text())
    est = estimate_plan_cost_from_table(plan)
    infracost = parse_infracost_breakdown((PLANS / "infracost-breakdown.json").read_text())  # Infracost's output for this plan
    web = line(est, "aws_instance.web_app")
    # Infracost: m5.4xlarge 730 h x $0.768 = $560.64, root gp2 50 GB $5, io1 1000 GB $125 + 800 IOPS $52
    assert web.monthly_after == 742.64
    assert "aws_lambda_function" in est.source and "not priced" in est.source
    assert line(infracost, "aws_instance.web_app").monthly_after == 742.64


@pytest.mark.skipif(not (SHARED / "infracost-breakdown.json").exists(), reason="../shared/data/terraform is not present")
def test_infracost_json_is_read_and_agrees_with_the_table():
    text = (SHARED / "infracost-breakdown.json").read_text()  # has text after the JSON, as the golden file does
    est = parse_infracost_breakdown(text)
    assert est.source == "infracost" and est.monthly_after == 1361.31 and est.monthly_before == 0
    assert line(est, "aws_instance.web_app").monthly_after == 742.64
    assert line(est, "aws_lambda_function.hello_world").monthly_after == 436.67
    table = estimate_plan_cost_from_table(json.loads((SHARED / "plan-infracost-example.json").read_text()))
    assert line(table, "aws_instance.web_app").monthly_after == line(est, "aws_instance.web_app").monthly_after


def test_update_plan_has_before_and_after():
    plan = json.loads((PLANS / "plan-update-target.json").read_text())  # t3.micro -> t3.small, us-east-1
    est = estimate_plan_cost_from_table(plan)
    instance = line(est, "aws_instance.web_app_1")
    assert instance.monthly_before == round(0.0104 * 730 + 10 * 0.10, 2)
    assert instance.monthly_after == round(0.0208 * 730 + 10 * 0.10, 2)
    assert "+$7.59" in render_cost_breakdown(est)


def test_infracost_cli_is_used_when_on_path(tmp_path, monkeypatch):
    fake = tmp_path / "infracost"
    breakdown = {"version": "0.2", "currency": "USD", "totalMonthlyCost": "12.5", "pastTotalMonthlyCost": "10",
                 "projects": [{"breakdown": {"resources": [{"name": "aws_instance.a", "monthlyCost": "12.5"}]},
                               "pastBreakdown": {"resources": [{"name": "aws_instance.a", "monthlyCost": "10"}]}}]}
    fake.write_text("#!/bin/sh\n[ \"$1 $2 $4 $5\" = 'breakdown --path --format json' ] || exit 3\n"
                    f"cat <<'EOF'\n{json.dumps(breakdown)}\nEOF\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    est = estimate_plan_cost(json.loads((PLANS / "plan-update-target.json").read_text()))
    assert est.source == "infracost" and est.monthly_delta == 2.5


def test_a_failing_infracost_falls_back_to_the_table_and_says_so(tmp_path, monkeypatch):
    fake = tmp_path / "infracost"
    fake.write_text("#!/bin/sh\necho 'Error: No INFRACOST_API_KEY environment variable is set.' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    est = estimate_plan_cost(PLANS / "plan-update-target.json")
    assert est.source.startswith("config/prices/us-east-1.yaml") and "INFRACOST_API_KEY" in est.source
    assert line(est, "aws_instance.web_app_1").monthly_after == 16.18


def test_without_infracost_the_table_is_used(monkeypatch):
    monkeypatch.setattr(cost.shutil, "which", lambda name: None)
    est = estimate_plan_cost(PLANS / "plan-update-target.json")
    assert est.source.startswith("config/prices/us-east-1.yaml")
