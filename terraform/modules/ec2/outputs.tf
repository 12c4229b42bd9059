output "instance_ids" {
  description = "Instance ids by name."
  value       = { for name, instance in aws_instance.this : name => instance.id }
}

output "private_ips" {
  description = "Private IP addresses by name."
  value       = { for name, instance in aws_instance.this : name => instance.private_ip }
}

output "security_group_id" {
  description = "Security group of the instances."
  value       = aws_security_group.this.id
}

output "role_name" {
  description = "IAM role of the instances."
  value       = aws_iam_role.this.name
}
