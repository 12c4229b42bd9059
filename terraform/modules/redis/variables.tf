variable "name_prefix" {
  description = "{project}-{env}"
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cache."
  type        = string
}

variable "vpc_cidr" {
  description = "Clients inside this CIDR may connect on 6379."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the cache subnet group."
  type        = list(string)
}

variable "node_type" {
  description = "Cache node type."
  type        = string
  default     = "cache.t3.micro"
}

variable "nodes" {
  description = "Cache nodes (1 primary + replicas); 2 or more turns on automatic failover."
  type        = number
  default     = 1
}

variable "engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "snapshot_retention_days" {
  description = "Days of automatic snapshots."
  type        = number
  default     = 7
}

variable "kms_key_arn" {
  description = "KMS key for data at rest and the AUTH token secret."
  type        = string
}

variable "tags" {
  description = "Required tags (Project, Environment, Owner, ManagedBy) and the spec's own."
  type        = map(string)
}
