output "plan_id" {
  description = "The AWS Backup plan."
  value       = aws_backup_plan.this.id
}

output "vault_name" {
  description = "The vault that keeps the recovery points."
  value       = aws_backup_vault.this.name
}
