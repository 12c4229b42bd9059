output "name_prefix" {
  description = "The {project}-{env} prefix every resource name starts with."
  value       = local.name_prefix
}

output "vpc_id" {
  description = "VPC of the environment."
  value       = one(module.vpc[*].vpc_id)
}

output "private_subnet_ids" {
  description = "Private subnets (EKS nodes, RDS, Redis, EC2)."
  value       = one(module.vpc[*].private_subnet_ids)
}

output "eks_cluster_name" {
  description = "EKS cluster name, for `aws eks update-kubeconfig`."
  value       = one(module.eks[*].cluster_name)
}

output "eks_cluster_endpoint" {
  description = "Private API endpoint of the EKS cluster."
  value       = one(module.eks[*].cluster_endpoint)
}

output "eks_node_group_name" {
  description = "Managed node group name."
  value       = one(module.eks[*].node_group_name)
}

output "rds_endpoint" {
  description = "MySQL endpoint (host:port)."
  value       = one(module.rds[*].endpoint)
}

output "rds_master_secret_arn" {
  description = "Secrets Manager secret RDS keeps the master password in."
  value       = one(module.rds[*].master_secret_arn)
}

output "rds_parameter_group" {
  description = "Parameter group that sets max_connections."
  value       = one(module.rds[*].parameter_group_name)
}

output "redis_endpoint" {
  description = "Primary endpoint of the Redis replication group."
  value       = one(module.redis[*].primary_endpoint)
}

output "instance_ids" {
  description = "EC2 instance ids by name."
  value       = one(module.ec2[*].instance_ids)
}

output "secret_arns" {
  description = "Application secrets by name."
  value       = one(module.secrets[*].secret_arns)
}
