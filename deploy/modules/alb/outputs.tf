output "dns_name" {
  description = "DNS name of the load balancer (point the domain's alias record at it)."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Hosted zone of the load balancer, for Route 53 alias records."
  value       = aws_lb.this.zone_id
}

output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix (CloudWatch LoadBalancer dimension)."
  value       = aws_lb.this.arn_suffix
}

output "security_group_id" {
  description = "Security group of the load balancer (allow it in the targets' groups)."
  value       = aws_security_group.this.id
}

output "target_group_arns" {
  description = "Target group ARN per key of var.targets."
  value       = { for k, v in aws_lb_target_group.this : k => v.arn }
}

output "access_log_bucket" {
  description = "Bucket holding the access logs."
  value       = module.access_logs.id
}

output "web_acl_arn" {
  description = "WAF web ACL (null when disabled)."
  value       = one(aws_wafv2_web_acl.this[*].arn)
}
