# A CloudWatch dashboard of the serverless environment (Grafana runs only in the ECS environment;
# dashboards/json/iot-playground-serverless.json is the same view for a Grafana of your own).
#
# The sensor widgets search the namespace by Type only, so they keep working when EMF_DIMENSIONS is
# reduced to "Type" (with the default, one line per sensor and run).

data "aws_region" "current" {}

locals {
  region   = data.aws_region.current.region
  function = module.api.function_name
  api_id   = module.api.api_id
  tables   = [module.dynamodb.runs_table_name, module.dynamodb.readings_table_name]

  sensor_widgets = [
    for i, t in [["temperature", "Temperature (°C)"], ["humidity", "Humidity (%)"], ["pressure", "Pressure (hPa)"]] : {
      type   = "metric"
      x      = 8 * i
      y      = 1
      width  = 8
      height = 6
      properties = {
        title  = t[1]
        region = local.region
        view   = "timeSeries"
        period = 60
        metrics = [[{
          expression = "SEARCH('Namespace=\"IoTPlayground/Sensors\" MetricName=\"SensorReading\" Type=\"${t[0]}\"', 'Average', 60)"
          id         = "r${i}"
        }]]
      }
    }
  ]

  widgets = concat(
    [{ type = "text", x = 0, y = 0, width = 24, height = 1, properties = { markdown = "## Sensors (EMF, namespace IoTPlayground/Sensors)" } }],
    local.sensor_widgets,
    [
      {
        type   = "metric"
        x      = 0
        y      = 7
        width  = 12
        height = 6
        properties = {
          title  = "Readings ingested and runs"
          region = local.region
          view   = "timeSeries"
          stat   = "Sum"
          period = 60
          metrics = [
            [{ expression = "SUM(SEARCH('Namespace=\"IoTPlayground/Sensors\" MetricName=\"DataIngested\"', 'Sum', 60))", id = "ingested", label = "readings ingested" }],
            ["IoTPlayground/Sensors", "RunsStarted", "FunctionName", local.function, { label = "runs started" }],
            [{ expression = "SEARCH('{IoTPlayground/Sensors,FunctionName,Status} MetricName=\"RunsFinished\" FunctionName=\"${local.function}\"', 'Sum', 60)", id = "finished", label = "runs finished" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 7
        width  = 12
        height = 6
        properties = {
          title   = "Cold starts"
          region  = local.region
          view    = "timeSeries"
          stat    = "Sum"
          period  = 60
          metrics = [["IoTPlayground/Sensors", "ColdStart", "FunctionName", local.function]]
        }
      },
      { type = "text", x = 0, y = 13, width = 24, height = 1, properties = { markdown = "## Lambda, API Gateway, DynamoDB" } },
      {
        type   = "metric"
        x      = 0
        y      = 14
        width  = 8
        height = 6
        properties = {
          title  = "Lambda invocations, errors, throttles"
          region = local.region
          view   = "timeSeries"
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", local.function],
            [".", "Errors", ".", "."],
            [".", "Throttles", ".", "."],
          ]
        }
      },
      {
        type   = "metric"
        x      = 8
        y      = 14
        width  = 8
        height = 6
        properties = {
          title  = "Lambda duration (p50, p99) and concurrency"
          region = local.region
          view   = "timeSeries"
          period = 60
          metrics = [
            ["AWS/Lambda", "Duration", "FunctionName", local.function, { stat = "p50" }],
            ["...", { stat = "p99" }],
            [".", "ConcurrentExecutions", ".", ".", { stat = "Maximum", yAxis = "right" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 16
        y      = 14
        width  = 8
        height = 6
        properties = {
          title  = "HTTP API requests, 4xx, 5xx, latency p99"
          region = local.region
          view   = "timeSeries"
          period = 60
          metrics = [
            ["AWS/ApiGateway", "Count", "ApiId", local.api_id, { stat = "Sum" }],
            [".", "4xx", ".", ".", { stat = "Sum" }],
            [".", "5xx", ".", ".", { stat = "Sum" }],
            [".", "Latency", ".", ".", { stat = "p99", yAxis = "right" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 20
        width  = 12
        height = 6
        properties = {
          title  = "DynamoDB consumed capacity"
          region = local.region
          view   = "timeSeries"
          stat   = "Sum"
          period = 60
          metrics = flatten([for t in local.tables : [
            ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", t],
            [".", "ConsumedWriteCapacityUnits", ".", "."],
          ]])
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 20
        width  = 12
        height = 6
        properties = {
          title  = "DynamoDB throttle events"
          region = local.region
          view   = "timeSeries"
          stat   = "Sum"
          period = 60
          metrics = flatten([for t in local.tables : [
            ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", t],
            [".", "WriteThrottleEvents", ".", "."],
          ]])
        }
      },
      {
        type       = "alarm"
        x          = 0
        y          = 26
        width      = 24
        height     = 3
        properties = { title = "Alarms", alarms = module.alarms.alarm_arns }
      },
    ],
  )
}

resource "aws_cloudwatch_dashboard" "serverless" {
  dashboard_name = local.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}
