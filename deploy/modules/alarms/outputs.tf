output "topic_arn" {
  description = "ARN of the SNS topic every alarm notifies (subscribe further endpoints to it)."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of the alarms created."
  value       = sort(concat([for a in aws_cloudwatch_metric_alarm.metric : a.alarm_name], [for a in aws_cloudwatch_metric_alarm.error_rate : a.alarm_name]))
}

output "alarm_arns" {
  description = "ARNs of the alarms created (for an alarm-status widget)."
  value       = sort(concat([for a in aws_cloudwatch_metric_alarm.metric : a.arn], [for a in aws_cloudwatch_metric_alarm.error_rate : a.arn]))
}
