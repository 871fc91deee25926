variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-3"
}

variable "project" {
  description = "Project name, prefix of every resource."
  type        = string
  default     = "iot-playground"
}

variable "environment" {
  description = "Environment name."
  type        = string
  default     = "serverless-dev"
}

variable "lambda_zip_path" {
  description = "Path of the app-lambda zip (cargo lambda build --profile lambda --x86-64 --output-format zip -p app-lambda)."
  type        = string
  default     = "../../../target/lambda/app-lambda/bootstrap.zip"
}

variable "lambda_architecture" {
  description = "x86_64 or arm64 (must match the zip)."
  type        = string
  default     = "x86_64"
}

variable "lambda_memory_size" {
  description = "Memory of the function in MB."
  type        = number
  default     = 256
}

variable "reserved_concurrency" {
  description = "Reserved (and maximum) concurrent executions of the function; null (the default) reserves none. A new account's concurrency quota is 10 and Lambda keeps 10 unreserved, so any reservation fails there: set it (e.g. 20) once the quota is raised."
  type        = number
  default     = null
}

variable "runs_table_name" {
  description = "RUNS_TABLE."
  type        = string
  default     = "iot-playground-runs"
}

variable "readings_table_name" {
  description = "READINGS_TABLE."
  type        = string
  default     = "iot-playground-readings"
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
  description = "Origins of the UI allowed by CORS (exact origins, no wildcard)."
  type        = list(string)
}

variable "admin_users" {
  description = "ADMIN_USERS; refused unless jwt_issuer is set."
  type        = list(string)
  default     = []
}

variable "grafana_url" {
  description = "GRAFANA_URL for per-run links (e.g. the dev environment's https://<domain>/grafana); null: none."
  type        = string
  default     = null
}

variable "jwt_issuer" {
  description = "Issuer of the JWT authorizer (e.g. https://cognito-idp.<region>.amazonaws.com/<pool id>); null: no authorizer, identity from X-User."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Accepted audiences (client IDs) of the JWT authorizer."
  type        = list(string)
  default     = []
}

variable "jwt_claim" {
  description = "Claim holding the user name (IDENTITY_CLAIM)."
  type        = string
  default     = "preferred_username"
}

variable "emf_dimensions" {
  description = "EMF_DIMENSIONS of the function (null: SensorId,User,RunId,Type). Each distinct combination of values is a billed custom metric: \"Type\" alone costs a handful of metrics, the default one per sensor and run."
  type        = string
  default     = null
}

variable "throttling_rate_limit" {
  description = "Requests per second of the API's default route."
  type        = number
  default     = 200
}

variable "throttling_burst_limit" {
  description = "Burst of the API's default route."
  type        = number
  default     = 400
}

variable "deletion_protection" {
  description = "Deletion protection of the tables."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group."
  type        = number
  default     = 365
}

variable "alarm_emails" {
  description = "E-mail addresses notified by the alarms (each confirms its SNS subscription once)."
  type        = list(string)
  default     = []
}
