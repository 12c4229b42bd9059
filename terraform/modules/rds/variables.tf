variable "name_prefix" {
  description = "{project}-{env}"
  type        = string
}

variable "production" {
  description = "Production keeps deletion protection, a final snapshot and at least 7 days of backups."
  type        = bool
  default     = false
}

variable "vpc_id" {
  description = "VPC of the database."
  type        = string
}

variable "vpc_cidr" {
  description = "Clients inside this CIDR may connect on 3306."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group."
  type        = list(string)
}

variable "engine_version" {
  description = "MySQL version, e.g. 8.0.41."
  type        = string
  default     = "8.0.41"
}

variable "instance_class" {
  description = "DB instance class."
  type        = string
  default     = "db.t3.micro"
}

variable "storage_gb" {
  description = "Allocated storage (GiB)."
  type        = number
  default     = 20
}

variable "max_storage_gb" {
  description = "Storage autoscaling ceiling (GiB); 0 turns autoscaling off."
  type        = number
  default     = 0
}

variable "multi_az" {
  description = "Standby in a second zone."
  type        = bool
  default     = false
}

variable "backup_window" {
  description = "Daily window of automated backups, hh24:mi-hh24:mi in UTC (\"\" lets AWS choose)."
  type        = string
  default     = ""
}

variable "backup_retention_days" {
  description = "Days of automated backups (0 = none; production needs at least 7)."
  type        = number
  default     = 7
}

variable "max_connections" {
  description = "MySQL max_connections, set through the parameter group."
  type        = number
  default     = 150
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights and the master secret."
  type        = string
}

variable "tags" {
  description = "Required tags (Project, Environment, Owner, ManagedBy) and the spec's own."
  type        = map(string)
}
