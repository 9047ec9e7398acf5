terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  # The agent's own least-privilege policy, shared with infra/iam.
  agent_policy = templatefile("${path.module}/../../iam/ferry-agent-ecs-policy.json", {
    region             = local.region
    account_id         = local.account_id
    cluster_name       = var.cluster_name
    family_prefix      = var.family_prefix
    log_group          = var.run_log_group_name
    task_role_arn      = var.run_task_role_arn
    execution_role_arn = var.run_execution_role_arn
  })
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# The role the agent runs as: it launches, watches and stops the runs' tasks.
resource "aws_iam_role" "agent" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "agent" {
  name   = "${var.name}-launch-ecs-runs"
  role   = aws_iam_role.agent.id
  policy = local.agent_policy
}

# The role ECS uses to start the agent's own task: pull its image, write its
# log and read its token.
resource "aws_iam_role" "agent_execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "agent_execution" {
  role       = aws_iam_role.agent_execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "agent_token" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.agent_token_secret_arn]
  }
}

resource "aws_iam_role_policy" "agent_token" {
  name   = "${var.name}-read-token"
  role   = aws_iam_role.agent_execution.id
  policy = data.aws_iam_policy_document.agent_token.json
}

resource "aws_cloudwatch_log_group" "agent" {
  name              = "/ferry/agents/${var.name}"
  retention_in_days = 30
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "runs" {
  name              = var.run_log_group_name
  retention_in_days = var.run_log_retention_days
  tags              = var.tags
}

resource "aws_ecs_task_definition" "agent" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.agent_cpu)
  memory                   = tostring(var.agent_memory)
  task_role_arn            = aws_iam_role.agent.arn
  execution_role_arn       = aws_iam_role.agent_execution.arn

  container_definitions = jsonencode([
    {
      name        = "ferry-agent"
      image       = var.agent_image
      essential   = true
      stopTimeout = 120
      environment = [
        { name = "FERRY_SERVER", value = var.server_url },
        { name = "FERRY_AGENT_NAME", value = var.name },
        { name = "FERRY_LOG_LEVEL", value = var.log_level },
        { name = "AWS_REGION", value = local.region },
      ]
      secrets = [
        { name = "FERRY_AGENT_TOKEN", valueFrom = var.agent_token_secret_arn },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.agent.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "agent"
        }
      }
    }
  ])

  tags = var.tags
}

# One agent per pool: two would each adopt the other's runs after a restart.
resource "aws_ecs_service" "agent" {
  name            = var.name
  cluster         = var.cluster_name
  task_definition = aws_ecs_task_definition.agent.arn
  desired_count   = 1
  launch_type     = "FARGATE"

  # Stop the old agent before the new one starts, so that the new one adopts
  # the runs instead of racing the old one.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = var.assign_public_ip
  }

  tags = var.tags
}
