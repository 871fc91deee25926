variable "name_prefix" {
  description = "Prefix of the role name (38 characters at most; AWS appends a unique suffix)."
  type        = string
}

variable "service" {
  description = "Service principal that assumes the role (e.g. lambda.amazonaws.com)."
  type        = string
}

variable "inline_policies" {
  description = "Inline policies of the role: name => policy JSON (the names must be known at plan time)."
  type        = map(string)
  default     = {}
}

variable "managed_policy_arns" {
  description = "Managed policies attached to the role."
  type        = set(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
