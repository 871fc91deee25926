output "id" {
  description = "Name of the bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_domain_name" {
  description = "Domain name of the bucket (CloudFront logging_config)."
  value       = aws_s3_bucket.this.bucket_domain_name
}
