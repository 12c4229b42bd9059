output "endpoint" {
  description = "host:port of the database."
  value       = aws_db_instance.this.endpoint
}

output "address" {
  description = "Host name of the database."
  value       = aws_db_instance.this.address
}

output "master_secret_arn" {
  description = "Secrets Manager secret with the master password (kept and rotated by RDS)."
  value       = try(aws_db_instance.this.master_user_secret[0].secret_arn, null)
}

output "parameter_group_name" {
  description = "Parameter group that sets max_connections."
  value       = aws_db_parameter_group.this.name
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.db.id
}

output "arn" {
  description = "ARN of the database (AWS Backup selects it)."
  value       = aws_db_instance.this.arn
}
