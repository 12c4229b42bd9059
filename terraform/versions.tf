terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # State lives in S3 with a DynamoDB lock table. The values differ per
  # environment, so they come from -backend-config at init time:
  #
  #   terraform init \
  #     -backend-config="bucket=shop-tfstate" \
  #     -backend-config="key=envs/dev/terraform.tfstate" \
  #     -backend-config="region=ap-northeast-2" \
  #     -backend-config="dynamodb_table=shop-tflock" \
  #     -backend-config="encrypt=true"
  #
  # `terraform init -backend=false` is enough for validate and the checks
  # Cloud Doctor runs before anyone sees a change.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  # Every resource carries the required tags even where a module forgets them.
  default_tags {
    tags = local.tags
  }
}
