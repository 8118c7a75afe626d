"""The two roles of a ContainerService, neither shared with another service.

The execution role lets ECS pull this service's image (and GuardDuty's agent), write its log group and read its
own secrets; the task role lets the application do only what it needs (ECS Exec sessions where exec is on, and
for workers their queue metric).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.lib.contracts import task_role_name
from components.platform.service import telemetry
from components.platform.service.scaling import QUEUE_METRIC_NAMESPACE

if TYPE_CHECKING:
    from components.platform.service.container_service import ContainerServiceArgs


def execution_role(
    parent: pulumi.Resource, args: ContainerServiceArgs, log_group: aws.cloudwatch.LogGroup, secrets: dict[str, str]
) -> aws.iam.Role:
    return _role(parent, args, f"{args.env}-{args.service}-execution", _execution_policy(args, log_group, secrets))


def task_role(parent: pulumi.Resource, args: ContainerServiceArgs) -> aws.iam.Role:
    base = f"{args.env}-{args.service}"
    role = _role(parent, args, f"{base}-task", _task_policy(args), task_role_name(args.env, args.service))
    if args.spec.ecs_exec:
        aws.iam.RolePolicyAttachment(
            f"{base}-task-exec-logging", role=role.name, policy_arn=args.runtime.exec_policy_arn, opts=pulumi.ResourceOptions(parent=parent)
        )
    return role


def _role(
    parent: pulumi.Resource, args: ContainerServiceArgs, name: str, policy: pulumi.Input[str] | None, role_name: str | None = None
) -> aws.iam.Role:
    child = pulumi.ResourceOptions(parent=parent)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": args.runtime.account_id}},
            }
        ],
    }
    role = aws.iam.Role(f"{name}-role", name=role_name, assume_role_policy=json.dumps(trust), opts=child)
    if policy is not None:  # IAM refuses a policy without statements
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=child)
    return role


def _execution_policy(args: ContainerServiceArgs, log_group: aws.cloudwatch.LogGroup, secrets: dict[str, str]) -> pulumi.Output[str]:
    # Partial ARNs (from the catalog, and the Datadog key) match any version suffix; data-store secrets are exact.
    named = [*secrets.values(), args.runtime.telemetry.api_key_secret_arn]
    secret_manager = sorted({f"{arn}-??????" for arn in named if ":secretsmanager:" in arn})
    parameters = sorted({arn for arn in secrets.values() if ":ssm:" in arn})

    def document(values: list) -> str:
        repository_arn, group_arn, key_arn, *store_secrets = values
        statements = [
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PullOwnImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                "Resource": repository_arn,
            },
            {
                # GuardDuty Runtime Monitoring (agent managed on Fargate, components/security/regional.py) adds its agent as a
                # sidecar of every task; ECS pulls it with this role from GuardDuty's repository in the region.
                "Sid": "PullGuardDutyAgent",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                "Resource": telemetry.guardduty_agent_repository_arn(args.runtime.region),
            },
            {
                "Sid": "OwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{group_arn}:*",
            },
        ]
        if secret_manager or store_secrets:
            statements.append(
                {
                    "Sid": "OwnSecrets",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": [*secret_manager, *sorted(store_secrets)],
                }
            )
        if parameters:
            statements.append({"Sid": "OwnParameters", "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameters})
        statements.append({"Sid": "DecryptSecrets", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn})
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    store_secrets = [arn for connection in args.connections for arn in connection.secret_arns]
    return pulumi.Output.all(args.repository.arn, log_group.arn, args.runtime.secrets_key_arn, *store_secrets).apply(document)


def _task_policy(args: ContainerServiceArgs) -> str | None:
    # ECS Exec's session channels come with the exec-logging policy, attached only where exec is on.
    statements: list[dict] = []
    if args.spec.scale_on == "queueLatency":
        statements.append(
            {
                "Sid": "PublishQueueLatency",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": QUEUE_METRIC_NAMESPACE}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}) if statements else None
