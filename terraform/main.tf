# The reference project: one environment of {project} built from the
# infrastructure spec. `enabled = false` (intent destroy_all) sets every
# count to zero, so a plan destroys the whole environment.

locals {
  name_prefix = "${var.project}-${var.environment}"
  production  = var.environment == "prod"

  # Required tags: Project, Environment, Owner, ManagedBy, plus the spec's own.
  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    Owner       = var.owner
    ManagedBy   = "cloud-doctor"
  })

  eks_on   = var.enabled && var.eks.enabled
  rds_on   = var.enabled && var.rds.enabled
  redis_on = var.enabled && var.redis.enabled
}

module "secrets" {
  source = "./modules/secrets"
  count  = var.enabled ? 1 : 0

  name_prefix = local.name_prefix
  names       = var.secrets.names
  name_suffix = var.secrets.name_suffix
  tags        = local.tags
}

module "vpc" {
  source = "./modules/vpc"
  count  = var.enabled ? 1 : 0

  name_prefix  = local.name_prefix
  cidr         = var.vpc.cidr
  azs          = var.vpc.azs
  nat_gateways = var.vpc.nat_gateways
  kms_key_arn  = module.secrets[0].kms_key_arn
  tags         = local.tags
}

module "eks" {
  source = "./modules/eks"
  count  = local.eks_on ? 1 : 0

  name_prefix        = local.name_prefix
  kubernetes_version = var.eks.version
  vpc_id             = module.vpc[0].vpc_id
  vpc_cidr           = module.vpc[0].vpc_cidr
  subnet_ids         = module.vpc[0].private_subnet_ids
  node_instance_type = var.eks.node_instance_type
  node_count         = var.eks.node_count
  node_min           = var.eks.node_min
  node_max           = var.eks.node_max
  node_disk_gb       = var.eks.node_disk_gb
  kms_key_arn        = module.secrets[0].kms_key_arn
  tags               = local.tags
}

module "rds" {
  source = "./modules/rds"
  count  = local.rds_on ? 1 : 0

  name_prefix           = local.name_prefix
  production            = local.production
  vpc_id                = module.vpc[0].vpc_id
  vpc_cidr              = module.vpc[0].vpc_cidr
  subnet_ids            = module.vpc[0].private_subnet_ids
  engine_version        = var.rds.engine_version
  instance_class        = var.rds.instance_class
  storage_gb            = var.rds.storage_gb
  max_storage_gb        = var.rds.max_storage_gb
  multi_az              = var.rds.multi_az
  backup_retention_days = var.rds.backup_retention_days
  backup_window         = var.rds.backup_window
  max_connections       = var.rds.max_connections
  kms_key_arn           = module.secrets[0].kms_key_arn
  tags                  = local.tags
}

module "ec2" {
  source = "./modules/ec2"
  count  = var.enabled && length(var.ec2) > 0 ? 1 : 0

  name_prefix = local.name_prefix
  vpc_id      = module.vpc[0].vpc_id
  subnet_ids  = module.vpc[0].private_subnet_ids
  instances   = var.ec2
  kms_key_arn = module.secrets[0].kms_key_arn
  tags        = local.tags
}

module "redis" {
  source = "./modules/redis"
  count  = local.redis_on ? 1 : 0

  name_prefix    = local.name_prefix
  vpc_id         = module.vpc[0].vpc_id
  vpc_cidr       = module.vpc[0].vpc_cidr
  subnet_ids     = module.vpc[0].private_subnet_ids
  node_type      = var.redis.node_type
  nodes          = var.redis.nodes
  engine_version = var.redis.engine_version
  kms_key_arn    = module.secrets[0].kms_key_arn
  tags           = local.tags
}

module "backup" {
  source = "./modules/backup"
  count  = local.rds_on && var.backup.enabled ? 1 : 0

  name_prefix    = local.name_prefix
  schedule       = var.backup.schedule
  retention_days = var.backup.retention_days
  resource_arns  = [module.rds[0].arn]
  kms_key_arn    = module.secrets[0].kms_key_arn
  tags           = local.tags
}
