variable "name" {
  description = "Name prefix of the Prometheus and Grafana services."
  type        = string
}

variable "environment" {
  description = "Environment label added to every scraped series (external_labels)."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster running the two services."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
}

variable "service_discovery_namespace_id" {
  description = "Cloud Map private DNS namespace the app tasks are registered in."
  type        = string
}

variable "service_discovery_namespace_name" {
  description = "DNS name of that namespace (e.g. iot-playground.internal)."
  type        = string
}

variable "app_discovery_name" {
  description = "Cloud Map service name of app-ecs: Prometheus resolves <name>.<namespace> (one A record per task) and scrapes every task directly, never through the ALB."
  type        = string
}

variable "app_port" {
  description = "Port of app-ecs (/metrics)."
  type        = number
  default     = 8080
}

variable "app_security_group_id" {
  description = "Security group of the app-ecs tasks (Prometheus needs egress to them)."
  type        = string
}

variable "scrape_interval" {
  description = "Prometheus scrape interval."
  type        = string
  default     = "5s"
}

variable "prometheus_retention" {
  description = "Prometheus TSDB retention (the data lives on task storage and is lost when the task is replaced)."
  type        = string
  default     = "7d"
}

variable "prometheus_image" {
  description = "Prometheus image (official, pinned)."
  type        = string
  default     = "prom/prometheus:v3.5.0"
}

variable "grafana_image" {
  description = "Grafana image with the provisioning and dashboards of dashboards/ baked in (dashboards/Dockerfile, pushed to ECR)."
  type        = string
}

variable "grafana_root_url" {
  description = "Public URL of Grafana, ending with its sub path and a slash (e.g. https://iot.example.com/grafana/)."
  type        = string

  validation {
    condition     = startswith(var.grafana_root_url, "https://") && endswith(var.grafana_root_url, "/")
    error_message = "grafana_root_url must be an https:// URL ending with /."
  }
}

variable "grafana_target_group_arn" {
  description = "ALB target group of Grafana."
  type        = string
}

variable "alb_security_group_id" {
  description = "Security group of the ALB (the only way in to Grafana)."
  type        = string
}

variable "grafana_admin_password_version" {
  description = "Bump to generate a new Grafana admin password (then redeploy Grafana: it reads the password when it starts)."
  type        = number
  default     = 1
}

variable "grafana_cloudwatch_access" {
  description = "Let Grafana read CloudWatch metrics of this account (the iot-playground-serverless dashboard)."
  type        = bool
  default     = true
}

variable "grafana_log_group_arns" {
  description = "Log groups Grafana may query with Logs Insights (e.g. the Lambda's); empty: none."
  type        = list(string)
  default     = []
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (both official images are multi-arch)."
  type        = string
  default     = "X86_64"
}

variable "kms_key_arn" {
  description = "KMS key of the log groups and of the Grafana admin secret."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the services' log groups."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
