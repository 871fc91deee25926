# Static web UI: private S3 bucket (KMS, versioned, access-logged) read by CloudFront through
# Origin Access Control; SPA fallback to /index.html; security headers; TLS 1.2+ on a custom
# domain; config.json with the backend URLs written by Terraform.

data "aws_caller_identity" "current" {}

locals {
  origin_id = "site"

  # The UI's runtime configuration (web/README.md): a null backend hides its toggle.
  config = {
    backends = {
      ecs        = var.ecs_api_url == null ? null : trimsuffix(var.ecs_api_url, "/")
      serverless = var.serverless_api_url == null ? null : trimsuffix(var.serverless_api_url, "/")
    }
    grafanaUrl = var.grafana_url == null ? null : trimsuffix(var.grafana_url, "/")
  }

  api_origins = distinct([
    for u in compact([var.ecs_api_url, var.serverless_api_url]) : regex("^(https?://[^/]+)", u)[0]
  ])

  csp = coalesce(var.content_security_policy, join("; ", [
    "default-src 'self'",
    "connect-src 'self' ${join(" ", local.api_origins)}",
    "img-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ]))

  # AWS managed cache policies.
  caching_optimized = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  caching_disabled  = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
}

# --- Log bucket (S3 server access logs and CloudFront standard logs) ----------------------------

# CloudFront standard logging writes through an ACL grant (to the awslogsdelivery account), so
# this bucket keeps ACLs enabled; public ACLs stay blocked.
module "logs" {
  source = "../log_bucket"

  bucket_prefix    = "${var.name}-logs-"
  retention_days   = var.log_retention_days
  acl_log_delivery = true
  force_destroy    = var.force_destroy
  delivery_statements = [
    {
      sid                   = "S3ServerAccessLogs"
      key_prefix            = "s3/"
      principal_type        = "Service"
      principal_identifiers = ["logging.s3.amazonaws.com"]
      conditions = [
        {
          test     = "ArnLike"
          variable = "aws:SourceArn"
          values   = [aws_s3_bucket.site.arn]
        },
        {
          test     = "StringEquals"
          variable = "aws:SourceAccount"
          values   = [data.aws_caller_identity.current.account_id]
        },
      ]
    },
  ]

  tags = var.tags
}

# --- Site bucket -------------------------------------------------------------------------------

resource "aws_s3_bucket" "site" {
  #checkov:skip=CKV_AWS_144:the UI is rebuilt from the repository; versioning covers accidental overwrites, a replica in another region is not worth its cost
  #checkov:skip=CKV2_AWS_62:nothing reacts to uploads of the UI; CloudFront invalidations are part of the deploy steps
  bucket_prefix = "${var.name}-site-"
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_ownership_controls" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket = aws_s3_bucket.site.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "site" {
  bucket = aws_s3_bucket.site.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_logging" "site" {
  bucket        = aws_s3_bucket.site.id
  target_bucket = module.logs.id
  target_prefix = "s3/"
}

data "aws_iam_policy_document" "site" {
  statement {
    sid       = "CloudFrontReadsThroughOac"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.site.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.site.arn,
      "${aws_s3_bucket.site.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "site" {
  bucket = aws_s3_bucket.site.id
  policy = data.aws_iam_policy_document.site.json

  depends_on = [aws_s3_bucket_public_access_block.site]
}

# The UI's runtime configuration. `aws s3 sync --delete` of the UI must exclude it
# (docs/deploy.md).
resource "aws_s3_object" "config" {
  bucket                 = aws_s3_bucket.site.id
  key                    = "config.json"
  content                = jsonencode(local.config)
  content_type           = "application/json"
  cache_control          = "no-cache"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn

  tags = var.tags

  lifecycle {
    # The page needs at least one backend to talk to.
    precondition {
      condition     = var.ecs_api_url != null || var.serverless_api_url != null
      error_message = "Set ecs_api_url, serverless_api_url or both."
    }
  }
}

# --- CloudFront --------------------------------------------------------------------------------

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = "${var.name}-site"
  description                       = "CloudFront reads ${var.name}'s site bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "security" {
  name    = "${var.name}-security-headers"
  comment = "HSTS, CSP, no sniffing, no framing, strict referrer"

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }

    content_security_policy {
      content_security_policy = local.csp
      override                = true
    }

    content_type_options {
      override = true
    }

    frame_options {
      frame_option = "DENY"
      override     = true
    }

    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }

    xss_protection {
      protection = true
      mode_block = true
      override   = true
    }
  }

  custom_headers_config {
    items {
      header   = "Permissions-Policy"
      value    = "camera=(), microphone=(), geolocation=(), payment=()"
      override = true
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_310:a single S3 origin serves static files; there is no second origin to fail over to
  #checkov:skip=CKV_AWS_374:the playground UI is public on purpose; no country is excluded
  #checkov:skip=CKV_AWS_174:with a domain the viewer policy is TLSv1.2_2021; without one CloudFront's default *.cloudfront.net certificate only takes its own setting
  #checkov:skip=CKV2_AWS_47:a CloudFront web ACL must live in us-east-1, so it is the optional web_acl_id variable; the distribution serves static files only (no Log4j surface), the APIs have their own WAF/throttling
  enabled             = true
  comment             = "${var.name} web UI"
  aliases             = var.domain_name == null ? [] : [var.domain_name]
  default_root_object = "index.html"
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  price_class         = var.price_class
  web_acl_id          = var.web_acl_id

  origin {
    origin_id                = local.origin_id
    domain_name              = aws_s3_bucket.site.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_optimized
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
  }

  # The runtime configuration and the entry page must be fresh after a deploy.
  dynamic "ordered_cache_behavior" {
    for_each = ["/config.json", "/index.html"]

    content {
      path_pattern               = ordered_cache_behavior.value
      target_origin_id           = local.origin_id
      viewer_protocol_policy     = "redirect-to-https"
      allowed_methods            = ["GET", "HEAD"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = true
      cache_policy_id            = local.caching_disabled
      response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
    }
  }

  # Single-page app: unknown paths (S3 answers 403 through OAC for a missing key) get the app.
  custom_error_response {
    error_code            = 403
    response_code         = 200
    response_page_path    = "/index.html"
    error_caching_min_ttl = 10
  }

  custom_error_response {
    error_code            = 404
    response_code         = 200
    response_page_path    = "/index.html"
    error_caching_min_ttl = 10
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.acm_certificate_arn == null
    acm_certificate_arn            = var.acm_certificate_arn
    ssl_support_method             = var.acm_certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.acm_certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"
  }

  logging_config {
    bucket          = module.logs.bucket_domain_name
    prefix          = "cloudfront/"
    include_cookies = false
  }

  tags = var.tags

  # Standard logging needs the log bucket's ACLs enabled first.
  depends_on = [module.logs]
}

resource "aws_route53_record" "alias" {
  for_each = var.route53_zone_id == null || var.domain_name == null ? toset([]) : toset(["A", "AAAA"])

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = each.value

  alias {
    name                   = aws_cloudfront_distribution.this.domain_name
    zone_id                = aws_cloudfront_distribution.this.hosted_zone_id
    evaluate_target_health = false
  }
}
