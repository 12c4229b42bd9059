variable "name_prefix" {
  description = "{project}-{env}"
  type        = string
}

variable "vpc_id" {
  description = "VPC of the instances."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets; instances are spread across them."
  type        = list(string)
}

variable "instances" {
  description = "Named instances: type, count and root volume (GiB, gp3 IOPS and throughput)."
  type = map(object({
    instance_type     = string
    count             = optional(number, 1)
    volume_gb         = optional(number, 30)
    volume_iops       = optional(number, 3000)
    volume_throughput = optional(number, 125)
  }))
}

variable "ami_parameter" {
  description = "SSM parameter holding the AMI id (Amazon Linux 2023 by default)."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

variable "kms_key_arn" {
  description = "KMS key for the root volumes."
  type        = string
}

variable "tags" {
  description = "Required tags (Project, Environment, Owner, ManagedBy) and the spec's own."
  type        = map(string)
}
