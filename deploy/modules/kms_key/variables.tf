variable "alias" {
  description = "Alias of the key, without the alias/ prefix."
  type        = string
}

variable "description" {
  description = "Description of the key (what it encrypts)."
  type        = string
}

variable "allow_cloudwatch_logs" {
  description = "Let CloudWatch Logs of this region use the key for this account's log groups."
  type        = bool
  default     = false
}

variable "policy_statements" {
  description = "Further key policy statements (IAM JSON policy statements as HCL objects)."
  type        = any
  default     = []
}
