variable "name" {
  description = "Identifier of the DB instance and prefix of its companions."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the instance."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group (two AZs at least)."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on the PostgreSQL port: description => security group ID."
  type        = map(string)
}

variable "engine_version" {
  description = "PostgreSQL major version (minor versions are upgraded automatically in the maintenance window)."
  type        = string
  default     = "16"
}

variable "instance_class" {
  description = "Instance class (db.t4g.micro is the smallest Graviton class)."
  type        = string
  default     = "db.t4g.micro"
}

variable "allocated_storage" {
  description = "Initial gp3 storage in GiB."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 100
}

variable "database_name" {
  description = "Database created at launch."
  type        = string
  default     = "iot"
}

variable "master_username" {
  description = "Master user (its password is generated and rotated by RDS in Secrets Manager)."
  type        = string
  default     = "iot_admin"
}

variable "multi_az" {
  description = "Standby in a second AZ (doubles the instance cost)."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1
    error_message = "Backups must stay enabled (at least 1 day)."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (turn off explicitly before a destroy)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key encrypting storage, Performance Insights, the master secret and the log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL logs."
  type        = number
  default     = 365
}

variable "slow_query_ms" {
  description = "log_min_duration_statement: statements slower than this are logged."
  type        = number
  default     = 500
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
