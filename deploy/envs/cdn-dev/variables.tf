variable "region" {
  description = "AWS region of the bucket (CloudFront itself is global)."
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
  default     = "cdn-dev"
}

variable "domain_name" {
  description = "Domain of the UI (e.g. iot.example.com). null: the distribution's own https://<id>.cloudfront.net (output url)."
  type        = string
  default     = null
}

variable "acm_certificate_arn" {
  description = "An existing ACM certificate of domain_name in us-east-1. null with a domain_name: one is requested in us-east-1 and DNS-validated (modules/acm_certificate)."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Hosted zone of domain_name: alias and certificate validation records are created there (null: manage DNS elsewhere, see the certificate_validation_records output)."
  type        = string
  default     = null
}

variable "ecs_api_url" {
  description = "Base URL of the ECS backend (dev output api_url); null: no ECS toggle."
  type        = string
  default     = null
}

variable "serverless_api_url" {
  description = "Base URL of the serverless backend (serverless-dev output api_url); null: no serverless toggle."
  type        = string
  default     = null
}

variable "grafana_url" {
  description = "Grafana base URL (dev output grafana_url); null: no link."
  type        = string
  default     = null
}

variable "web_acl_id" {
  description = "Optional WAFv2 web ACL (scope CLOUDFRONT) for the distribution."
  type        = string
  default     = null
}
