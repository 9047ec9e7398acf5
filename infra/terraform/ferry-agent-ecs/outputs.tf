output "agent_role_arn" {
  description = "ARN of the role the agent runs as."
  value       = aws_iam_role.agent.arn
}

output "agent_execution_role_arn" {
  description = "ARN of the role ECS uses to start the agent's task."
  value       = aws_iam_role.agent_execution.arn
}

output "service_name" {
  description = "Name of the agent's ECS service."
  value       = aws_ecs_service.agent.name
}

output "agent_log_group_name" {
  description = "CloudWatch Logs group of the agent's own log."
  value       = aws_cloudwatch_log_group.agent.name
}

output "run_log_group_name" {
  description = "CloudWatch Logs group of the runs' output, to name in the work pool's template."
  value       = aws_cloudwatch_log_group.runs.name
}

output "agent_policy_json" {
  description = "The agent's IAM policy as applied."
  value       = local.agent_policy
}
