# Public HTTPS entry point: ALB with TLS 1.2+ only, HTTP → HTTPS redirect, invalid headers
# dropped, access logs in S3, /metrics blocked, optional OIDC authentication and WAF. Without a
# certificate (no domain yet) it serves plain HTTP on its own DNS name instead.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

# The ELB log delivery account of this region (regions opened before August 2022).
data "aws_elb_service_account" "this" {}

# --- Access logs -------------------------------------------------------------------------------

module "access_logs" {
  source = "../log_bucket"

  bucket_prefix     = "${var.name}-alb-logs-"
  retention_days    = var.access_log_retention_days
  lifecycle_rule_id = "expire-access-logs"
  force_destroy     = var.force_destroy_logs
  delivery_statements = [
    {
      sid                   = "ElbLogDeliveryLegacyRegions"
      key_prefix            = "AWSLogs/${data.aws_caller_identity.current.account_id}/"
      principal_type        = "AWS"
      principal_identifiers = [data.aws_elb_service_account.this.arn]
    },
    {
      sid                   = "ElbLogDelivery"
      key_prefix            = "AWSLogs/${data.aws_caller_identity.current.account_id}/"
      principal_type        = "Service"
      principal_identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    },
  ]

  tags = var.tags
}

# --- Security group ----------------------------------------------------------------------------

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-alb-"
  description = "ALB ${var.name}: HTTPS (and HTTP for the redirect) from the internet, to its targets"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  for_each = toset(var.ingress_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "HTTPS from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  #checkov:skip=CKV_AWS_260:port 80 only answers a 301 redirect to HTTPS (aws_lb_listener.http); no content is served over plain HTTP
  for_each = toset(var.ingress_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "HTTP from ${each.value}, answered with a redirect to HTTPS only"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "targets" {
  for_each = var.targets

  security_group_id            = aws_security_group.this.id
  description                  = "To the ${each.key} targets"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = each.value.security_group_id
}

# --- Load balancer -----------------------------------------------------------------------------

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_20:HTTP redirects to HTTPS whenever a certificate is given; without one (no domain yet) HTTP is the only listener
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.this.id]
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "strictest"
  enable_deletion_protection = var.deletion_protection
  enable_http2               = true
  idle_timeout               = 60

  access_logs {
    bucket  = module.access_logs.id
    prefix  = ""
    enabled = true
  }

  tags = var.tags

  # The bucket policy must let ELB write before the load balancer is created.
  depends_on = [module.access_logs]
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; the hop to the tasks stays inside the VPC's private subnets
  # TLS ends at the ALB; the hop to the tasks stays inside the VPC's private subnets.
  for_each = var.targets

  name_prefix          = substr(each.key, 0, 6)
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = each.value.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  https = var.certificate_arn != null
  # The listener that serves the targets and holds the path rules.
  serving_listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:with a certificate this listener only redirects to HTTPS; without one (no domain yet) plain HTTP is the only way to reach the ALB's own DNS name
  #checkov:skip=CKV_AWS_103:see CKV_AWS_2: HTTPS with TLS 1.2+ is the other listener, created whenever a certificate is given
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  dynamic "default_action" {
    for_each = local.https ? [1] : []

    content {
      type = "redirect"

      redirect {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  dynamic "default_action" {
    for_each = local.https ? [] : [1]

    content {
      type             = "forward"
      target_group_arn = aws_lb_target_group.this[var.default_target].arn
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  dynamic "default_action" {
    for_each = var.oidc == null ? [] : [var.oidc]

    content {
      type  = "authenticate-oidc"
      order = 1

      authenticate_oidc {
        issuer                     = default_action.value.issuer
        authorization_endpoint     = default_action.value.authorization_endpoint
        token_endpoint             = default_action.value.token_endpoint
        user_info_endpoint         = default_action.value.user_info_endpoint
        client_id                  = default_action.value.client_id
        client_secret              = var.oidc_client_secret
        scope                      = default_action.value.scope
        on_unauthenticated_request = "authenticate"
      }
    }
  }

  default_action {
    type             = "forward"
    order            = 2
    target_group_arn = aws_lb_target_group.this[var.default_target].arn
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "blocked" {
  count = length(var.blocked_paths) > 0 ? 1 : 0

  listener_arn = local.serving_listener_arn
  priority     = 1

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "application/json"
      message_body = "{\"error\":\"not_found\",\"message\":\"not served here\"}"
      status_code  = "404"
    }
  }

  condition {
    path_pattern {
      values = var.blocked_paths
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "paths" {
  for_each = { for k, v in var.targets : k => v if k != var.default_target && length(v.path_patterns) > 0 }

  listener_arn = local.serving_listener_arn
  priority     = each.value.priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.key].arn
  }

  condition {
    path_pattern {
      values = each.value.path_patterns
    }
  }

  tags = var.tags
}

# --- WAF ---------------------------------------------------------------------------------------

resource "aws_wafv2_web_acl" "this" {
  count = var.enable_waf ? 1 : 0

  name        = var.name
  description = "${var.name}: AWS managed rules and a per-IP rate limit"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "AWSManagedRulesCommonRuleSet"
    priority = 10

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"

        # Batch ingestion posts up to 1000 readings in one body, above the rule's 8 KB limit;
        # app-ecs enforces its own body limit.
        rule_action_override {
          name = "SizeRestrictions_BODY"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 20

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AWSManagedRulesAmazonIpReputationList"
    priority = 30

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAmazonIpReputationList"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-ip-reputation"
      sampled_requests_enabled   = true
    }
  }

  # Anonymizers (Tor exits, anonymous proxies) are blocked; cloud hosting ranges are only counted, since
  # load tests and CI legitimately run from them.
  rule {
    name     = "AWSManagedRulesAnonymousIpList"
    priority = 35

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAnonymousIpList"
        vendor_name = "AWS"

        rule_action_override {
          name = "HostingProviderIPList"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-anonymous-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 40

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit_per_5min
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.enable_waf ? 1 : 0

  resource_arn = aws_lb.this.arn
  web_acl_arn  = aws_wafv2_web_acl.this[0].arn
}

# WAF requires the log group name to start with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "waf" {
  count = var.enable_waf ? 1 : 0

  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  count = var.enable_waf ? 1 : 0

  resource_arn            = aws_wafv2_web_acl.this[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf[0].arn]
}
