# RDS MySQL: private, encrypted, TLS only, IAM authentication, master
# password kept and rotated by RDS in Secrets Manager, max_connections set
# through the parameter group so it can be raised without a replacement.

locals {
  family = "mysql${join(".", slice(split(".", var.engine_version), 0, 2))}"
  # Performance Insights is not offered on the micro and small classes.
  performance_insights = !can(regex("\\.(micro|small)$", var.instance_class))
}

resource "aws_db_subnet_group" "this" {
  name       = "${var.name_prefix}-mysql"
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_db_parameter_group" "this" {
  name        = "${var.name_prefix}-mysql"
  family      = local.family
  description = "${var.name_prefix} MySQL settings"
  tags        = var.tags

  parameter {
    name         = "max_connections"
    value        = var.max_connections
    apply_method = "immediate"
  }

  parameter {
    name  = "require_secure_transport"
    value = "1"
  }

  parameter {
    name  = "slow_query_log"
    value = "1"
  }

  parameter {
    name  = "long_query_time"
    value = "2"
  }
}

resource "aws_security_group" "db" {
  name        = "${var.name_prefix}-mysql"
  description = "MySQL from inside the VPC"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description = "MySQL clients in the VPC"
    from_port   = 3306
    to_port     = 3306
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.name_prefix}-mysql-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  # checkov:skip=CKV_AWS_157: multi_az comes from the spec per environment (a cost decision); prod specs set it
  # checkov:skip=CKV_AWS_293: deletion protection is on in prod (var.production); off elsewhere so destroy_all of dev or staging completes in one apply
  # checkov:skip=CKV_AWS_353: Performance Insights is on wherever the class supports it (not micro/small), see local.performance_insights
  # checkov:skip=CKV_AWS_133: backups come from the spec; the precondition below refuses fewer than 7 days in prod
  identifier     = "${var.name_prefix}-mysql"
  engine         = "mysql"
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage     = var.storage_gb
  max_allocated_storage = var.max_storage_gb > var.storage_gb ? var.max_storage_gb : null
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  username                      = "admin"
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.multi_az

  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  copy_tags_to_snapshot               = true
  backup_retention_period             = var.backup_retention_days
  backup_window                       = var.backup_window != "" ? var.backup_window : null
  deletion_protection                 = var.production
  skip_final_snapshot                 = !var.production
  final_snapshot_identifier           = var.production ? "${var.name_prefix}-mysql-final" : null

  enabled_cloudwatch_logs_exports       = ["error", "general", "slowquery"]
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  performance_insights_enabled          = local.performance_insights
  performance_insights_kms_key_id       = local.performance_insights ? var.kms_key_arn : null
  performance_insights_retention_period = local.performance_insights ? 7 : null

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !var.production || var.backup_retention_days >= 7
      error_message = "production databases keep at least 7 days of backups (rds.backup_retention_days)."
    }
  }
}
