# Prometheus and Grafana as Fargate services. Prometheus finds the app-ecs tasks through Cloud
# Map and scrapes each one; Grafana (behind the ALB under /grafana) has anonymous access off and
# its admin password in Secrets Manager.

data "aws_region" "current" {}

locals {
  prometheus_name = "${var.name}-prometheus"
  grafana_name    = "${var.name}-grafana"
  grafana_path    = trimsuffix(regex("^https://[^/]+(/.*)$", var.grafana_root_url)[0], "/")

  prometheus_config = templatefile("${path.module}/prometheus.yml.tftpl", {
    scrape_interval = var.scrape_interval
    environment     = var.environment
    app_dns_name    = "${var.app_discovery_name}.${var.service_discovery_namespace_name}"
    app_port        = var.app_port
  })

  # The official image has no way to take its configuration from the environment: a shell
  # writes it to the task's storage, then execs Prometheus (PID 1 stays Prometheus' parent, init).
  prometheus_start = join(" ", [
    "echo \"$PROMETHEUS_CONFIG_B64\" | base64 -d > /prometheus/prometheus.yml &&",
    "exec /bin/prometheus",
    "--config.file=/prometheus/prometheus.yml",
    "--storage.tsdb.path=/prometheus/data",
    "--storage.tsdb.retention.time=${var.prometheus_retention}",
    "--web.listen-address=:9090",
  ])
}

# --- Prometheus --------------------------------------------------------------------------------

module "prometheus" {
  source = "../ecs_service"

  name                           = local.prometheus_name
  cluster_arn                    = var.cluster_arn
  vpc_id                         = var.vpc_id
  subnet_ids                     = var.subnet_ids
  image                          = var.prometheus_image
  cpu                            = 256
  memory                         = 1024
  cpu_architecture               = var.cpu_architecture
  container_port                 = 9090
  entry_point                    = ["/bin/sh", "-c"]
  command                        = [local.prometheus_start]
  environment                    = { PROMETHEUS_CONFIG_B64 = base64encode(local.prometheus_config) }
  writable_paths                 = { prometheus-data = "/prometheus" }
  container_health_check         = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:9090/-/healthy || exit 1"]
  service_discovery_namespace_id = var.service_discovery_namespace_id
  ingress_security_group_ids = {
    "Grafana queries Prometheus" = module.grafana.security_group_id
  }
  egress_rules = {
    "Scrape app-ecs tasks" = {
      port              = var.app_port
      security_group_id = var.app_security_group_id
    }
    "HTTPS to AWS APIs (ECR, CloudWatch Logs) through the NAT gateway" = {
      port      = 443
      cidr_ipv4 = "0.0.0.0/0"
    }
  }
  kms_key_arn        = var.kms_key_arn
  log_retention_days = var.log_retention_days
  tags               = var.tags
}

# --- Grafana -----------------------------------------------------------------------------------

ephemeral "random_password" "grafana_admin" {
  length           = 32
  special          = true
  override_special = "-_.~"
}

resource "aws_secretsmanager_secret" "grafana_admin" {
  #checkov:skip=CKV2_AWS_57:Grafana reads this password only when a task starts with an empty database; rotating it needs a new deployment, not a rotation Lambda (docs/deploy.md: rotate with grafana_admin_password_version)
  name_prefix             = "${local.grafana_name}-admin-"
  description             = "Password of the Grafana admin user (user admin)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7

  tags = var.tags
}

# Write-only: the generated password never enters the Terraform state or plan.
resource "aws_secretsmanager_secret_version" "grafana_admin" {
  secret_id                = aws_secretsmanager_secret.grafana_admin.id
  secret_string_wo         = ephemeral.random_password.grafana_admin.result
  secret_string_wo_version = var.grafana_admin_password_version
}

data "aws_iam_policy_document" "grafana" {
  count = var.grafana_cloudwatch_access || length(var.grafana_log_group_arns) > 0 ? 1 : 0

  dynamic "statement" {
    for_each = var.grafana_cloudwatch_access ? [1] : []

    content {
      sid = "ReadCloudWatchMetrics"
      actions = [
        "cloudwatch:GetMetricData",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:ListMetrics",
        "ec2:DescribeRegions",
      ]
      # These read actions support no resource-level permissions.
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = length(var.grafana_log_group_arns) > 0 ? [1] : []

    content {
      sid = "QueryListedLogGroups"
      actions = [
        "logs:DescribeLogGroups",
        "logs:GetLogGroupFields",
        "logs:StartQuery",
        "logs:GetLogEvents",
      ]
      resources = var.grafana_log_group_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.grafana_log_group_arns) > 0 ? [1] : []

    content {
      sid       = "ReadQueryResults"
      actions   = ["logs:GetQueryResults", "logs:StopQuery"]
      resources = ["*"]
    }
  }
}

module "grafana" {
  source = "../ecs_service"

  name             = local.grafana_name
  cluster_arn      = var.cluster_arn
  vpc_id           = var.vpc_id
  subnet_ids       = var.subnet_ids
  image            = var.grafana_image
  cpu              = 256
  memory           = 512
  cpu_architecture = var.cpu_architecture
  container_port   = 3000
  environment = {
    GF_SERVER_ROOT_URL             = var.grafana_root_url
    GF_SERVER_SERVE_FROM_SUB_PATH  = "true"
    GF_SECURITY_ADMIN_USER         = "admin"
    GF_AUTH_ANONYMOUS_ENABLED      = "false"
    GF_AUTH_DISABLE_LOGIN_FORM     = "false"
    GF_USERS_ALLOW_SIGN_UP         = "false"
    GF_SECURITY_COOKIE_SECURE      = "true"
    GF_SECURITY_COOKIE_SAMESITE    = "lax"
    GF_SECURITY_ALLOW_EMBEDDING    = "false"
    GF_SECURITY_DISABLE_GRAVATAR   = "true"
    GF_ANALYTICS_REPORTING_ENABLED = "false"
    GF_ANALYTICS_CHECK_FOR_UPDATES = "false"
    GF_LOG_MODE                    = "console"
    GF_PATHS_DATA                  = "/var/lib/grafana"
    PROMETHEUS_URL                 = "http://${local.prometheus_name}.${var.service_discovery_namespace_name}:9090"
    AWS_REGION                     = data.aws_region.current.region
  }
  # The version's arn is the secret's: referencing it makes the tasks wait for the password.
  secrets = {
    GF_SECURITY_ADMIN_PASSWORD = aws_secretsmanager_secret_version.grafana_admin.arn
  }
  secret_arns            = [aws_secretsmanager_secret.grafana_admin.arn]
  writable_paths         = { grafana-data = "/var/lib/grafana" }
  container_health_check = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:3000${local.grafana_path}/api/health || exit 1"]
  target_group_arn       = var.grafana_target_group_arn
  task_role_policy_json  = one(data.aws_iam_policy_document.grafana[*].json)
  ingress_security_group_ids = {
    "Grafana through the ALB" = var.alb_security_group_id
  }
  egress_rules = {
    "Query Prometheus" = {
      port              = 9090
      security_group_id = module.prometheus.security_group_id
    }
    "HTTPS to AWS APIs (ECR, Secrets Manager, CloudWatch) through the NAT gateway" = {
      port      = 443
      cidr_ipv4 = "0.0.0.0/0"
    }
  }
  kms_key_arn        = var.kms_key_arn
  log_retention_days = var.log_retention_days
  tags               = var.tags
}
