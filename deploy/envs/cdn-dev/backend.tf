# Remote state in S3 with S3-native locking (a .tflock object; no DynamoDB table needed).
# The bucket and region are given at init, so that no account-specific name is committed:
#
#   terraform -chdir=deploy/envs/cdn-dev init \
#     -backend-config="bucket=<state-bucket>" -backend-config="region=<region>"
#
# The state bucket must be private, versioned and encrypted (docs/deploy.md, step 0).
terraform {
  backend "s3" {
    key          = "iot-playground/cdn-dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
