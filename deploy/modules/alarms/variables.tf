variable "name" {
  description = "Prefix of the alarm names and of the SNS topic (e.g. iot-playground-dev)."
  type        = string
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription). Other subscribers (chat, paging) can subscribe to the topic_arn output."
  type        = list(string)
  default     = []
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the Application Load Balancer (app/NAME/ID); null: no ALB alarms."
  type        = string
  default     = null
}

variable "api_id" {
  description = "Id of the API Gateway HTTP API; null: no API Gateway alarms."
  type        = string
  default     = null
}

variable "lambda_function_name" {
  description = "Name of the Lambda function; null: no Lambda alarms."
  type        = string
  default     = null
}

variable "dynamodb_table_names" {
  description = "DynamoDB tables whose throttled requests raise an alarm."
  type        = list(string)
  default     = []
}

variable "rds_instance_identifier" {
  description = "Identifier of the RDS instance; null: no RDS alarms."
  type        = string
  default     = null
}

variable "ecs_cluster_name" {
  description = "ECS cluster of the service whose running task count is watched; null: no ECS alarm."
  type        = string
  default     = null
}

variable "ecs_service_name" {
  description = "ECS service whose running task count is watched (with ecs_cluster_name)."
  type        = string
  default     = null
}

variable "ecs_min_running_tasks" {
  description = "Alarm when the service runs fewer tasks than this (its autoscaling minimum)."
  type        = number
  default     = 1
}

variable "error_rate_percent" {
  description = "Alarm when more than this percentage of requests answer 5xx (ALB, API Gateway) over 5 minutes."
  type        = number
  default     = 5
}

variable "p99_latency_ms" {
  description = "Alarm when the p99 response time of the ALB or the API Gateway exceeds this, in milliseconds."
  type        = number
  default     = 1000
}

variable "lambda_p99_duration_ms" {
  description = "Alarm when the p99 Lambda duration exceeds this, in milliseconds."
  type        = number
  default     = 1000
}

variable "rds_cpu_percent" {
  description = "Alarm when the RDS instance's CPU stays above this percentage."
  type        = number
  default     = 80
}

variable "rds_free_storage_bytes" {
  description = "Alarm when the RDS instance's free storage falls below this many bytes."
  type        = number
  default     = 2147483648
}

variable "rds_max_connections" {
  description = "Alarm when the RDS instance holds more connections than this (about 80 % of max_connections of the instance class)."
  type        = number
  default     = 60
}
