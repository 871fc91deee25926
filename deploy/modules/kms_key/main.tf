# A customer managed KMS key with yearly rotation and a 30-day deletion window, administered by
# the account through IAM, and its alias. Optionally usable by CloudWatch Logs for this account's
# log groups; further key policy statements come from the caller.
#
# Each environment names its call differently (main_key, serverless_key, site_key): checkov keeps
# one result per module address, so calls with the same name would hide each other's checks.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid       = "AccountAdministersTheKeyThroughIam"
          Effect    = "Allow"
          Principal = { AWS = "arn:aws:iam::${local.account_id}:root" }
          Action    = "kms:*"
          Resource  = "*"
        },
      ],
      var.allow_cloudwatch_logs ? [
        {
          Sid       = "CloudWatchLogsEncryptsThisAccountsLogGroups"
          Effect    = "Allow"
          Principal = { Service = "logs.${local.region}.amazonaws.com" }
          Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
          Resource  = "*"
          Condition = {
            ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:${local.region}:${local.account_id}:log-group:*" }
          }
        },
      ] : [],
      var.policy_statements,
    )
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}
