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
