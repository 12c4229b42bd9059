"""The infrastructure spec schema, dotted paths and diffs (tools/spec.py), on the real bundled specs."""

import copy
from pathlib import Path

import pytest
import yaml

from agents.context import AgentContext
from config.settings import CONFIG_DIR, REPO_ROOT, Settings
from tools.spec import (
    InfraSpec, SpecDiffLine, SpecError, apply_changes, coerce_value, current_spec, default_at, diff_specs, get_path,
    load_spec, render_diff, set_path, size_step, spec_errors, value_at,
)
from tools.world import RecordedWorld, WorldRecord

SPEC_FILE = CONFIG_DIR / "spec.yaml"
EXAMPLE = REPO_ROOT / "evals" / "scenarios" / "eks-nodes-ko.yaml"


@pytest.fixture
def spec() -> dict:
    return yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))


def test_bundled_spec_is_valid_and_complete(spec):
    model = load_spec(SPEC_FILE)
    assert isinstance(model, InfraSpec)
    assert model.project == "shop" and model.region == "ap-northeast-2"
    assert set(model.environments) == {"dev", "staging", "prod"}
    for env in model.environments.values():  # "fully filled in": every section present
        assert env.vpc and env.eks and env.rds and env.redis and env.secrets and env.ec2 and env.tags


def test_terraform_reference_spec_says_the_same_as_the_bundled_one(spec):
    other = REPO_ROOT / "terraform" / "spec.yaml"
    if not other.is_file():
        pytest.skip("no terraform/spec.yaml in this checkout")
    data = yaml.safe_load(other.read_text(encoding="utf-8"))
    assert spec_errors(data) == []

    def leaves(d, prefix=""):
        out = {}
        for k, v in d.items():
            path = f"{prefix}.{k}" if prefix else k
            out.update(leaves(v, path) if isinstance(v, dict) else {path: v})
        return out

    mine = leaves(spec)
    assert {k: v for k, v in leaves(data).items() if mine.get(k) != v} == {}


def test_example_scenario_spec_is_valid():
    path = EXAMPLE if EXAMPLE.is_file() else Path("/work/shared/scenarios/examples/eks-nodes-ko.yaml")
    world = yaml.safe_load(path.read_text(encoding="utf-8"))["world"]
    assert spec_errors(world["infra"]["spec"]) == []


@pytest.mark.parametrize("path,value,message", [
    ("environments.dev.eks.node_count", "two", "environments.dev.eks.node_count: must be an integer >= 0 (got 'two')"),
    ("environments.dev.eks.node_count", -1, "environments.dev.eks.node_count: must be an integer >= 0 (got -1)"),
    ("environments.dev.eks.node_count", True, "environments.dev.eks.node_count: must be an integer >= 0 (got True)"),
    ("environments.dev.eks.node_count", 9, "environments.dev.eks: node_count 9 is above node_max 4 (raise node_max too)"),
    ("environments.dev.eks.node_instance_type", "db.t3.large", "environments.dev.eks.node_instance_type: must be an EC2 instance type like t3.large (got 'db.t3.large')"),
    ("environments.dev.rds.instance_class", "t3.medium", "environments.dev.rds.instance_class: must be an RDS instance class like db.t3.medium (got 't3.medium')"),
    ("environments.dev.redis.node_type", "r6g.large", "environments.dev.redis.node_type: must be an ElastiCache node type like cache.t3.small (got 'r6g.large')"),
    ("environments.dev.redis.enabled", "yes", "environments.dev.redis.enabled: must be true or false (got 'yes')"),
    ("environments.dev.rds.backup_retention_days", 40, "environments.dev.rds.backup_retention_days: must be an integer between 0 and 35 (got 40)"),
    ("environments.dev.eks.version", 1.32, 'environments.dev.eks.version: must be an EKS version in quotes, like "1.31" (got 1.32)'),
    ("environments.dev.vpc.cidr", "10.30.0.0/33", "environments.dev.vpc.cidr: must be an IPv4 CIDR block like 10.30.0.0/16 (got '10.30.0.0/33')"),
    ("environments.dev.vpc.nat_gateways", 3, "environments.dev.vpc: nat_gateways 3 is more than azs 2"),
    ("environments.dev.rds.engine", "oracle", "environments.dev.rds.engine: must be one of mysql, mariadb, postgres (got 'oracle')"),
])
def test_wrong_values_are_refused_with_the_path_and_what_it_must_be(spec, path, value, message):
    with pytest.raises(SpecError) as caught:
        set_path(spec, path, value)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("path,message", [
    ("environments.dev.eks.node_size", "environments.dev.eks.node_size: unknown key in environments.dev.eks (known: enabled, version, node_instance_type, node_count"),
    ("environments.qa.eks.node_count", "environments.qa: unknown environment (use dev, staging, prod)"),
    ("environments.dev.eks.node_count.x", "environments.dev.eks.node_count.x: environments.dev.eks.node_count is a value"),
    ("enviroments.dev", "enviroments: unknown key in the spec (known: project, region, owner, environments)"),
])
def test_unknown_paths_are_refused(spec, path, message):
    with pytest.raises(SpecError) as caught:
        set_path(spec, path, 1)
    assert str(caught.value).startswith(message)
    with pytest.raises(SpecError):
        get_path(spec, path)


