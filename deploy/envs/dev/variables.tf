variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-3"
}

variable "project" {
  description = "Project name, prefix of every resource."
  type        = string
  default     = "iot-playground"
}

variable "environment" {
  description = "Environment name."
  type        = string
  default     = "dev"
}

variable "domain_name" {
  description = "Public domain of the API and Grafana (e.g. api.iot.example.com). null: none, the ALB serves plain HTTP on its own DNS name (output api_url)."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "An existing ACM certificate of domain_name in var.region. null with a domain_name: one is requested and DNS-validated (modules/acm_certificate)."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Hosted zone of domain_name: the ALB alias record and the certificate's validation records are created there (null: manage DNS elsewhere, see the certificate_validation_records output)."
  type        = string
  default     = null
}

variable "app_image_tag" {
  description = "Tag of the app-ecs image in the app ECR repository (immutable tags: use the git SHA)."
  type        = string
}

variable "grafana_image_tag" {
  description = "Tag of the Grafana image (dashboards/Dockerfile) in the grafana ECR repository."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 for every task (the images must exist for it)."
  type        = string
  default     = "X86_64"
}

variable "app_cpu" {
  description = "CPU units of an app-ecs task."
  type        = number
  default     = 256
}

variable "app_memory" {
  description = "Memory (MiB) of an app-ecs task."
  type        = number
  default     = 512
}

variable "app_min_tasks" {
  description = "Fewest app-ecs tasks."
  type        = number
  default     = 1
}

variable "app_max_tasks" {
  description = "Most app-ecs tasks (CPU target tracking)."
  type        = number
  default     = 3
}

variable "max_concurrent_runs" {
  description = "MAX_CONCURRENT_RUNS."
  type        = number
  default     = 5
}

variable "max_runs_per_user" {
  description = "MAX_RUNS_PER_USER."
  type        = number
  default     = 5
}

variable "run_timeout_grace_secs" {
  description = "RUN_TIMEOUT_GRACE_SECS."
  type        = number
  default     = 120
}

variable "retention_days" {
  description = "RETENTION_DAYS: days runs and readings are kept after a run's deadline, then deleted; null keeps them forever."
  type        = number
  default     = null

  validation {
    condition     = var.retention_days == null || (var.retention_days >= 1 && var.retention_days <= 36500)
    error_message = "retention_days must be null or between 1 and 36500."
  }
}

variable "cors_allowed_origins" {
  description = "CORS_ALLOWED_ORIGINS of app-ecs: the UI's origins (e.g. https://iot.example.com), never *."
  type        = list(string)

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[^*/]+$", o))])
    error_message = "cors_allowed_origins must list exact origins (no wildcard, no path)."
  }
}

variable "admin_users" {
  description = "ADMIN_USERS. Only with oidc set: with X-User identity anyone could claim an admin name."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.admin_users) == 0 || var.oidc != null
    error_message = "admin_users needs oidc (ALB authentication): with X-User identity anyone could claim an admin name."
  }
}

variable "oidc" {
  description = "OIDC provider authenticating API users at the ALB (null: X-User identity). The client secret is TF_VAR_oidc_client_secret."
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
    scope                  = optional(string, "openid profile")
    claim                  = optional(string, "preferred_username")
  })
  default = null
}

variable "oidc_client_secret" {
  description = "Client secret of the OIDC application: export TF_VAR_oidc_client_secret, never write it in a file."
  type        = string
  default     = null
  sensitive   = true
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_multi_az" {
  description = "RDS standby in a second AZ."
  type        = bool
  default     = false
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the VPC instead of one per AZ."
  type        = bool
  default     = true
}

variable "enable_waf" {
  description = "WAF web ACL on the ALB."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Deletion protection of the ALB and the database (set false, apply, then destroy)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group."
  type        = number
  default     = 365
}

variable "grafana_admin_password_version" {
  description = "Bump to generate a new Grafana admin password (Grafana picks it up when its task restarts)."
  type        = number
  default     = 1
}

variable "alarm_emails" {
  description = "E-mail addresses notified by the alarms (each confirms its SNS subscription once)."
  type        = list(string)
  default     = []
}
