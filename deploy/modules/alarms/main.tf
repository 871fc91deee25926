# CloudWatch alarms on what an operator of either backend needs to hear about, all notifying one
# SNS topic (encrypted with its own KMS key, which CloudWatch may use to publish).
#
# Each group is created only when its resource is given: the ECS environment passes the ALB, the
# RDS instance and the ECS service; the serverless one the API Gateway, the Lambda function and the
# DynamoDB tables.
#
#   ALB          5xx rate (target and load balancer 5xx / requests), p99 target response time
#   API Gateway  5xx rate (5xx / Count), p99 latency
#   Lambda       errors, throttles, p99 duration
#   DynamoDB     read and write throttle events, per table
#   RDS          CPU, free storage, connections
#   ECS          running task count below the service's minimum

data "aws_caller_identity" "current" {}

module "alarms_key" {
  source = "../kms_key"

  alias       = "${var.name}-alarms"
  description = "${var.name}: the alarm topic"
  policy_statements = [
    {
      Sid       = "CloudWatchPublishesAlarmsToTheEncryptedTopic"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
      Resource  = "*"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
      }
    },
  ]
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = module.alarms_key.arn
}

resource "aws_sns_topic_policy" "alarms" {
  arn = aws_sns_topic.alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "CloudWatchAlarmsOfThisAccountPublish"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms.arn
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
      }
    }]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  period = 300

  alb = var.alb_arn_suffix == null ? {} : {
    alb-p99-latency = {
      description         = "p99 target response time of the ALB above ${var.p99_latency_ms} ms"
      namespace           = "AWS/ApplicationELB"
      metric_name         = "TargetResponseTime"
      dimensions          = { LoadBalancer = var.alb_arn_suffix }
      extended_statistic  = "p99"
      threshold           = var.p99_latency_ms / 1000
      comparison_operator = "GreaterThanThreshold"
      treat_missing_data  = "notBreaching"
    }
  }

  api = var.api_id == null ? {} : {
    api-p99-latency = {
      description         = "p99 latency of the HTTP API above ${var.p99_latency_ms} ms"
      namespace           = "AWS/ApiGateway"
      metric_name         = "Latency"
      dimensions          = { ApiId = var.api_id }
      extended_statistic  = "p99"
      threshold           = var.p99_latency_ms
      comparison_operator = "GreaterThanThreshold"
      treat_missing_data  = "notBreaching"
    }
  }

  lambda = var.lambda_function_name == null ? {} : {
    lambda-errors = {
      description         = "the function reported errors (crashes, timeouts)"
      namespace           = "AWS/Lambda"
      metric_name         = "Errors"
      dimensions          = { FunctionName = var.lambda_function_name }
      statistic           = "Sum"
      threshold           = 0
      comparison_operator = "GreaterThanThreshold"
      treat_missing_data  = "notBreaching"
    }
    lambda-throttles = {
      description         = "invocations were throttled (reserved concurrency or the account quota)"
      namespace           = "AWS/Lambda"
      metric_name         = "Throttles"
      dimensions          = { FunctionName = var.lambda_function_name }
      statistic           = "Sum"
      threshold           = 0
      comparison_operator = "GreaterThanThreshold"
      treat_missing_data  = "notBreaching"
    }
    lambda-p99-duration = {
      description         = "p99 duration of the function above ${var.lambda_p99_duration_ms} ms"
      namespace           = "AWS/Lambda"
      metric_name         = "Duration"
      dimensions          = { FunctionName = var.lambda_function_name }
      extended_statistic  = "p99"
      threshold           = var.lambda_p99_duration_ms
      comparison_operator = "GreaterThanThreshold"
      treat_missing_data  = "notBreaching"
    }
  }

  dynamodb = merge([
    for table in var.dynamodb_table_names : {
      for kind in ["Read", "Write"] : "dynamodb-${lower(kind)}-throttles-${table}" => {
        description         = "${lower(kind)} requests on table ${table} were throttled"
        namespace           = "AWS/DynamoDB"
        metric_name         = "${kind}ThrottleEvents"
        dimensions          = { TableName = table }
        statistic           = "Sum"
        threshold           = 0
        comparison_operator = "GreaterThanThreshold"
        treat_missing_data  = "notBreaching"
      }
    }
  ]...)

  rds = var.rds_instance_identifier == null ? {} : {
    rds-cpu = {
      description         = "CPU of the RDS instance above ${var.rds_cpu_percent} %"
      namespace           = "AWS/RDS"
      metric_name         = "CPUUtilization"
      dimensions          = { DBInstanceIdentifier = var.rds_instance_identifier }
      statistic           = "Average"
      threshold           = var.rds_cpu_percent
      comparison_operator = "GreaterThanThreshold"
      treat_missing_data  = "missing"
    }
    rds-free-storage = {
      description         = "free storage of the RDS instance below ${var.rds_free_storage_bytes} bytes"
      namespace           = "AWS/RDS"
      metric_name         = "FreeStorageSpace"
      dimensions          = { DBInstanceIdentifier = var.rds_instance_identifier }
      statistic           = "Minimum"
      threshold           = var.rds_free_storage_bytes
      comparison_operator = "LessThanThreshold"
      treat_missing_data  = "missing"
    }
    rds-connections = {
      description         = "connections to the RDS instance above ${var.rds_max_connections}"
      namespace           = "AWS/RDS"
      metric_name         = "DatabaseConnections"
      dimensions          = { DBInstanceIdentifier = var.rds_instance_identifier }
      statistic           = "Maximum"
      threshold           = var.rds_max_connections
      comparison_operator = "GreaterThanThreshold"
      treat_missing_data  = "missing"
    }
  }

  # Container Insights (enabled on the cluster) publishes the running task count.
  ecs = var.ecs_cluster_name == null || var.ecs_service_name == null ? {} : {
    ecs-running-tasks = {
      description         = "service ${var.ecs_service_name} runs fewer than ${var.ecs_min_running_tasks} tasks"
      namespace           = "ECS/ContainerInsights"
      metric_name         = "RunningTaskCount"
      dimensions          = { ClusterName = var.ecs_cluster_name, ServiceName = var.ecs_service_name }
      statistic           = "Minimum"
      threshold           = var.ecs_min_running_tasks
      comparison_operator = "LessThanThreshold"
      # No data means no task reports at all: that is the outage this alarm is for.
      treat_missing_data = "breaching"
    }
  }

  metric_alarms = merge(local.alb, local.api, local.lambda, local.dynamodb, local.rds, local.ecs)

  # 5xx as a share of all requests: errors / requests * 100, no alarm while there is no traffic.
  error_rates = merge(
    var.alb_arn_suffix == null ? {} : {
      alb-5xx-rate = {
        description = "more than ${var.error_rate_percent} % of the ALB's requests answered 5xx"
        namespace   = "AWS/ApplicationELB"
        dimensions  = { LoadBalancer = var.alb_arn_suffix }
        requests    = "RequestCount"
        errors      = ["HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"]
      }
    },
    var.api_id == null ? {} : {
      api-5xx-rate = {
        description = "more than ${var.error_rate_percent} % of the HTTP API's requests answered 5xx"
        namespace   = "AWS/ApiGateway"
        dimensions  = { ApiId = var.api_id }
        requests    = "Count"
        errors      = ["5xx"]
      }
    },
  )
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each = local.metric_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${var.name}: ${each.value.description}"
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = lookup(each.value, "statistic", null)
  extended_statistic  = lookup(each.value, "extended_statistic", null)
  period              = local.period
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison_operator
  treat_missing_data  = each.value.treat_missing_data
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  for_each = local.error_rates

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${var.name}: ${each.value.description}"
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = var.error_rate_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * (${join(" + ", [for i, _ in each.value.errors : "FILL(e${i}, 0)"])}) / requests, 0)"
    label       = "5xx rate (%)"
    return_data = true
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = each.value.namespace
      metric_name = each.value.requests
      dimensions  = each.value.dimensions
      stat        = "Sum"
      period      = local.period
    }
  }

  dynamic "metric_query" {
    for_each = each.value.errors
    content {
      id = "e${metric_query.key}"
      metric {
        namespace   = each.value.namespace
        metric_name = metric_query.value
        dimensions  = each.value.dimensions
        stat        = "Sum"
        period      = local.period
      }
    }
  }
}
