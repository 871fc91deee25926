output "api_url" {
  description = "Base URL of the serverless API (the UI's serverless URL)."
  value       = module.api.api_endpoint
}

output "function_name" {
  description = "Lambda function (FunctionName dimension of the serverless dashboard)."
  value       = module.api.function_name
}

output "api_id" {
  description = "HTTP API ID (ApiId dimension)."
  value       = module.api.api_id
}

output "runs_table_name" {
  description = "RUNS_TABLE."
  value       = module.dynamodb.runs_table_name
}

output "readings_table_name" {
  description = "READINGS_TABLE."
  value       = module.dynamodb.readings_table_name
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms: subscribe chat or paging endpoints to it."
  value       = module.alarms.topic_arn
}

output "dashboard_url" {
  description = "The CloudWatch dashboard of this environment."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.serverless.dashboard_name}"
}
