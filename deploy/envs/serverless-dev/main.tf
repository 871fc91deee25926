# serverless-dev: app-lambda behind an API Gateway HTTP API, on two DynamoDB tables.
#
#   UI ─HTTPS→ HTTP API ($default stage, throttled, access-logged, optional JWT) ─→ app-lambda ─→ DynamoDB
#   EventBridge rate(1 minute) ─→ app-lambda (timeout sweep)
#   app-lambda stdout (EMF) ─→ CloudWatch Logs ─→ metrics IoTPlayground/Sensors

locals {
  name = "${var.project}-${var.environment}"
}

module "serverless_key" {
  source = "../../modules/kms_key"

  alias                 = local.name
  description           = "${local.name}: DynamoDB tables, Lambda environment, logs"
  allow_cloudwatch_logs = true
}

module "dynamodb" {
  source = "../../modules/dynamodb"

  runs_table_name     = var.runs_table_name
  readings_table_name = var.readings_table_name
  kms_key_arn         = module.serverless_key.arn
  deletion_protection = var.deletion_protection
}

module "api" {
  source = "../../modules/lambda_api"

  name                   = "${var.project}-api"
  zip_path               = var.lambda_zip_path
  architecture           = var.lambda_architecture
  memory_size            = var.lambda_memory_size
  reserved_concurrency   = var.reserved_concurrency
  runs_table_name        = module.dynamodb.runs_table_name
  runs_table_arn         = module.dynamodb.runs_table_arn
  runs_index_arns        = module.dynamodb.runs_index_arns
  readings_table_name    = module.dynamodb.readings_table_name
  readings_table_arn     = module.dynamodb.readings_table_arn
  max_concurrent_runs    = var.max_concurrent_runs
  max_runs_per_user      = var.max_runs_per_user
  run_timeout_grace_secs = var.run_timeout_grace_secs
  retention_days         = var.retention_days
  cors_allowed_origins   = var.cors_allowed_origins
  admin_users            = var.admin_users
  grafana_url            = var.grafana_url
  emf_dimensions         = var.emf_dimensions
  throttling_rate_limit  = var.throttling_rate_limit
  throttling_burst_limit = var.throttling_burst_limit
  jwt_authorizer = var.jwt_issuer == null ? null : {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
    claim    = var.jwt_claim
  }
  kms_key_arn        = module.serverless_key.arn
  log_retention_days = var.log_retention_days
}

module "alarms" {
  source = "../../modules/alarms"

  name                 = local.name
  alarm_emails         = var.alarm_emails
  api_id               = module.api.api_id
  lambda_function_name = module.api.function_name
  dynamodb_table_names = [module.dynamodb.runs_table_name, module.dynamodb.readings_table_name]
}
