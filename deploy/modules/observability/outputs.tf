output "prometheus_security_group_id" {
  description = "Security group of Prometheus (allow it on the app port)."
  value       = module.prometheus.security_group_id
}

output "prometheus_url" {
  description = "Prometheus inside the VPC."
  value       = "http://${local.prometheus_name}.${var.service_discovery_namespace_name}:9090"
}

output "grafana_security_group_id" {
  description = "Security group of Grafana."
  value       = module.grafana.security_group_id
}

output "grafana_health_check_path" {
  description = "Health check path of Grafana behind its sub path."
  value       = "${local.grafana_path}/api/health"
}

output "grafana_admin_secret_arn" {
  description = "Secret holding the Grafana admin password (user admin)."
  value       = aws_secretsmanager_secret.grafana_admin.arn
}
