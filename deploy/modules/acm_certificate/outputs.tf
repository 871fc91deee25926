output "arn" {
  description = "ARN of the certificate; with a Route 53 zone, known only once it is issued (so that listeners and distributions wait for it)."
  value       = var.route53_zone_id == null ? aws_acm_certificate.this.arn : aws_acm_certificate_validation.this[0].certificate_arn
}

output "validation_records" {
  description = "The DNS records that prove ownership of the domain (name, type, value): create them at the DNS provider when route53_zone_id is null."
  value = [for o in aws_acm_certificate.this.domain_validation_options : {
    name  = o.resource_record_name
    type  = o.resource_record_type
    value = o.resource_record_value
  }]
}
