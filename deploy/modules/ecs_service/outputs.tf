output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "security_group_id" {
  description = "Security group of the tasks (grant it access to databases, or allow it in other groups)."
  value       = aws_security_group.this.id
}

output "task_role_arn" {
  description = "Role the application runs with."
  value       = module.task_role.arn
}

output "execution_role_arn" {
  description = "Role the ECS agent uses (image pull, logs, secrets)."
  value       = module.execution_role.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = aws_cloudwatch_log_group.this.name
}

output "discovery_name" {
  description = "Service name in the Cloud Map namespace (null when not registered)."
  value       = one(aws_service_discovery_service.this[*].name)
}
