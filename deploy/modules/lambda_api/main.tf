# app-lambda behind an API Gateway HTTP API (payload 2.0): least-privilege role on the two
# tables, X-Ray tracing, reserved concurrency, CORS allow-list, throttling, access logs, optional
# JWT authorizer, and an EventBridge schedule for the timeout sweep.

data "aws_region" "current" {}

locals {
  jwt_enabled = var.jwt_authorizer != null

  environment = merge(
    {
      RUNS_TABLE             = var.runs_table_name
      READINGS_TABLE         = var.readings_table_name
      CREATE_TABLES          = "false"
      MAX_CONCURRENT_RUNS    = tostring(var.max_concurrent_runs)
      MAX_RUNS_PER_USER      = tostring(var.max_runs_per_user)
      RUN_TIMEOUT_GRACE_SECS = tostring(var.run_timeout_grace_secs)
      CORS_ALLOWED_ORIGINS   = join(",", var.cors_allowed_origins)
      LOG_FORMAT             = "json"
      RUST_LOG               = "info"
      REQUEST_TIMEOUT_SECS   = tostring(var.timeout_seconds - 3)
    },
    var.emf_dimensions == null ? {} : { EMF_DIMENSIONS = var.emf_dimensions },
    length(var.admin_users) == 0 ? {} : { ADMIN_USERS = join(",", var.admin_users) },
    var.grafana_url == null ? {} : { GRAFANA_URL = var.grafana_url },
    var.retention_days == null ? {} : { RETENTION_DAYS = tostring(var.retention_days) },
    local.jwt_enabled ? { IDENTITY_SOURCE = "jwt-claim", IDENTITY_CLAIM = var.jwt_authorizer.claim } : {},
    var.extra_environment,
  )
}

# --- Logs --------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# --- IAM ---------------------------------------------------------------------------------------

# Exactly the calls adapters-dynamo makes: no Scan, no CreateTable (tables come from Terraform),
# no DeleteItem. TransactWriteItems is authorized through the PutItem/UpdateItem actions of its
# items.
data "aws_iam_policy_document" "function" {
  statement {
    sid = "RunsTable"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    resources = [var.runs_table_arn]
  }

  statement {
    sid       = "RunsIndexes"
    actions   = ["dynamodb:Query"]
    resources = var.runs_index_arns
  }

  statement {
    sid = "ReadingsTable"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
    ]
    resources = [var.readings_table_arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  statement {
    sid       = "DecryptEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["lambda.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}

module "function_role" {
  source = "../service_role"

  name_prefix         = "${substr(var.name, 0, 24)}-fn-"
  service             = "lambda.amazonaws.com"
  inline_policies     = { "app-lambda" = data.aws_iam_policy_document.function.json }
  managed_policy_arns = ["arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"]

  tags = var.tags
}

# --- Function ----------------------------------------------------------------------------------

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:the function only calls DynamoDB and CloudWatch over their public TLS endpoints; a VPC would add NAT gateway or endpoint costs and cold-start latency for no private resource
  #checkov:skip=CKV_AWS_116:API Gateway invokes synchronously (errors go back to the caller); the only asynchronous source is the one-minute sweep, whose next run redoes a lost one
  #checkov:skip=CKV_AWS_115:reserved concurrency is optional (var.reserved_concurrency): a new account's quota of 10 cannot reserve any; the stage's throttling bounds the rate meanwhile
  #checkov:skip=CKV_AWS_272:the zip is built by cargo lambda in CI and deployed by Terraform from the same pipeline; AWS Signer code signing is not set up for this playground
  function_name                  = var.name
  description                    = "iot-playground API (app-lambda) on DynamoDB"
  role                           = module.function_role.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  memory_size                    = var.memory_size
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  tags = var.tags

  # The role's policies must be in place before the function first runs.
  depends_on = [module.function_role]

  lifecycle {
    precondition {
      condition     = length(var.admin_users) == 0 || var.jwt_authorizer != null
      error_message = "admin_users needs the JWT authorizer: with X-User identity anyone could claim an admin name."
    }
  }
}

# --- HTTP API ----------------------------------------------------------------------------------

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = "iot-playground API v1 (app-lambda)"
  protocol_type = "HTTP"

  # API Gateway answers preflights itself and replaces the function's CORS headers, so this list
  # and the function's CORS_ALLOWED_ORIGINS are the same variable.
  cors_configuration {
    allow_origins     = var.cors_allowed_origins
    allow_methods     = ["GET", "POST", "OPTIONS"]
    allow_headers     = ["content-type", "x-user", "x-run-id", "idempotency-key", "authorization"]
    expose_headers    = ["x-request-id", "location"]
    allow_credentials = false
    max_age           = 3600
  }

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "lambda" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count = local.jwt_enabled ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_authorizer.issuer
    audience = var.jwt_authorizer.audience
  }
}

resource "aws_apigatewayv2_route" "default" {
  # Authorization is the jwt_authorizer variable; without it the playground identifies callers
  # by X-User and admin_users is refused (precondition on the function).
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.lambda.id}"
  authorization_type = local.jwt_enabled ? "JWT" : "NONE"
  authorizer_id      = local.jwt_enabled ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

# Liveness stays public so that probes need no token.
resource "aws_apigatewayv2_route" "health" {
  #checkov:skip=CKV_AWS_309:liveness probe, public by design; it returns no data
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /health"
  target             = "integrations/${aws_apigatewayv2_integration.lambda.id}"
  authorization_type = "NONE"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      path               = "$context.path"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
      user               = "$context.authorizer.claims.sub"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

# --- Timeout sweep -----------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "sweep" {
  name                = "${var.name}-sweep"
  description         = "Invokes ${var.name} to persist TIMEOUT on runs past their deadline"
  schedule_expression = var.sweep_schedule

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "sweep" {
  rule      = aws_cloudwatch_event_rule.sweep.name
  target_id = "sweep"
  arn       = aws_lambda_function.this.arn

  # A failed sweep is retried by Lambda's asynchronous invocation (twice); EventBridge itself
  # only retries deliveries, and an old sweep is worthless once the next one is due.
  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 60
  }
}

resource "aws_lambda_permission" "sweep" {
  statement_id  = "AllowSweepSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep.arn
}
