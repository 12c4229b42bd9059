"""The reference Terraform project: it parses, passes checkov and the project lints, and reads tfvars made from the spec."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import hcl2
import pytest
import yaml

from agents.terraform_fixes.impact import total_resources
from tools.tf_lint import lint_files, parse_hcl, read_terraform_dir
from tools.tf_validate import find_checkov, run_checkov
from tools.tfvars import DEFAULTS, EC2_DEFAULTS, TfvarsError, diff_tfvars, render_tfvars, tfvars_files, tfvars_json

ROOT = Path(__file__).resolve().parents[1]
TERRAFORM = ROOT / "terraform"
EXAMPLE = Path("/work/shared/scenarios/examples/eks-nodes-ko.yaml")
PLUGINS = Path("/opt/tf-plugins")
MODULES = ("vpc", "eks", "rds", "ec2", "redis", "secrets", "backup")


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return read_terraform_dir(TERRAFORM)


@pytest.fixture(scope="module")
def reference_spec() -> dict:
    return yaml.safe_load((TERRAFORM / "spec.yaml").read_text())


def example_spec() -> dict:
    """The shared example's spec (dev only), with staging and prod in the same shape."""
    if EXAMPLE.is_file():
        spec = yaml.safe_load(EXAMPLE.read_text())["world"]["infra"]["spec"]
    else:  # the shared folder is outside the repository; the reference spec has the same dev block
        spec = yaml.safe_load((TERRAFORM / "spec.yaml").read_text())
        spec["environments"] = {"dev": spec["environments"]["dev"]}
    dev = spec["environments"]["dev"]
    staging = copy.deepcopy(dev)
    staging["vpc"]["cidr"] = "10.40.0.0/16"
    staging["tags"] = {"CostCenter": "shop-staging"}
    prod = copy.deepcopy(dev)
    prod.update(vpc={"cidr": "10.50.0.0/16", "azs": 3, "nat_gateways": 3}, tags={"CostCenter": "shop-prod"})
    prod["rds"].update(multi_az=True, backup_retention_days=14, instance_class="db.r6g.large")
    return {**spec, "environments": {"dev": dev, "staging": staging, "prod": prod}}


# ------------------------------------------------------------------ shape


def test_every_file_parses_with_python_hcl2(files):
    tf = [p for p in files if p.endswith(".tf")]
    assert len(tf) >= 4 + 3 * len(MODULES)
    for path in tf:
        assert isinstance(hcl2.loads(files[path]), dict), path


def test_root_and_modules_have_the_expected_shape(files):
    for module in MODULES:
        for name in ("main.tf", "variables.tf", "outputs.tf"):
            assert f"modules/{module}/{name}" in files
    versions = parse_hcl(files["versions.tf"])
    terraform = versions["terraform"][0]
    assert terraform["required_providers"][0]["aws"]["version"] == "~> 5.0"
    assert "s3" in terraform["backend"][0]
    assert "dynamodb_table" in files["versions.tf"]  # the lock table is documented for -backend-config
    calls = {name for item in parse_hcl(files["main.tf"])["module"] for name in item}
    assert calls == set(MODULES)


def test_every_checkov_skip_says_why(files):
    skips = [(p, line) for p, text in files.items() for line in text.splitlines() if "checkov:skip" in line]
    assert skips, "the reference project documents its skips"
    for path, line in skips:
        assert re.search(r"#\s*checkov:skip=CKV2?_AWS_\d+:\s*\S.{20,}", line), f"{path}: skip without a reason: {line.strip()}"


def test_project_lints_pass_on_the_reference_project(files):
    assert lint_files(files) == []


def test_security_basics_are_on(files):
    rds = files["modules/rds/main.tf"]
    assert "publicly_accessible    = false" in rds and "storage_encrypted     = true" in rds
    assert 'http_tokens                 = "required"' in files["modules/ec2/main.tf"]
    assert "transit_encryption_enabled = true" in files["modules/redis/main.tf"]
    assert "endpoint_public_access  = false" in files["modules/eks/main.tf"]
    assert "timestamp()" not in "".join(files.values())


# ----------------------------------------------------------------- tfvars


def _optional_defaults(variables_tf: str, name: str) -> dict[str, object]:
    block = parse_hcl(variables_tf)
    body = next(item[name] for item in block["variable"] if name in item)
    out: dict[str, object] = {}
    for key, raw in re.findall(r"(\w+)\s*=\s*optional\(\w+(?:\(\w+\))?,\s*(\"[^\"]*\"|[^)]*\)?)\)", body["type"]):
        raw = raw.strip()
        if raw.startswith("["):
            out[key] = [s.strip().strip('"') for s in raw.strip("[]").split(",") if s.strip()]
        elif raw in ("true", "false"):
            out[key] = raw == "true"
        elif re.fullmatch(r"-?\d+", raw):
            out[key] = int(raw)
        else:
            out[key] = raw.strip('"')
    return out


def test_renderer_defaults_equal_the_terraform_optional_defaults(files):
    variables = files["variables.tf"]
    for section in ("vpc", "eks", "rds", "redis", "secrets", "backup"):
        declared = _optional_defaults(variables, section)
        expected = {k: v for k, v in DEFAULTS[section].items() if v is not None}
        assert declared == expected, section
    assert _optional_defaults(variables, "ec2") == {k: v for k, v in EC2_DEFAULTS.items() if v is not None}