def test_set_path_returns_a_new_dict_without_leaking_defaults(spec):
    before = copy.deepcopy(spec)
    after = set_path(spec, "environments.dev.eks.node_count", 2)
    assert spec == before  # the input is untouched
    assert get_path(after, "environments.dev.eks.node_count") == 2
    assert diff_specs(spec, after) == [SpecDiffLine(path="environments.dev.eks.node_count", before=3, after=2)]


def test_set_path_creates_a_missing_section_and_validates_it():
    spec = {"project": "shop", "region": "ap-northeast-2", "owner": "platform-team",
            "environments": {"dev": {"vpc": {"cidr": "10.30.0.0/16"}}}}
    after = set_path(spec, "environments.dev.redis.enabled", True)
    assert after["environments"]["dev"]["redis"] == {"enabled": True}
    with pytest.raises(SpecError, match="ec2.batch.count: is required|instance_type: is required"):
        set_path(spec, "environments.dev.ec2.batch.count", 2)  # a new instance needs a type


def test_changes_validated_together_may_move_count_and_bound_at_once(spec):
    with pytest.raises(SpecError, match="node_count 6 is above node_max 4"):
        set_path(spec, "environments.dev.eks.node_count", 6)
    after = apply_changes(spec, {"environments.dev.eks.node_count": 6, "environments.dev.eks.node_max": 6})
    assert after["environments"]["dev"]["eks"]["node_max"] == 6


def test_a_spec_that_was_already_odd_can_still_be_changed_elsewhere(spec):
    odd = copy.deepcopy(spec)
    odd["environments"]["staging"]["eks"]["version"] = 1.31  # an unquoted YAML version
    assert spec_errors(odd) == ['environments.staging.eks.version: must be an EKS version in quotes, like "1.31" (got 1.31)']
    after = set_path(odd, "environments.dev.eks.node_count", 2)
    assert after["environments"]["dev"]["eks"]["node_count"] == 2
    with pytest.raises(SpecError, match="environments.dev.eks.node_count"):
        set_path(odd, "environments.dev.eks.node_count", "2")  # a new problem still is refused


def test_load_spec_reports_the_first_problem_and_counts_the_rest(tmp_path, spec):
    bad = copy.deepcopy(spec)
    bad["environments"]["dev"]["eks"]["node_count"] = "two"
    bad["environments"]["prod"]["rds"]["colour"] = "blue"
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}: environments.dev.eks.node_count: must be an integer >= 0 (got 'two') (and 1 more)"
    path.write_text("project: [unclosed", encoding="utf-8")
    with pytest.raises(SpecError, match="invalid YAML"):
        load_spec(path)
    with pytest.raises(SpecError, match="spec file not found"):
        load_spec(tmp_path / "missing.yaml")


def test_diff_rendering_groups_by_mapping(spec):
    after = apply_changes(spec, {
        "environments.dev.eks.node_count": 4, "environments.dev.eks.node_instance_type": "t3.large",
        "environments.prod.redis.enabled": False, "environments.dev.tags.Team": "platform",
    })
    assert render_diff(spec, after) == (
        "--- spec\n"
        "+++ spec (changed)\n"
        "@@ environments.dev.eks @@\n"
        "-node_instance_type: t3.medium\n"
        "+node_instance_type: t3.large\n"
        "-node_count: 3\n"
        "+node_count: 4\n"
        "@@ environments.prod.redis @@\n"
        "-enabled: true\n"
        "+enabled: false\n"
        "@@ environments.dev.tags @@\n"
        "+Team: platform\n"
    )
    assert render_diff(spec, spec) == "(no change)\n"


def test_defaults_and_coercion_follow_the_schema(spec):
    assert default_at("environments.dev.redis.nodes") == 1
    assert default_at("environments.dev.ec2.batch.instance_type") is None  # required
    assert value_at({"environments": {}}, "environments.prod.rds.multi_az") is False
    assert coerce_value("environments.dev.eks.node_count", "3") == 3
    assert coerce_value("environments.dev.eks.node_count", 3.0) == 3
    assert coerce_value("environments.dev.rds.multi_az", "true") is True
    assert coerce_value("environments.dev.eks.version", 1.32) == "1.32"
    assert coerce_value("environments.dev.eks.node_count", "two") == "two"  # left for validation to refuse


def test_size_steps_stay_in_the_family():
    assert size_step("t3.medium", 1) == "t3.large"
    assert size_step("db.r6g.large", 1) == "db.r6g.xlarge"
    assert size_step("db.r6g.xlarge", 1) == "db.r6g.2xlarge"
    assert size_step("cache.t3.micro", -1) == "cache.t3.nano"
    assert size_step("t3.nano", -1) is None


def test_current_spec_prefers_the_world_and_falls_back_to_the_bundled_file(tmp_path, spec):
    world_spec = copy.deepcopy(spec)
    world_spec["environments"]["dev"]["eks"]["node_count"] = 1
    ctx = AgentContext(world=RecordedWorld(WorldRecord.model_validate({"infra": {"spec": world_spec}})),
                       settings=Settings(data_dir=tmp_path))
    assert current_spec(ctx)["environments"]["dev"]["eks"]["node_count"] == 1
    bare = AgentContext(world=RecordedWorld(WorldRecord()), settings=Settings(data_dir=tmp_path))
    assert current_spec(bare) == spec
    empty = AgentContext(world=RecordedWorld(WorldRecord()), settings=Settings(data_dir=tmp_path, config_dir=tmp_path))
    with pytest.raises(SpecError, match="no infrastructure spec"):
        current_spec(empty)
