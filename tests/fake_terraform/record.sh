#!/usr/bin/env bash
# Re-record recorded/ with a real Terraform (terraform_data needs no provider download).
# Usage: tests/fake_terraform/record.sh [OUTDIR]   (default: a temp dir; copy what you need into recorded/)
set -euo pipefail
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
export CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE="$work/empty.tfrc"
: > "$TF_CLI_CONFIG_FILE"
tf() { terraform "$@"; }

mkdir -p "$work/ws" && cd "$work/ws"
cat > main.tf <<'TF'
variable "node_count" {
  type    = number
  default = 3
}

variable "cluster_version" {
  type    = string
  default = "1.30"
}

resource "terraform_data" "cluster" {
  input            = "shop-dev-eks"
  triggers_replace = [var.cluster_version]
}

resource "terraform_data" "node_group" {
  input            = { name = "shop-dev-nodes", desired_size = var.node_count, instance_type = "t3.medium" }
  triggers_replace = [terraform_data.cluster.id]
}
TF
tf init -input=false -no-color > "$out/init.txt" 2>&1
tf plan -input=false -no-color -lock-timeout=0s -out=tfplan > "$out/plan-create.txt" 2>&1; tf show -json tfplan > "$out/plan-create.json"
tf apply -input=false -no-color tfplan > "$out/apply-create.txt" 2>&1
tf plan -input=false -no-color -out=tfplan > "$out/plan-nochanges.txt" 2>&1; tf show -json tfplan > "$out/plan-nochanges.json"
tf plan -input=false -no-color -var node_count=2 -out=tfplan > "$out/plan-update.txt" 2>&1; tf show -json tfplan > "$out/plan-update.json"
tf plan -input=false -no-color -var node_count=4 -out=other.tfplan > /dev/null 2>&1; tf apply -input=false -no-color other.tfplan > /dev/null 2>&1
tf apply -input=false -no-color tfplan > "$out/apply-stale.txt" 2>&1 || true
tf plan -input=false -no-color -var cluster_version=1.31 -out=tfplan > "$out/plan-replace-destroyfirst.txt" 2>&1
tf show -json tfplan > "$out/plan-replace-destroyfirst.json"; tf apply -input=false -no-color tfplan > "$out/apply-replace-destroyfirst.txt" 2>&1
tf plan -destroy -input=false -no-color -out=tfplan > "$out/plan-destroy.txt" 2>&1; tf show -json tfplan > "$out/plan-destroy.json"
tf apply -input=false -no-color tfplan > "$out/apply-destroy.txt" 2>&1
# (plan-replace.json, create-before-destroy, comes from the same config with `lifecycle { create_before_destroy = true }`
#  on node_group.)

# A lock held by a running apply (a local-exec sleep keeps it).
mkdir -p "$work/lock" && cd "$work/lock"
printf 'resource "terraform_data" "slow" {\n  input = "x"\n  provisioner "local-exec" {\n    command = "sleep 8"\n  }\n}\n' > main.tf
tf init -input=false -no-color > /dev/null
tf apply -input=false -no-color -auto-approve > /dev/null 2>&1 &
while [ ! -f .terraform.tfstate.lock.info ]; do sleep 0.1; done
tf plan -input=false -no-color > "$out/lock-plan-nocolor.txt" 2>&1 || true
tf plan -input=false > "$out/lock-plan-color.txt" 2>&1 || true
tf plan -input=false -no-color -lock-timeout=2s > "$out/lock-plan-timeout.txt" 2>&1 || true
tf force-unlock -no-color 00000000-0000-0000-0000-000000000000 > "$out/unlock-local-noforce.txt" 2>&1 || true
wait

# Configuration errors.
mkdir -p "$work/cfg/modules/vpc" && cd "$work/cfg"
printf 'variable "cidr" {\n  type = string\n}\n\nresource "terraform_data" "vpc" {\n  input = var.cidr\n}\n\noutput "vpc_id" {\n  value = terraform_data.vpc.id\n}\n\noutput "public_subnet_ids" {\n  value = [terraform_data.vpc.id]\n}\n' > modules/vpc/main.tf
printf 'module "vpc" {\n  source = "./modules/vpc"\n  cidr   = "10.30.0.0/16"\n}\n\nresource "terraform_data" "eks" {\n  input = {\n    name       = "shop-dev"\n    subnet_ids = module.vpc.private_subnet_ids\n  }\n}\n' > main.tf
tf init -input=false -no-color > /dev/null
tf plan -input=false -no-color > "$out/cfg-unsupported-attribute.txt" 2>&1 || true
tf plan -input=false > "$out/cfg-unsupported-attribute-color.txt" 2>&1 || true
echo "recorded into $out"
