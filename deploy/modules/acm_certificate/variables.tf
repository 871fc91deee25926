variable "domain_name" {
  description = "Domain the certificate is for (e.g. api.iot.example.com)."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of domain_name: the validation records are created there and the apply waits until the certificate is issued. null: create the records of the validation_records output at your DNS provider; the certificate is issued once they resolve."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags of the certificate."
  type        = map(string)
  default     = {}
}
