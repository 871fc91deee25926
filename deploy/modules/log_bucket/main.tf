# A private bucket that receives AWS service logs: public access blocked, versioned, SSE-S3,
# TLS-only policy, objects expired after retention_days. The caller names the services that
# may write (delivery_statements); ACLs stay disabled unless a service delivers through an ACL
# grant (acl_log_delivery).

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_145:ALB access logs, S3 server access logs and CloudFront standard logs can only be delivered to buckets encrypted with SSE-S3, not SSE-KMS
  #checkov:skip=CKV_AWS_144:access logs are disposable diagnostics; cross-region replication would double their cost
  #checkov:skip=CKV_AWS_18:this is the log bucket; logging it into itself would loop
  #checkov:skip=CKV2_AWS_62:nothing consumes events of log objects
  bucket_prefix = var.bucket_prefix
  force_destroy = var.force_destroy

  tags = var.tags
}

# CloudFront standard logging writes through an ACL grant (to the awslogsdelivery account): with
# acl_log_delivery the bucket keeps ACLs enabled; public ACLs stay blocked below either way.
resource "aws_s3_bucket_ownership_controls" "this" {
  #checkov:skip=CKV2_AWS_65:ACLs stay enabled only with acl_log_delivery = true (the cdn module: CloudFront standard logging delivers through an ACL grant to its log delivery account); otherwise BucketOwnerEnforced; public ACLs are blocked
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = var.acl_log_delivery ? "BucketOwnerPreferred" : "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = var.lifecycle_rule_id
    status = "Enabled"

    filter {}

    expiration {
      days = var.retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = var.delivery_statements

    content {
      sid       = statement.value.sid
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.this.arn}/${statement.value.key_prefix}*"]

      principals {
        type        = statement.value.principal_type
        identifiers = statement.value.principal_identifiers
      }

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
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

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
