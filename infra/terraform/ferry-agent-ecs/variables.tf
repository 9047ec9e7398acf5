variable "name" {
  description = "Name of the agent: its ECS service, roles and log group, and FERRY_AGENT_NAME."
  type        = string
  default     = "ferry-agent"
}

variable "cluster_name" {
  description = "Name of the ECS cluster that runs both the agent and the runs it launches."
  type        = string
}

variable "agent_image" {
  description = "Container image of ferry-agent, such as ghcr.io/ferryhq/ferry-agent:1.0.0."
  type        = string
}

variable "server_url" {
  description = "URL of the Ferry control plane the agent connects to (FERRY_SERVER)."
  type        = string
}

variable "agent_token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the agent's token (FERRY_AGENT_TOKEN)."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the agent's task. The agent needs outbound access to the control plane and the AWS APIs."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the agent's task."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Whether the agent's task gets a public IP (needed in public subnets without a NAT gateway)."
  type        = bool
  default     = false
}

variable "agent_cpu" {
  description = "CPU units of the agent's task (1024 = one vCPU)."
  type        = number
  default     = 256
}

variable "agent_memory" {
  description = "Memory of the agent's task, in MiB; must pair with agent_cpu on Fargate."
  type        = number
  default     = 512
}

variable "run_task_role_arn" {
  description = "Role assumed by the code of the runs the agent launches."
  type        = string
}

variable "run_execution_role_arn" {
  description = "Role ECS uses to pull run images, write run logs and fetch run secrets."
  type        = string
}

variable "run_log_group_name" {
  description = "CloudWatch Logs group of the runs' output, named in the work pool's template."
  type        = string
  default     = "/ferry/runs"
}

variable "run_log_retention_days" {
  description = "Retention of the runs' log group, in days."
  type        = number
  default     = 30
}

variable "family_prefix" {
  description = "Prefix of the task definition families the agent registers; must match the pool's family_prefix."
  type        = string
  default     = "ferry-"
}

variable "log_level" {
  description = "FERRY_LOG_LEVEL of the agent: debug, info, warn or error."
  type        = string
  default     = "info"
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
