"""Validation of Terraform changes: hcl2 parse, checkov (no new failed check) and each project lint."""

from __future__ import annotations

from pathlib import Path

import pytest

import tools.tf_validate as tf_validate
from tools.tf_lint import lint_files, read_terraform_dir
from graphs.state import Proposal
from tools.tf_validate import check_checkov, check_lints, check_parse, find_checkov, summarize, validate_files

TERRAFORM = Path(__file__).resolve().parents[1] / "terraform"

GOOD = '''
locals {
  name_prefix = "${var.project}-${var.environment}"
  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    Owner       = var.owner
    ManagedBy   = "cloud-doctor"
  })
}

resource "aws_security_group" "web_lb" {
  name        = "${local.name_prefix}-web-lb"
  description = "public HTTPS"
  vpc_id      = var.vpc_id
  tags        = local.tags

  ingress {
    description = "HTTPS from anywhere"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_lb" "web" {
  name            = "${local.name_prefix}-web"
  security_groups = [aws_security_group.web_lb.id]
  subnets         = var.public_subnet_ids
  tags            = local.tags
}

resource "aws_db_instance" "db" {
  identifier = "shop-dev-mysql"
  tags       = local.tags
}
'''


def rules(findings) -> list[tuple[str, str]]:
    return sorted((f.rule, f.address) for f in findings)


def test_a_clean_snippet_passes_every_lint():
    assert lint_files({"main.tf": GOOD}) == []


@pytest.mark.parametrize("snippet, rule, address, words", [
    ('resource "aws_s3_bucket" "logs" {\n  bucket = "ShopLogs"\n  tags   = var.tags\n}\n',
     "naming", "aws_s3_bucket.logs", "does not follow {project}-{env}-{component}"),
    ('resource "aws_db_instance" "db" {\n  identifier = "${var.name_prefix}_MySQL"\n  tags       = var.tags\n}\n',
     "naming", "aws_db_instance.db", "after the name prefix"),
    ('resource "aws_iam_role" "app" {\n  name = "app-role-${var.environment}"\n  tags = var.tags\n}\n',
     "naming", "aws_iam_role.app", "does not start with the name prefix"),
    ('resource "aws_secretsmanager_secret" "db" {\n  name = "${var.name_prefix}-db-${timestamp()}"\n  tags = var.tags\n}\n',
     "timestamp", "aws_secretsmanager_secret.db", "timestamp()"),
    ('locals {\n  bucket_name = "shop-dev-${formatdate("YYYYMMDD", timestamp())}"\n}\n',
     "timestamp", "local.bucket_name", "timestamp()"),
    ('resource "aws_instance" "app" {\n  ami = "ami-123"\n}\n',
     "tags", "aws_instance.app", "no tags"),
    ('resource "aws_instance" "app" {\n  ami  = "ami-123"\n  tags = { Name = "shop-dev-app" }\n}\n',
     "tags", "aws_instance.app", "Project"),
    ('locals {\n  tags = { Project = var.project, Environment = var.environment }\n}\n',
     "tags", "local.tags", "Owner, ManagedBy"),
    ('resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n  tags = merge(var.tags, { ManagedBy = "terraform" })\n}\n',
     "tags", "aws_vpc.main", '"cloud-doctor"'),
    ('module "db" {\n  source = "./modules/db"\n}\n',
     "tags", "module.db", "does not pass them"),
    ('resource "aws_security_group" "bastion" {\n  name = "${var.name_prefix}-bastion"\n  tags = var.tags\n'
     '  ingress {\n    from_port   = 22\n    to_port     = 22\n    protocol    = "tcp"\n    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n',
     "ingress", "aws_security_group.bastion", "port 22"),
    ('resource "aws_security_group" "api" {\n  name = "${var.name_prefix}-api"\n  tags = var.tags\n'
     '  ingress {\n    from_port   = 443\n    to_port     = 443\n    protocol    = "tcp"\n    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n',
     "ingress", "aws_security_group.api", "is not used by one"),
    ('resource "aws_security_group_rule" "pg" {\n  type              = "ingress"\n  security_group_id = aws_security_group.db.id\n'
     '  from_port         = 5432\n  to_port           = 5432\n  protocol          = "tcp"\n  cidr_blocks       = ["0.0.0.0/0"]\n}\n',
     "ingress", "aws_security_group_rule.pg", "port 5432"),
    ('resource "aws_vpc_security_group_ingress_rule" "all" {\n  security_group_id = aws_security_group.lb.id\n'
     '  cidr_ipv6         = "::/0"\n  ip_protocol       = "-1"\n}\n',
     "ingress", "aws_vpc_security_group_ingress_rule.all", "ports 0-65535"),
])
def test_each_lint_rule_catches_its_violation(snippet, rule, address, words):
    files = {"main.tf": snippet}
    if address == "module.db":
        files["modules/db/variables.tf"] = 'variable "tags" {\n  type = map(string)\n}\n'
    findings = [f for f in lint_files(files) if f.rule == rule and f.address == address]
    assert findings, f"{rule} missed {address}: {lint_files(files)}"
    assert any(words in f.message for f in findings), [f.message for f in findings]


def test_provider_default_tags_cover_resources_without_tags():
    files = {
        "versions.tf": 'provider "aws" {\n  region = var.region\n  default_tags {\n    tags = local.tags\n  }\n}\n',
        "modules/app/main.tf": 'resource "aws_instance" "app" {\n  ami = "ami-123"\n}\n',
    }
    assert [f for f in lint_files(files) if f.rule == "tags"] == []


