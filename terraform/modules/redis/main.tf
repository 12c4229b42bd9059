# ElastiCache Redis: encrypted at rest and in transit, AUTH token kept in
# Secrets Manager, automatic failover when there is a replica.

resource "aws_elasticache_subnet_group" "this" {
  name       = "${var.name_prefix}-redis"
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.name_prefix}-redis"
  description = "Redis from inside the VPC"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description = "Redis clients in the VPC"
    from_port   = 6379
    to_port     = 6379
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
}

# The AUTH token is generated once by Secrets Manager and kept there; later
# plans read the stored value (ignore_changes), so it does not churn.
data "aws_secretsmanager_random_password" "auth" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "auth" {
  # checkov:skip=CKV2_AWS_57: rotating a Redis AUTH token needs a coordinated client roll-out; it is rotated with the auth_token_update_strategy by a person
  name                    = "${var.name_prefix}-redis-auth"
  description             = "AUTH token of ${var.name_prefix}-redis"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "auth" {
  secret_id     = aws_secretsmanager_secret.auth.id
  secret_string = data.aws_secretsmanager_random_password.auth.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_elasticache_replication_group" "this" {
  # checkov:skip=CKV2_AWS_50: automatic failover needs a replica; it is on whenever the spec asks for 2 or more nodes (redis.nodes)
  replication_group_id = "${var.name_prefix}-redis"
  description          = "${var.name_prefix} Redis"
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  num_cache_clusters   = var.nodes
  port                 = 6379
  subnet_group_name    = aws_elasticache_subnet_group.this.name
  security_group_ids   = [aws_security_group.this.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = aws_secretsmanager_secret_version.auth.secret_string
  auth_token_update_strategy = "ROTATE"

  automatic_failover_enabled = var.nodes > 1
  multi_az_enabled           = var.nodes > 1
  snapshot_retention_limit   = var.snapshot_retention_days
  auto_minor_version_upgrade = true

  tags = var.tags
}
