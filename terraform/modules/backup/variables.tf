variable "name_prefix" {
  description = "{project}-{env}"
  type        = string
}

variable "schedule" {
  description = "When the backup rule runs: an AWS Backup cron expression in UTC, e.g. cron(0 18 ? * SUN *)."
  type        = string
}

variable "retention_days" {
  description = "Days a recovery point is kept before AWS Backup deletes it."
  type        = number
  default     = 35
}

variable "resource_arns" {
  description = "ARNs of the resources backed up (the RDS instance)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "The environment's KMS key; the vault encrypts recovery points with it."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
