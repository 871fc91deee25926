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
