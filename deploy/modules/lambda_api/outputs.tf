output "api_endpoint" {
  description = "Base URL of the API (the UI's serverless URL)."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "api_id" {
  description = "ID of the HTTP API (CloudWatch ApiId dimension)."
  value       = aws_apigatewayv2_api.this.id
}

output "function_name" {
  description = "Name of the function (CloudWatch FunctionName dimension)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "log_group_arn" {
  description = "Log group of the function (EMF metrics are extracted from it)."
  value       = aws_cloudwatch_log_group.function.arn
}
