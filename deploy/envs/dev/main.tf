# dev: app-ecs on ECS Fargate behind an HTTPS ALB, PostgreSQL on RDS, Prometheus + Grafana.
#
#   internet ─HTTPS→ ALB ─┬→ app-ecs tasks (private subnets) ─TLS→ RDS PostgreSQL (private)
#                          └→ /grafana → Grafana ─→ Prometheus ─(Cloud Map DNS, every task)→ app-ecs /metrics

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  name             = "${var.project}-${var.environment}"
  namespace        = "${var.project}.internal"
  grafana_path     = "/grafana"
  grafana_root_url = "${local.base_url}${local.grafana_path}/"
  account_id       = data.aws_caller_identity.current.account_id
  region           = data.aws_region.current.region

  # Without a domain the ALB serves plain HTTP on its own name (see modules/alb).
  base_url        = var.domain_name == null ? "http://${module.alb.dns_name}" : "https://${var.domain_name}"
  certificate_arn = var.domain_name == null ? null : coalesce(var.certificate_arn, try(module.certificate[0].arn, null))

  app_environment = merge(
    {
      # No credentials in the URL: sqlx takes PGUSER/PGPASSWORD (injected from the RDS-managed
      # secret) for what the URL leaves out.
      DATABASE_URL           = "postgres://${module.rds.address}:${module.rds.port}/${module.rds.database_name}?sslmode=require"
      MIGRATE                = "true"
      PORT                   = "8080"
      LOG_FORMAT             = "json"
      RUST_LOG               = "info"
      MAX_CONCURRENT_RUNS    = tostring(var.max_concurrent_runs)
      MAX_RUNS_PER_USER      = tostring(var.max_runs_per_user)
      RUN_TIMEOUT_GRACE_SECS = tostring(var.run_timeout_grace_secs)
      CORS_ALLOWED_ORIGINS   = join(",", var.cors_allowed_origins)
      GRAFANA_URL            = "${local.base_url}${local.grafana_path}"
      SHUTDOWN_TIMEOUT_SECS  = "20"
      SHUTDOWN_DRAIN_SECS    = "30" # the target group's deregistration_delay
      IDENTITY_SOURCE        = var.oidc == null ? "header" : "alb-oidc"

      # Re-read every minute: the weekly rotation of the RDS-managed password reaches new
      # connections without a redeploy (PGUSER/PGPASSWORD below serve until the first read).
      DATABASE_SECRET_ID = module.rds.master_user_secret_arn
    },
    var.oidc == null ? {} : { IDENTITY_CLAIM = var.oidc.claim },
    length(var.admin_users) == 0 ? {} : { ADMIN_USERS = join(",", var.admin_users) },
    var.retention_days == null ? {} : { RETENTION_DAYS = tostring(var.retention_days) },
  )
}

# --- Encryption key ----------------------------------------------------------------------------

module "main_key" {
  source = "../../modules/kms_key"

  alias                 = local.name
  description           = "${local.name}: logs, RDS, secrets, ECR"
  allow_cloudwatch_logs = true
}

# --- Network -----------------------------------------------------------------------------------

module "network" {
  source = "../../modules/network"

  name               = local.name
  single_nat_gateway = var.single_nat_gateway
  kms_key_arn        = module.main_key.arn
  log_retention_days = var.log_retention_days
}

# --- Images ------------------------------------------------------------------------------------

resource "aws_ecr_repository" "this" {
  for_each = toset(["app-ecs", "grafana"])

  name                 = "${var.project}/${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = module.main_key.arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 20 newest images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 20
      }
      action = { type = "expire" }
    }]
  })
}

# --- Cluster and service discovery -------------------------------------------------------------

resource "aws_cloudwatch_log_group" "ecs_exec" {
  name              = "/ecs/${local.name}/exec"
  retention_in_days = var.log_retention_days
  kms_key_id        = module.main_key.arn
}

resource "aws_ecs_cluster" "this" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = module.main_key.arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.ecs_exec.name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = local.namespace
  description = "Private DNS of ${local.name}'s ECS services (Prometheus finds app-ecs tasks here)"
  vpc         = module.network.vpc_id
}

# --- Database ----------------------------------------------------------------------------------

module "rds" {
  source = "../../modules/rds"

  name                = local.name
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.private_subnet_ids
  instance_class      = var.db_instance_class
  multi_az            = var.db_multi_az
  deletion_protection = var.deletion_protection
  kms_key_arn         = module.main_key.arn
  log_retention_days  = var.log_retention_days
  allowed_security_group_ids = {
    "app-ecs tasks" = module.app.security_group_id
  }
}

# --- Load balancer -----------------------------------------------------------------------------

# A certificate for domain_name when none is given (requested and DNS-validated).
module "certificate" {
  source = "../../modules/acm_certificate"
  count  = var.domain_name != null && var.certificate_arn == null ? 1 : 0

  domain_name     = var.domain_name
  route53_zone_id = var.route53_zone_id
}

module "alb" {
  source = "../../modules/alb"

