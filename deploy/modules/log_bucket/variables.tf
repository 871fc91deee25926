variable "bucket_prefix" {
  description = "Prefix of the bucket name (AWS appends a unique suffix)."
  type        = string
}

variable "delivery_statements" {
  description = <<-EOT
    Who may write logs (s3:PutObject) and where: one policy statement each, on the objects under
    key_prefix (e.g. "AWSLogs/<account>/"), for the given principals and conditions. A statement
    denying every request without TLS is always added.
  EOT
  type = list(object({
    sid                   = string
    key_prefix            = string
    principal_type        = string
    principal_identifiers = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
}

variable "acl_log_delivery" {
  description = "Keep ACLs enabled (BucketOwnerPreferred) for a service that delivers through an ACL grant (CloudFront standard logging); false: BucketOwnerEnforced, ACLs disabled."
  type        = bool
  default     = false
}

variable "retention_days" {
  description = "Days the log objects are kept."
  type        = number
}

variable "lifecycle_rule_id" {
  description = "Id of the lifecycle rule expiring the logs."
  type        = string
  default     = "expire-logs"
}

variable "force_destroy" {
  description = "Let terraform destroy delete the bucket with its objects."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
