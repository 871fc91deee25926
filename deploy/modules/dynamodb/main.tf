# The two tables of adapters-dynamo (see its crate docs for the key design):
# - runs: pk/sk, GSIs by-start (g1pk/g1sk: every run, newest first) and by-user (g2pk/g2sk);
# - readings: pk = run id, sk = <timestamp>#<sensorId>#<type>.
# On demand, point-in-time recovery, encrypted with a customer managed KMS key.

resource "aws_dynamodb_table" "runs" {
  name                        = var.runs_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "g1pk"
    type = "S"
  }

  attribute {
    name = "g1sk"
    type = "S"
  }

  attribute {
    name = "g2pk"
    type = "S"
  }

  attribute {
    name = "g2sk"
    type = "S"
  }

  global_secondary_index {
    name            = "by-start"
    hash_key        = "g1pk"
    range_key       = "g1sk"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by-user"
    hash_key        = "g2pk"
    range_key       = "g2sk"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled                 = true
    recovery_period_in_days = var.point_in_time_recovery_days
  }

  # Data retention: items written with RETENTION_DAYS set carry their expiry here; DynamoDB
  # deletes them after it. Items without the attribute never expire.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "readings" {
  name                        = var.readings_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "ssk"
    type = "S"
  }

  attribute {
    name = "pend"
    type = "S"
  }

  # One sensor's readings of a run, in order (strongly consistent, like the table). A local index
  # can only be created with the table; it costs one more write unit per reading. It projects what
  # a listing reads, so clearing a reading's `pend` mark does not rewrite its entry.
  local_secondary_index {
    name               = "by-sensor"
    range_key          = "ssk"
    projection_type    = "INCLUDE"
    non_key_attributes = ["runId", "sensorId", "type", "value", "timestamp", "user"]
  }

  # Readings not yet counted by their summary rollup (sparse: a reading leaves it once counted),
  # which a summary adds to the rollups. Whole items, so that a fold can rewrite the readings it
  # counted without reading them again.
  local_secondary_index {
    name            = "pending"
    range_key       = "pend"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled                 = true
    recovery_period_in_days = var.point_in_time_recovery_days
  }

  # Data retention: items written with RETENTION_DAYS set carry their expiry here; DynamoDB
  # deletes them after it. Items without the attribute never expire.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
