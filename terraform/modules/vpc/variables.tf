variable "name_prefix" {
  description = "{project}-{env}"
  type        = string
}

variable "cidr" {
  description = "VPC CIDR block."
  type        = string
}

variable "azs" {
  description = "Availability zones: one public and one private subnet in each."
  type        = number
  default     = 2
}

variable "nat_gateways" {
  description = "NAT gateways (0 = private subnets have no internet egress; 1 = shared; azs = one per zone)."
  type        = number
  default     = 1
}

variable "flow_log_retention_days" {
  description = "Days VPC flow logs are kept."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow-log group."
  type        = string
}

variable "tags" {
  description = "Required tags (Project, Environment, Owner, ManagedBy) and the spec's own."
  type        = map(string)
}