def test_names_built_in_locals_are_judged_where_they_are_built():
    files = {"main.tf": 'locals {\n  cluster_name = "${var.name_prefix}-eks"\n  bad = "EKS"\n}\n'
                        'resource "aws_eks_cluster" "a" {\n  name = local.cluster_name\n  tags = var.tags\n}\n'
                        'resource "aws_eks_cluster" "b" {\n  name = local.bad\n  tags = var.tags\n}\n'}
    assert rules(lint_files(files)) == [("naming", "aws_eks_cluster.b")]


# ------------------------------------------------------------------ parse


def test_parse_check_names_the_broken_file_and_undeclared_tfvars():
    files = {"variables.tf": 'variable "project" {\n  type = string\n}\n', "main.tf": 'resource "aws_vpc" "x" {\n  cidr_block = \n}\n',
             "envs/dev.auto.tfvars.json": '{"project": "shop", "colour": "blue"}'}
    result = check_parse(files)
    assert not result.passed
    assert "main.tf" in result.details and "undeclared variables: colour" in result.details
    fixed = {**files, "main.tf": 'resource "aws_vpc" "x" {\n  cidr_block = "10.0.0.0/16"\n}\n', "envs/dev.auto.tfvars.json": '{"project": "shop"}'}
    assert check_parse(fixed).passed


def test_lints_count_only_what_the_change_adds():
    before = {"main.tf": 'resource "aws_instance" "legacy" {\n  ami = "ami-1"\n}\n'}
    unchanged = {r.check: r for r in check_lints(before, before)}
    assert all(r.passed for r in unchanged.values())
    assert "1 finding(s) already in the code" in unchanged["lint:tags"].details
    assert not check_lints(before, None)[1].passed  # without a baseline the old finding counts
    after = {"main.tf": before["main.tf"] + 'resource "aws_s3_bucket" "new" {\n  bucket = "Scratch"\n}\n'}
    results = {r.check: r for r in check_lints(after, before)}
    assert not results["lint:naming"].passed and "aws_s3_bucket.new" in results["lint:naming"].details
    assert not results["lint:tags"].passed and "aws_instance.legacy" not in results["lint:tags"].details
    assert results["lint:ingress"].passed and results["lint:timestamp"].passed


def test_unparseable_change_does_not_run_checkov():
    results = {r.check: r for r in validate_files({"main.tf": "resource {"}, require_checkov=True)}
    assert not results["hcl2"].passed
    assert results["checkov"].status == "skipped" and "do not parse" in results["checkov"].details
    assert not Proposal(id="p", kind="terraform", title="t", validation=list(results.values())).valid  # hcl2 still blocks


def test_missing_checkov_is_a_failure_when_required_and_a_recorded_skip_when_not(monkeypatch):
    monkeypatch.setattr(tf_validate, "find_checkov", lambda explicit=None: None)
    files = {"main.tf": GOOD}
    required = check_checkov(files, None, require=True)
    assert not required.passed and "make checkov" in required.details
    optional = check_checkov(files, None, require=False)
    assert optional.status == "skipped" and "not installed" in optional.details and "make checkov" in optional.enable
    summary = summarize([optional])
    assert "skipped" in summary and "passed" not in summary and "✓" not in summary  # never shown as a pass


# ---------------------------------------------------------------- checkov


@pytest.mark.slow
@pytest.mark.skipif(find_checkov() is None, reason="checkov is not installed (make checkov)")
def test_checkov_reports_only_new_failed_checks():
    before = read_terraform_dir(TERRAFORM)
    rds = before["modules/rds/main.tf"]
    weakened = rds.replace("storage_encrypted     = true", "storage_encrypted     = false")
    assert weakened != rds
    after = {**before, "modules/rds/main.tf": weakened}
    result = check_checkov(after, before, var_file="envs/dev.auto.tfvars.json")
    assert not result.passed
    assert "CKV_AWS_16" in result.details and "module.rds" in result.details
    # The same weakness already in the baseline is not the change's fault.
    assert check_checkov(after, after, var_file="envs/dev.auto.tfvars.json").passed


@pytest.mark.slow
@pytest.mark.skipif(find_checkov() is None, reason="checkov is not installed (make checkov)")
def test_checkov_without_a_baseline_counts_every_failure():
    files = {"main.tf": 'resource "aws_s3_bucket" "x" {\n  bucket = "shop-dev-x"\n}\n'
                        'resource "aws_ebs_volume" "v" {\n  availability_zone = "ap-northeast-2a"\n  size = 10\n}\n'}
    result = check_checkov(files, None)
    assert not result.passed and "CKV_AWS_3" in result.details  # the unencrypted EBS volume


@pytest.mark.slow
@pytest.mark.skipif(find_checkov() is None, reason="checkov is not installed (make checkov)")
def test_files_named_from_a_workspace_directory_are_checked_where_terraform_saw_them():
    # terraform run in envs/staging prints module files as ../../modules/...: the tree keeps that layout.
    files = {
        "main.tf": 'module "eks" {\n  source = "../../modules/eks"\n}\n',
        "../../modules/eks/main.tf": 'resource "aws_ebs_volume" "v" {\n  availability_zone = "ap-northeast-2a"\n  size = 10\n}\n',
    }
    result = check_checkov(files, None)
    assert not result.passed and "CKV_AWS_3" in result.details
    with pytest.raises(ValueError, match="absolute"):
        check_checkov({"/etc/passwd.tf": ""}, None)
