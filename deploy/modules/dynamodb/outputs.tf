output "runs_table_name" {
  description = "RUNS_TABLE."
  value       = aws_dynamodb_table.runs.name
}

output "runs_table_arn" {
  description = "ARN of the runs table."
  value       = aws_dynamodb_table.runs.arn
}

output "runs_index_arns" {
  description = "ARNs of the runs table's GSIs (by-start, by-user)."
  value       = [for i in ["by-start", "by-user"] : "${aws_dynamodb_table.runs.arn}/index/${i}"]
}

output "readings_table_name" {
  description = "READINGS_TABLE."
  value       = aws_dynamodb_table.readings.name
}

output "readings_table_arn" {
  description = "ARN of the readings table."
  value       = aws_dynamodb_table.readings.arn
}