  name               = local.name
  vpc_id             = module.network.vpc_id
  public_subnet_ids  = module.network.public_subnet_ids
  certificate_arn    = local.certificate_arn
  oidc               = var.oidc == null ? null : { for k, v in var.oidc : k => v if k != "claim" }
  oidc_client_secret = var.oidc_client_secret
  enable_waf         = var.enable_waf
  kms_key_arn        = module.main_key.arn
  log_retention_days = var.log_retention_days

  deletion_protection = var.deletion_protection
  default_target      = "app"
  targets = {
    app = {
      port              = 8080
      health_check_path = "/health"
      security_group_id = module.app.security_group_id
    }
    grafana = {
      port              = 3000
      health_check_path = "${local.grafana_path}/api/health"
      path_patterns     = [local.grafana_path, "${local.grafana_path}/*"]
      priority          = 10
      security_group_id = module.observability.grafana_security_group_id
    }
  }
}

resource "aws_route53_record" "api" {
  count = var.route53_zone_id == null || var.domain_name == null ? 0 : 1

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = module.alb.dns_name
    zone_id                = module.alb.zone_id
    evaluate_target_health = true
  }
}

# --- app-ecs -----------------------------------------------------------------------------------

module "app" {
  source = "../../modules/ecs_service"

  name             = "${local.name}-app"
  cluster_arn      = aws_ecs_cluster.this.arn
  vpc_id           = module.network.vpc_id
  subnet_ids       = module.network.private_subnet_ids
  image            = "${aws_ecr_repository.this["app-ecs"].repository_url}:${var.app_image_tag}"
  cpu              = var.app_cpu
  memory           = var.app_memory
  cpu_architecture = var.cpu_architecture
  container_port   = 8080
  environment      = local.app_environment
  secrets = {
    PGUSER     = "${module.rds.master_user_secret_arn}:username::"
    PGPASSWORD = "${module.rds.master_user_secret_arn}:password::"
  }
  secret_arns = [module.rds.master_user_secret_arn]
  # The image has no shell: the binary probes its own /health (also the image's HEALTHCHECK).
  container_health_check = ["CMD", "/app/app-ecs", "--health-check"]
  # Above SHUTDOWN_DRAIN_SECS + SHUTDOWN_TIMEOUT_SECS.
  stop_timeout = 60
  autoscaling = {
    min_capacity       = var.app_min_tasks
    max_capacity       = var.app_max_tasks
    cpu_target_percent = 60
  }
  target_group_arn               = module.alb.target_group_arns["app"]
  service_discovery_namespace_id = aws_service_discovery_private_dns_namespace.this.id
  ingress_security_group_ids = {
    "API traffic from the ALB"   = module.alb.security_group_id
    "Prometheus scrapes metrics" = module.observability.prometheus_security_group_id
  }
  egress_rules = {
    "PostgreSQL" = {
      port              = 5432
      security_group_id = module.rds.security_group_id
    }
    "HTTPS to AWS APIs (ECR, Secrets Manager, CloudWatch Logs) through the NAT gateway" = {
      port      = 443
      cidr_ipv4 = "0.0.0.0/0"
    }
  }
  # app-ecs calls one AWS API itself: it reads the database secret (DATABASE_SECRET_ID).
  task_role_policy_json = data.aws_iam_policy_document.app_task.json
  kms_key_arn           = module.main_key.arn
  log_retention_days    = var.log_retention_days
}

data "aws_iam_policy_document" "app_task" {
  statement {
    sid       = "ReadTheDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [module.rds.master_user_secret_arn]
  }

  statement {
    sid       = "DecryptTheDatabaseSecret"
    actions   = ["kms:Decrypt"]
    resources = [module.main_key.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

# --- Prometheus and Grafana --------------------------------------------------------------------

module "observability" {
  source = "../../modules/observability"

  name                             = local.name
  environment                      = var.environment
  cluster_arn                      = aws_ecs_cluster.this.arn
  vpc_id                           = module.network.vpc_id
  subnet_ids                       = module.network.private_subnet_ids
  service_discovery_namespace_id   = aws_service_discovery_private_dns_namespace.this.id
  service_discovery_namespace_name = local.namespace
  app_discovery_name               = "${local.name}-app"
  app_security_group_id            = module.app.security_group_id
  grafana_image                    = "${aws_ecr_repository.this["grafana"].repository_url}:${var.grafana_image_tag}"
  grafana_root_url                 = local.grafana_root_url
  grafana_admin_password_version   = var.grafana_admin_password_version
  grafana_target_group_arn         = module.alb.target_group_arns["grafana"]
  alb_security_group_id            = module.alb.security_group_id
  grafana_log_group_arns           = ["arn:aws:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.project}-*"]
  cpu_architecture                 = var.cpu_architecture
  kms_key_arn                      = module.main_key.arn
  log_retention_days               = var.log_retention_days
}

# --- Alarms ------------------------------------------------------------------------------------

module "alarms" {
  source = "../../modules/alarms"

  name                    = local.name
  alarm_emails            = var.alarm_emails
  alb_arn_suffix          = module.alb.arn_suffix
  rds_instance_identifier = module.rds.identifier
  ecs_cluster_name        = aws_ecs_cluster.this.name
  ecs_service_name        = module.app.service_name
  ecs_min_running_tasks   = var.app_min_tasks
}
