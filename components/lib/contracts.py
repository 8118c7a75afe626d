"""Small typed values passed between components, so no component looks another one up."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

IAM_ROLE_NAME_MAX = 64  # docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (role name length)


def task_role_name(env: str, service: str) -> str:
    """The physical name of a service's ECS task role in a verification environment (`alpha-core-api-task`).

    Explicit, not auto-named: GCP's workload identity condition (components/gcp/identity.py) admits the sessions
    of these roles by name, so both sides call this function. The longest, a 10-character environment with the
    catalog's longest service name, is well under IAM's 64 characters (tests/test_first_deploy.py)."""
    return f"{env}-{service}-task"


# The BigQuery log pipeline's AWS side (components/gcp/log_export.py) and its GCP side (components/gcp/analytics.py)
# name the bucket, the prefixes and the role with these, never by typing them twice.
LOG_EXPORT_PREFIXES = {"app_logs": "app", "audit_logs": "audit"}  # BigQuery dataset -> S3 prefix


def log_export_bucket(env: str, account_id: str) -> str:
    """The S3 bucket the stack exports logs to, which Storage Transfer reads. S3 names are global: the account
    id keeps another account from holding the name first (the create would fail with BucketAlreadyExists)."""
    return f"kanna-{env}-log-export-{account_id}"


def log_export_role_name(env: str) -> str:
    """The AWS role Google's Storage Transfer agent assumes with its Google identity to read the export bucket."""
    return f"{env}-bigquery-log-export"


def log_export_role_arn(env: str, account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{log_export_role_name(env)}"


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


@dataclass(frozen=True)
class Connection:
    """How a service reaches one data store: plain settings, and secrets ECS injects at start.

    `secrets` maps an environment variable to a `valueFrom` (a secret ARN, optionally with a JSON key);
    `secret_arns` are the secrets themselves, which the service's execution role may read."""

    environment: dict[str, pulumi.Input[str]]
    secrets: dict[str, pulumi.Input[str]]
    secret_arns: list[pulumi.Input[str]]


@dataclass(frozen=True)
class Telemetry:
    """What every task needs to ship traces, metrics and logs to Datadog (components/platform/service/telemetry.py)."""

    env: str  # the Datadog `env` tag: the stack (a verification environment is the tag kanna_env)
    datadog_site: str
    api_key_secret_arn: str  # a partial Secrets Manager ARN (no random suffix): known at preview
    version: str  # the unified-service-tagging version of the first deploy; CI deploys set their own
