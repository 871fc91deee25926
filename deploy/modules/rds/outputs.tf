output "address" {
  description = "Private DNS name of the instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Database created at launch."
  value       = aws_db_instance.this.db_name
}

output "master_username" {
  description = "Master user name."
  value       = aws_db_instance.this.username
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret (JSON with username and password) that RDS manages and rotates."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the instance."
  value       = aws_security_group.this.id
}

output "resource_id" {
  description = "DbiResourceId, for rds-db:connect IAM policies."
  value       = aws_db_instance.this.resource_id
}

output "identifier" {
  description = "Identifier of the instance (the DBInstanceIdentifier dimension of its metrics)."
  value       = aws_db_instance.this.identifier
}
