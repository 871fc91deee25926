output "url" {
  description = "URL of the UI."
  value       = module.cdn.url
}

output "bucket" {
  description = "Bucket of the UI files."
  value       = module.cdn.bucket
}

output "distribution_id" {
  description = "CloudFront distribution (aws cloudfront create-invalidation --distribution-id …)."
  value       = module.cdn.distribution_id
}

output "distribution_domain_name" {
  description = "CloudFront domain name (CNAME target when DNS is managed elsewhere)."
  value       = module.cdn.distribution_domain_name
}

output "config" {
  description = "Content of config.json."
  value       = module.cdn.config
}

output "certificate_validation_records" {
  description = "DNS records that validate the requested certificate (create them at the DNS provider when route53_zone_id is null); empty without a requested certificate."
  value       = try(module.certificate[0].validation_records, [])
}
