# cdn-dev: the web UI as static files in a private S3 bucket behind CloudFront, with the UI's
# runtime configuration (config.json: the two backend URLs) written by Terraform.

data "aws_caller_identity" "current" {}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
}

module "site_key" {
  source = "../../modules/kms_key"

  alias       = local.name
  description = "${local.name}: UI bucket"
  policy_statements = [
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
}

# CloudFront takes certificates from us-east-1 only.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
      Repository  = "iot-playground"
    }
  }
}

# A certificate for domain_name when none is given (requested in us-east-1 and DNS-validated).
module "certificate" {
  source = "../../modules/acm_certificate"
  count  = var.domain_name != null && var.acm_certificate_arn == null ? 1 : 0
  providers = {
    aws = aws.us_east_1
  }

  domain_name     = var.domain_name
  route53_zone_id = var.route53_zone_id
}

module "cdn" {
  source = "../../modules/cdn"

  name                = local.name
  domain_name         = var.domain_name
  acm_certificate_arn = var.domain_name == null ? null : coalesce(var.acm_certificate_arn, try(module.certificate[0].arn, null))
  route53_zone_id     = var.route53_zone_id
  ecs_api_url         = var.ecs_api_url
  serverless_api_url  = var.serverless_api_url
  grafana_url         = var.grafana_url
  web_acl_id          = var.web_acl_id
  kms_key_arn         = module.site_key.arn
}
