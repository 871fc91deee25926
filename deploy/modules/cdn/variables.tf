variable "name" {
  description = "Name prefix of the buckets and the distribution."
  type        = string
}

variable "domain_name" {
  description = "Domain of the UI (e.g. iot.example.com), an alias of the distribution. null: the distribution's own *.cloudfront.net name."
  type        = string
  default     = null
}

variable "acm_certificate_arn" {
  description = "ACM certificate of domain_name, issued in us-east-1 (CloudFront's region); required with domain_name."
  type        = string
  default     = null

  validation {
    condition     = var.acm_certificate_arn == null || can(regex("^arn:aws:acm:us-east-1:", var.acm_certificate_arn))
    error_message = "CloudFront only uses ACM certificates from us-east-1."
  }

  validation {
    condition     = (var.acm_certificate_arn == null) == (var.domain_name == null)
    error_message = "Give domain_name and acm_certificate_arn together, or neither."
  }
}

variable "route53_zone_id" {
  description = "Hosted zone of domain_name to create the alias records in (null: manage DNS elsewhere)."
  type        = string
  default     = null
}

variable "ecs_api_url" {
  description = "Base URL of the ECS backend (dev output api_url); null hides the ECS toggle. Written to config.json."
  type        = string
  default     = null
}

variable "serverless_api_url" {
  description = "Base URL of the serverless backend (serverless-dev output api_url); null hides the serverless toggle. Written to config.json."
  type        = string
  default     = null
}

variable "grafana_url" {
  description = "Grafana base URL shown by the UI (null: no link)."
  type        = string
  default     = null
}

variable "content_security_policy" {
  description = "Content-Security-Policy of every response; null: a strict default allowing the two API origins in connect-src."
  type        = string
  default     = null
}

variable "web_acl_id" {
  description = "WAFv2 web ACL (scope CLOUDFRONT, created in us-east-1) to attach; null: none."
  type        = string
  default     = null
}

variable "price_class" {
  description = "CloudFront price class (PriceClass_100: North America and Europe edges)."
  type        = string
  default     = "PriceClass_100"
}

variable "kms_key_arn" {
  description = "KMS key encrypting the site bucket (its key policy must let cloudfront.amazonaws.com decrypt for this account's distributions)."
  type        = string
}

variable "log_retention_days" {
  description = "Days the access logs are kept."
  type        = number
  default     = 90
}

variable "force_destroy" {
  description = "Let terraform destroy delete the buckets with their objects."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
