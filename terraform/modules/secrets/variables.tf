variable "name_prefix" {
  description = "{project}-{env}"
  type        = string
}

variable "names" {
  description = "Application secrets to create (their values are set by people or pipelines, never by Terraform)."
  type        = list(string)
  default     = ["app"]
}

variable "name_suffix" {
  description = "Appended to every secret name (e.g. v2) when an old name is still scheduled for deletion."
  type        = string
  default     = ""
}

variable "recovery_window_days" {
  description = "Days a deleted secret stays recoverable (and its name reserved)."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Required tags (Project, Environment, Owner, ManagedBy) and the spec's own."
  type        = map(string)
}
