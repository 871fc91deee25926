variable "runs_table_name" {
  description = "Name of the runs table (RUNS_TABLE)."
  type        = string
  default     = "iot-playground-runs"
}

variable "readings_table_name" {
  description = "Name of the readings table (READINGS_TABLE)."
  type        = string
  default     = "iot-playground-readings"
}

variable "kms_key_arn" {
  description = "Customer managed KMS key encrypting both tables."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete the tables (turn off explicitly before a destroy)."
  type        = bool
  default     = true
}

variable "point_in_time_recovery_days" {
  description = "Days of continuous backups (1–35)."
  type        = number
  default     = 35
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
