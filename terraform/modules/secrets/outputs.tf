output "kms_key_arn" {
  description = "Customer-managed KMS key of the environment."
  value       = aws_kms_key.this.arn
}

output "kms_key_id" {
  description = "Key id of the environment's KMS key."
  value       = aws_kms_key.this.key_id
}

output "secret_arns" {
  description = "Application secrets by name."
  value       = { for name, secret in aws_secretsmanager_secret.app : name => secret.arn }
}

output "secret_names" {
  description = "Application secret names (with the suffix, if any)."
  value       = [for secret in aws_secretsmanager_secret.app : secret.name]
}
