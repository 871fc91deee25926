variable "name" {
  description = "Name of the load balancer and prefix of its companions (32 characters at most)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the load balancer and its targets."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (two AZs at least)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener (same region as the ALB). null: no HTTPS listener, the HTTP listener serves the targets (a trial without a domain; OIDC needs a certificate)."
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener (TLS 1.2 and 1.3 only)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "ingress_cidr_blocks" {
  description = "IPv4 ranges allowed to reach ports 80 (redirect only) and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "targets" {
  description = <<-EOT
    Target groups (IP targets, Fargate). The one named by default_target receives every request
    no rule matches; the others are reached by their path_patterns (rule priority = priority).
  EOT
  type = map(object({
    port              = number
    health_check_path = string
    path_patterns     = optional(list(string), [])
    priority          = optional(number, 100)
    security_group_id = string
  }))
}

variable "default_target" {
  description = "Key of var.targets receiving the requests no rule matches."
  type        = string
}

variable "blocked_paths" {
  description = "Paths answered 404 by the ALB itself (metrics are scraped inside the VPC, never through the ALB)."
  type        = list(string)
  default     = ["/metrics", "/actuator/prometheus"]
}

variable "oidc" {
  description = <<-EOT
    OpenID Connect authentication of the default target (null: none). The ALB then forwards the
    verified claims in x-amzn-oidc-data, which app-ecs reads with IDENTITY_SOURCE=alb-oidc.
  EOT
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
    scope                  = optional(string, "openid profile")
  })
  default = null

  validation {
    condition     = var.oidc == null || var.certificate_arn != null
    error_message = "OIDC authentication needs HTTPS: give certificate_arn (a domain) too."
  }
}

variable "oidc_client_secret" {
  description = "Client secret of the OIDC application (with var.oidc; pass it as TF_VAR_oidc_client_secret, never in a file). The ALB API keeps it in the Terraform state: the state bucket is encrypted and private."
  type        = string
  default     = null
  sensitive   = true
}

variable "enable_waf" {
  description = "Attach a WAFv2 web ACL (AWS managed common, known-bad-inputs and IP reputation rules, per-IP rate limit)."
  type        = bool
  default     = true
}

variable "waf_rate_limit_per_5min" {
  description = "Requests one IP may send in 5 minutes (a 100-sensor run at 200 ms posts up to 150 000 single readings in 5 minutes; batch ingestion needs far fewer)."
  type        = number
  default     = 30000
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer (turn off explicitly before a destroy)."
  type        = bool
  default     = true
}

variable "access_log_retention_days" {
  description = "Days the access logs are kept in S3."
  type        = number
  default     = 90
}

variable "kms_key_arn" {
  description = "KMS key of the WAF log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the WAF log group."
  type        = number
  default     = 365
}

variable "force_destroy_logs" {
  description = "Let terraform destroy delete the access log bucket with its objects."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
