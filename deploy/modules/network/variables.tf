variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "cidr_block" {
  description = "CIDR of the VPC (a /16 leaves room for 256 /24 subnets)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_suffixes" {
  description = "Availability zones used, as letters after the region name (2 at least: the ALB and the RDS subnet group need two). Named explicitly so that the set never changes when AWS adds a zone."
  type        = list(string)
  default     = ["a", "b"]

  validation {
    condition     = length(var.az_suffixes) >= 2 && length(var.az_suffixes) <= 4
    error_message = "Use between 2 and 4 availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all private subnets (cheaper, one AZ is a single point of failure) instead of one per AZ."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the VPC flow log group."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
