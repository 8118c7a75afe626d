"""Small typed values passed between components, so no component looks another one up."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class InternalAuth:
    """What the ALB's `authenticate-cognito` action needs to put a route behind the internal user pool."""

    user_pool_arn: pulumi.Input[str]
    user_pool_client_id: pulumi.Input[str]
    user_pool_domain: pulumi.Input[str]


@dataclass(frozen=True)
class ExecLogging:
    """Where ECS Exec sessions are logged: the cluster's `execute_command_configuration` (logging OVERRIDE) uses these,
    and task roles attach `task_policy_arn` so the agent in the task can write there."""

    log_group_name: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    s3_key_prefix: str
    kms_key_arn: pulumi.Input[str]
    task_policy_arn: pulumi.Input[str]
