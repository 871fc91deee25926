# cdn-dev: the web UI as static files in a private S3 bucket behind CloudFront, with the UI's
# runtime configuration (config.json: the two backend URLs) written by Terraform.

data "aws_caller_identity" "current" {}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
}

resource "aws_kms_key" "site" {
  description             = "${local.name}: UI bucket"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersTheKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # OAC signs S3 requests as CloudFront, which must decrypt the objects it serves.
        Sid       = "CloudFrontDecryptsForThisAccountsDistributions"
        Effect    = "Allow"
        Principal = { Service = "cloudfront.amazonaws.com" }
        Action    = ["kms:Decrypt"]
        Resource  = "*"
        Condition = {
          StringLike = { "AWS:SourceArn" = "arn:aws:cloudfront::${local.account_id}:distribution/*" }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "site" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.site.key_id
}

module "cdn" {
  source = "../../modules/cdn"

  name                = local.name
  domain_name         = var.domain_name
  acm_certificate_arn = var.acm_certificate_arn
  route53_zone_id     = var.route53_zone_id
  ecs_api_url         = var.ecs_api_url
  serverless_api_url  = var.serverless_api_url
  grafana_url         = var.grafana_url
  web_acl_id          = var.web_acl_id
  kms_key_arn         = aws_kms_key.site.arn
}
