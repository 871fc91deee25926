output "api_url" {
  description = "Base URL of app-ecs (the UI's ECS URL): https://domain_name, or http://<ALB DNS name> without a domain."
  value       = local.base_url
}

output "certificate_validation_records" {
  description = "DNS records that validate the requested certificate (create them at the DNS provider when route53_zone_id is null); empty without a requested certificate."
  value       = try(module.certificate[0].validation_records, [])
}

output "grafana_url" {
  description = "Grafana (user admin, password in grafana_admin_secret_arn)."
  value       = local.grafana_root_url
}

output "grafana_admin_secret_arn" {
  description = "Secret holding the Grafana admin password: aws secretsmanager get-secret-value --secret-id <arn>."
  value       = module.observability.grafana_admin_secret_arn
}

output "alb_dns_name" {
  description = "DNS name of the ALB (alias target of domain_name when route53_zone_id is null; the API URL without a domain)."
  value       = module.alb.dns_name
}

output "ecr_repository_urls" {
  description = "Where to push the app-ecs and Grafana images."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "ecs_cluster_name" {
  description = "ECS cluster (aws ecs update-service --cluster …)."
  value       = aws_ecs_cluster.this.name
}

output "app_service_name" {
  description = "ECS service of app-ecs."
  value       = module.app.service_name
}

output "db_address" {
  description = "Private address of PostgreSQL."
  value       = module.rds.address
}

output "db_master_secret_arn" {
  description = "RDS-managed secret of the master user (rotated by RDS)."
  value       = module.rds.master_user_secret_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms: subscribe chat or paging endpoints to it."
  value       = module.alarms.topic_arn
}
