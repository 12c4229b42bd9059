# The environment's customer-managed KMS key (used by every module for
# encryption at rest) and the application secrets encrypted with it.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  suffix = var.name_suffix == "" ? "" : "-${var.name_suffix}"
}

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109: a key policy's resource "*" means this key only; the account root keeps administration so IAM policies can delegate
  # checkov:skip=CKV_AWS_111: same as above: key policies are scoped to their key by AWS
  # checkov:skip=CKV_AWS_356: same as above: "*" in a key policy is the key itself
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix} encryption at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = merge(var.tags, { Name = "${var.name_prefix}-kms" })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}-kms"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_secretsmanager_secret" "app" {
  # checkov:skip=CKV2_AWS_57: application secrets hold third-party credentials with no rotation Lambda; they are rotated by their owners (the RDS master password is rotated by RDS itself)
  for_each = toset(var.names)

  name                    = "${var.name_prefix}-${each.key}${local.suffix}"
  description             = "${each.key} secret of ${var.name_prefix}"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}
