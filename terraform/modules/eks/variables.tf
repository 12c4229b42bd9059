variable "name_prefix" {
  description = "{project}-{env}"
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.31"
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR: the private API endpoint accepts HTTPS from inside the VPC only."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the control plane's interfaces and the nodes."
  type        = list(string)
}

variable "node_instance_type" {
  description = "Instance type of the managed node group."
  type        = string
  default     = "t3.medium"
}

variable "node_count" {
  description = "Desired number of nodes."
  type        = number
  default     = 2
}

variable "node_min" {
  description = "Minimum number of nodes."
  type        = number
  default     = 1
}

variable "node_max" {
  description = "Maximum number of nodes."
  type        = number
  default     = 4
}

variable "node_disk_gb" {
  description = "Root volume size of each node (GiB)."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "Days control-plane logs are kept."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key for Kubernetes secrets and the control-plane log group."
  type        = string
}

variable "tags" {
  description = "Required tags (Project, Environment, Owner, ManagedBy) and the spec's own."
  type        = map(string)
}