def test_committed_tfvars_are_the_render_of_the_reference_spec(files, reference_spec):
    rendered = tfvars_files(reference_spec)
    assert set(rendered) == {"envs/dev.auto.tfvars.json", "envs/staging.auto.tfvars.json", "envs/prod.auto.tfvars.json"}
    for path, text in rendered.items():
        assert files[path] == text, f"{path} is stale: regenerate it from terraform/spec.yaml"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_tfvars_render_from_the_example_spec(env, files):
    spec = example_spec()
    values = render_tfvars(spec, env)
    declared = {name for item in parse_hcl(files["variables.tf"])["variable"] for name in item}
    assert set(values) == declared
    assert values["environment"] == env and values["project"] == "shop"
    assert values["eks"]["node_count"] == 3 and values["eks"]["node_disk_gb"] == 50  # the default filled in
    assert values["ec2"] == {"management": {"instance_type": "t3.small", "count": 1, "volume_gb": 30,
                                            "volume_iops": 3000, "volume_throughput": 125}}
    assert values["tags"] == {"CostCenter": f"shop-{env}"}
    if env == "prod":
        assert values["vpc"] == {"cidr": "10.50.0.0/16", "azs": 3, "nat_gateways": 3}
        assert values["rds"]["multi_az"] is True
    text = tfvars_json(spec, env)
    assert text == tfvars_json(copy.deepcopy(spec), env) and json.loads(text) == values
    assert list(json.loads(text)) == ["project", "environment", "region", "owner", "enabled", "vpc", "eks", "rds", "ec2",
                                      "redis", "secrets", "backup", "tags"]


def test_tfvars_diff_shows_only_the_change():
    before = example_spec()
    after = copy.deepcopy(before)
    after["environments"]["dev"]["eks"]["node_count"] = 2
    diff = diff_tfvars(before, after, "dev")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ['-    "node_count": 3,', '+    "node_count": 2,']
    assert diff_tfvars(before, copy.deepcopy(before), "dev") == ""
    assert diff_tfvars(before, after, "prod") == ""


def test_tfvars_refuse_a_spec_they_cannot_render():
    spec = example_spec()
    with pytest.raises(TfvarsError, match="no environment 'qa'"):
        render_tfvars(spec, "qa")
    broken = copy.deepcopy(spec)
    del broken["environments"]["dev"]["vpc"]["cidr"]
    with pytest.raises(TfvarsError, match=r"environments\.dev\.vpc\.cidr is required"):
        render_tfvars(broken, "dev")
    broken = copy.deepcopy(spec)
    broken["environments"]["dev"]["eks"]["node_count"] = "two"
    with pytest.raises(TfvarsError, match="node_count must be a whole number"):
        render_tfvars(broken, "dev")
    coerced = copy.deepcopy(spec)
    coerced["environments"]["dev"]["eks"]["node_count"] = "2"
    assert render_tfvars(coerced, "dev")["eks"]["node_count"] == 2


# ---------------------------------------------------------------- checkov


@pytest.mark.slow
@pytest.mark.skipif(find_checkov() is None, reason="checkov is not installed (make checkov)")
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_checkov_passes_on_the_reference_project(env, files):
    run = run_checkov(files, var_file=f"envs/{env}.auto.tfvars.json")
    assert run.ok, run.error
    assert run.failed == [], [str(f) for f in run.failed]
    assert run.passed > 150 and run.skipped >= 5 and run.parsing_errors == 0


# -------------------------------------------------------------- terraform


def _terraform() -> str | None:
    return shutil.which("terraform") if PLUGINS.is_dir() else None


def _init(workdir: Path, files: dict[str, str], backend: bool = False) -> None:
    for path, text in files.items():
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (workdir / path).write_text(text)
    flags = [] if backend else ["-backend=false"]
    subprocess.run(["terraform", "init", *flags, f"-plugin-dir={PLUGINS}", "-input=false", "-no-color"],
                   cwd=workdir, check=True, capture_output=True, env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null"})


@pytest.mark.slow
@pytest.mark.skipif(_terraform() is None, reason="terraform and the provider mirror (/opt/tf-plugins) are not on this machine")
def test_terraform_validate_accepts_the_reference_project(tmp_path, files):
    _init(tmp_path, files)
    proc = subprocess.run(["terraform", "validate", "-no-color"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on this machine")
def test_terraform_fmt_leaves_the_reference_project_unchanged():
    proc = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-no-color"], cwd=TERRAFORM, capture_output=True, text=True,
                          env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null"})
    assert proc.returncode == 0, f"not formatted: {proc.stdout}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(_terraform() is None or shutil.which("moto_server", path=str(ROOT / ".venv/bin")) is None,
                    reason="needs terraform, the provider mirror and moto_server")
def test_terraform_plan_against_moto_matches_the_resource_estimate(tmp_path, files, reference_spec):
    """A real plan of prod (data sources answered by moto): it succeeds and counts what impact.py estimates."""
    port = _free_port()
    server = subprocess.Popen([str(ROOT / ".venv/bin/moto_server"), "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        override = (
            'terraform {\n  backend "local" {}\n}\n'
            'provider "aws" {\n  region = var.region\n  access_key = "testing"\n  secret_key = "testing"\n'
            "  skip_credentials_validation = true\n  skip_metadata_api_check = true\n  endpoints {\n"
            + "".join(f'    {svc} = "{endpoint}"\n' for svc in ("ec2", "sts", "iam", "ssm", "secretsmanager"))
            + "  }\n}\n"
        )
        _init(tmp_path, {**files, "override.tf": override}, backend=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        proc = subprocess.run(["terraform", "plan", "-no-color", "-input=false", "-var-file=envs/prod.auto.tfvars.json"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=240,
                              env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null"})
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    m = re.search(r"Plan: (\d+) to add, 0 to change, 0 to destroy", proc.stdout)
    assert m, proc.stdout[-1000:]
    assert int(m.group(1)) == total_resources(render_tfvars(reference_spec, "prod"))
