variable "name" {
  description = "Service name (also the container name, the log group suffix and the Cloud Map name)."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster running the service."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks (no public IP is assigned)."
  type        = list(string)
}

variable "image" {
  description = "Container image (prefer an immutable tag or a digest)."
  type        = string
}

variable "cpu" {
  description = "Task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Task memory in MiB."
  type        = number
  default     = 512
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (Graviton, about 20 % cheaper; needs an arm64 image)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "container_port" {
  description = "Port the container listens on."
  type        = number
}

variable "environment" {
  description = "Plain environment variables (never secrets)."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables read from Secrets Manager at task start: name => secret ARN (or ARN:json-key:: for one key of a JSON secret)."
  type        = map(string)
  default     = {}
}

variable "secret_arns" {
  description = "Secrets the execution role may read (the ARNs behind var.secrets, without json-key suffixes)."
  type        = list(string)
  default     = []
}

variable "entry_point" {
  description = "Overrides the image ENTRYPOINT."
  type        = list(string)
  default     = null
}

variable "command" {
  description = "Overrides the image CMD."
  type        = list(string)
  default     = null
}

variable "container_user" {
  description = "uid:gid the container runs as (null: the image's USER)."
  type        = string
  default     = null
}

variable "writable_paths" {
  description = "Paths backed by task ephemeral storage (the root filesystem is read-only): volume name => container path. A path the image declares as VOLUME keeps the image's ownership."
  type        = map(string)
  default     = {}
}

variable "container_health_check" {
  description = "Container health check command (ECS syntax, e.g. [\"CMD-SHELL\", \"wget -q -O /dev/null http://127.0.0.1:3000/api/health\"]); null when the image cannot run one."
  type        = list(string)
  default     = null
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL (keep above the app's own drain timeout)."
  type        = number
  default     = 30
}

variable "desired_count" {
  description = "Tasks to run."
  type        = number
  default     = 1
}

variable "autoscaling" {
  description = "Target tracking on average CPU; null: a fixed desired_count."
  type = object({
    min_capacity       = number
    max_capacity       = number
    cpu_target_percent = number
  })
  default = null
}

variable "target_group_arn" {
  description = "ALB target group to register the tasks in (null: not behind the ALB)."
  type        = string
  default     = null
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing target-group health checks after a task starts."
  type        = number
  default     = 60
}

variable "service_discovery_namespace_id" {
  description = "Cloud Map private DNS namespace; when set the tasks register as A records <name>.<namespace>."
  type        = string
  default     = null
}

variable "ingress_security_group_ids" {
  description = "Security groups allowed to reach container_port: description => security group ID."
  type        = map(string)
  default     = {}
}

variable "egress_rules" {
  description = "Outbound rules of the tasks: description => { port, security_group_id or cidr_ipv4 }. Fargate pulls images and reads secrets through the task ENI, so HTTPS to AWS endpoints is needed."
  type = map(object({
    port              = number
    security_group_id = optional(string)
    cidr_ipv4         = optional(string)
  }))
  default = {
    "HTTPS to AWS APIs (ECR, Secrets Manager, CloudWatch) through the NAT gateway" = {
      port      = 443
      cidr_ipv4 = "0.0.0.0/0"
    }
  }
}

variable "task_role_policy_json" {
  description = "IAM policy of the task role (what the application itself may call); null: no permissions."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key encrypting the log group and the secrets the execution role decrypts."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the service's log group."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
