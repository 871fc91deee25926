variable "name" {
  description = "Name of the function and of the HTTP API."
  type        = string
}

variable "zip_path" {
  description = "Lambda package built by `cargo lambda build --profile lambda --x86-64 --output-format zip -p app-lambda` (target/lambda/app-lambda/bootstrap.zip)."
  type        = string
}

variable "architecture" {
  description = "x86_64 (built and tested here) or arm64 (Graviton, ~20 % cheaper per GB-second; build with --arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory in MB (CPU grows with it; 256 MB suits the Rust binary)."
  type        = number
  default     = 256
}

variable "timeout_seconds" {
  description = "Function timeout (the HTTP API gives up after 30 s). The app's own REQUEST_TIMEOUT_SECS is set 3 s below it, so a slow request answers 408 before the runtime kills it."
  type        = number
  default     = 28

  validation {
    condition     = var.timeout_seconds >= 5 && var.timeout_seconds <= 29
    error_message = "timeout_seconds must stay below the HTTP API's 30 s integration limit."
  }
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved (and capped) for the function: bounds cost and the DynamoDB write rate. null: none reserved (the account's unreserved pool; the API's throttling still bounds the rate)."
  type        = number
  default     = null
}

variable "runs_table_name" {
  description = "RUNS_TABLE."
  type        = string
}

variable "runs_table_arn" {
  description = "ARN of the runs table."
  type        = string
}

variable "runs_index_arns" {
  description = "ARNs of the runs table's GSIs (Query only)."
  type        = list(string)
}

variable "readings_table_name" {
  description = "READINGS_TABLE."
  type        = string
}

variable "readings_table_arn" {
  description = "ARN of the readings table."
  type        = string
}

variable "max_concurrent_runs" {
  description = "MAX_CONCURRENT_RUNS."
  type        = number
  default     = 5
}

variable "max_runs_per_user" {
  description = "MAX_RUNS_PER_USER."
  type        = number
  default     = 5
}

variable "run_timeout_grace_secs" {
  description = "RUN_TIMEOUT_GRACE_SECS."
  type        = number
  default     = 120
}

variable "retention_days" {
  description = "RETENTION_DAYS: days runs and readings are kept after a run's deadline, then deleted; null keeps them forever."
  type        = number
  default     = null

  validation {
    condition     = var.retention_days == null || (var.retention_days >= 1 && var.retention_days <= 36500)
    error_message = "retention_days must be null or between 1 and 36500."
  }
}

variable "cors_allowed_origins" {
  description = "Origins allowed by CORS (both API Gateway, which answers preflights, and the function): exact origins, no wildcard."
  type        = list(string)

  validation {
    condition     = length(var.cors_allowed_origins) > 0 && alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[^*/]+$", o))])
    error_message = "cors_allowed_origins must list exact origins such as https://ui.example.com (no wildcard, no path)."
  }
}

variable "admin_users" {
  description = "ADMIN_USERS: users whose interrupt-all cancels everyone's runs. Only allowed with the JWT authorizer (with X-User anyone could claim the name)."
  type        = list(string)
  default     = []
}

variable "grafana_url" {
  description = "GRAFANA_URL for per-run dashboard links (null: none)."
  type        = string
  default     = null
}

variable "emf_dimensions" {
  description = "EMF_DIMENSIONS: dimension sets of SensorReading/DataIngested (e.g. \"SensorId,User,RunId,Type\" or \"Type\"); every distinct combination of values is a billed CloudWatch metric, so RunId makes metrics per run. null: the app's default."
  type        = string
  default     = null
}

variable "extra_environment" {
  description = "More environment variables of the function (never secrets)."
  type        = map(string)
  default     = {}
}

variable "jwt_authorizer" {
  description = "JWT authorizer of the API (null: identity from X-User). When set, the function reads the user from the claim (IDENTITY_SOURCE=jwt-claim)."
  type = object({
    issuer   = string
    audience = list(string)
    claim    = optional(string, "preferred_username")
  })
  default = null
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second of the API's default route."
  type        = number
  default     = 200
}

variable "throttling_burst_limit" {
  description = "Burst of the API's default route."
  type        = number
  default     = 400
}

variable "sweep_schedule" {
  description = "EventBridge schedule invoking the function to persist TIMEOUT on expired runs."
  type        = string
  default     = "rate(1 minute)"
}

variable "kms_key_arn" {
  description = "KMS key of the log groups and of the function's environment variables."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's and the API's log groups."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
