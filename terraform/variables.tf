# One environment's settings. Cloud Doctor renders them from the
# infrastructure spec into envs/<env>.auto.tfvars.json (tools/tfvars.py);
# the defaults below are the ones the renderer fills in, so a spec that
# leaves a key out and a tfvars file that spells it out plan the same.

variable "project" {
  description = "Project name, the first part of every resource name ({project}-{env}-{component})."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.project))
    error_message = "project must be 2-16 lowercase letters or digits, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  description = "AWS region of the environment."
  type        = string
}

variable "owner" {
  description = "Team that owns the environment (the Owner tag)."
  type        = string
}

variable "enabled" {
  description = "false destroys every resource of the environment (intent destroy_all)."
  type        = bool
  default     = true
}

variable "vpc" {
  description = "Network: CIDR, number of availability zones (one public and one private subnet each), NAT gateways."
  type = object({
    cidr         = string
    azs          = optional(number, 2)
    nat_gateways = optional(number, 1)
  })

  validation {
    condition     = can(cidrnetmask(var.vpc.cidr)) && var.vpc.azs >= 1 && var.vpc.azs <= 4
    error_message = "vpc.cidr must be a CIDR block and vpc.azs between 1 and 4."
  }

  validation {
    condition     = var.vpc.nat_gateways >= 0 && var.vpc.nat_gateways <= var.vpc.azs
    error_message = "vpc.nat_gateways must be between 0 and vpc.azs."
  }
}

variable "eks" {
  description = "EKS cluster and its managed node group."
  type = object({
    enabled            = optional(bool, true)
    version            = optional(string, "1.31")
    node_instance_type = optional(string, "t3.medium")
    node_count         = optional(number, 2)
    node_min           = optional(number, 1)
    node_max           = optional(number, 4)
    node_disk_gb       = optional(number, 50)
  })
  default = {}

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.eks.version)) && try(tonumber(split(".", var.eks.version)[1]) >= 29, false)
    error_message = "eks.version must be a supported EKS version (1.29 or newer), e.g. \"1.31\"."
  }

  validation {
    condition     = var.eks.node_min <= var.eks.node_count && var.eks.node_count <= var.eks.node_max
    error_message = "eks.node_count must lie between eks.node_min and eks.node_max."
  }
}

variable "rds" {
  description = "RDS MySQL instance and its parameter group."
  type = object({
    enabled               = optional(bool, true)
    engine                = optional(string, "mysql")
    engine_version        = optional(string, "8.0.41")
    instance_class        = optional(string, "db.t3.micro")
    storage_gb            = optional(number, 20)
    max_storage_gb        = optional(number, 0)
    multi_az              = optional(bool, false)
    backup_retention_days = optional(number, 7)
    backup_window         = optional(string, "")
    max_connections       = optional(number, 150)
  })
  default = {}

  validation {
    condition     = var.rds.engine == "mysql"
    error_message = "rds.engine: this project builds MySQL only."
  }

  validation {
    condition     = var.rds.max_connections >= 10 && var.rds.max_connections <= 16000
    error_message = "rds.max_connections must be between 10 and 16000."
  }
}

variable "backup" {
  description = "AWS Backup plan for the database: a schedule (AWS Backup cron, UTC) and how long recovery points are kept."
  type = object({
    enabled        = optional(bool, false)
    schedule       = optional(string, "cron(0 18 ? * SUN *)")
    retention_days = optional(number, 35)
  })
  default = {}

  validation {
    condition     = can(regex("^cron\\(.+\\)$", var.backup.schedule)) && var.backup.retention_days >= 1
    error_message = "backup.schedule must be an AWS Backup cron expression such as cron(0 18 ? * SUN *), and backup.retention_days at least 1."
  }
}

variable "ec2" {
  description = "Named EC2 instances (e.g. management): type, count and root volume."
  type = map(object({
    instance_type     = string
    count             = optional(number, 1)
    volume_gb         = optional(number, 30)
    volume_iops       = optional(number, 3000)
    volume_throughput = optional(number, 125)
  }))
  default = {}
}

variable "redis" {
  description = "ElastiCache Redis replication group."
  type = object({
    enabled        = optional(bool, false)
    node_type      = optional(string, "cache.t3.micro")
    nodes          = optional(number, 1)
    engine_version = optional(string, "7.1")
  })
  default = {}
}

variable "secrets" {
  description = "Secrets Manager secrets the applications read; name_suffix renames them when an old name is still scheduled for deletion."
  type = object({
    names       = optional(list(string), ["app"])
    name_suffix = optional(string, "")
  })
  default = {}

  validation {
    condition     = can(regex("^([a-z0-9]+)?$", var.secrets.name_suffix))
    error_message = "secrets.name_suffix must be lowercase letters and digits (e.g. v2), never a timestamp."
  }
}

variable "tags" {
  description = "Extra tags from the spec (e.g. CostCenter); the required tags are added by the root module."
  type        = map(string)
  default     = {}
}
