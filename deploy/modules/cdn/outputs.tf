output "url" {
  description = "URL of the UI."
  value       = "https://${coalesce(var.domain_name, aws_cloudfront_distribution.this.domain_name)}"
}

output "bucket" {
  description = "Bucket to upload the UI to (aws s3 sync … --exclude config.json)."
  value       = aws_s3_bucket.site.id
}

output "distribution_id" {
  description = "Distribution to invalidate after an upload."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_domain_name" {
  description = "CloudFront domain (target of the domain's CNAME/alias)."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "config" {
  description = "Content of config.json."
  value       = local.config
}
