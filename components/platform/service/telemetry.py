"""The telemetry every Fargate task carries, built in one place: `container_definitions()`.

A task gets three containers: the application, the Datadog agent (APM on 8126, DogStatsD on 8125) and a
FireLens log router that ships the application's stdout to Datadog. The application carries unified
service tags (env, service, version) both as DD_* variables (read by the tracer) and as docker labels
(read by the agent), so traces, metrics and logs of one deploy line up. The Datadog API key never appears
in the task definition: ECS reads it from Secrets Manager at start (the task's execution role needs
`secretsmanager:GetSecretValue` on that ARN). All images are multi-arch, so tasks run on ARM64.

Root filesystems: the agent's is read-only, the way Datadog's own ECS Fargate module runs it
(DataDog/terraform-aws-ecs-datadog, `dd_readonly_root_filesystem`; docs.datadoghq.com/containers/guide/
readonly-root-filesystem): task volumes on the directories it writes, its log file in one of them, and a short
init container (same image) that copies the image's default /etc/datadog-agent into its volume first, since an
ECS task volume starts empty. The log router's root stays writable, on purpose: AWS documents no read-only
setup for FireLens, reports of aws-for-fluent-bit failing on a read-only root (aws/aws-for-fluent-bit#928,
fluent/fluent-bit#7308) have no documented fix, and the router is essential, so a wrong guess stops every task.
It runs no shell and takes no requests; revisit when AWS documents it.

The result is a list of plain dicts whose leaves may be Pulumi Inputs; pass it to
`pulumi.Output.json_dumps` for `aws.ecs.TaskDefinition(container_definitions=...)`.
"""

from __future__ import annotations

from typing import Any

import pulumi

from settings import regions

AGENT_CONTAINER = "datadog-agent"
AGENT_INIT_CONTAINER = "datadog-agent-init"
LOG_ROUTER_CONTAINER = "log-router"
AGENT_IMAGE = "public.ecr.aws/datadog/agent:7"
LOG_ROUTER_IMAGE = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
# GuardDuty Runtime Monitoring's Fargate agent, which GuardDuty adds to every task as a sidecar when it manages the
# agent (components/security/regional.py). ECS pulls it with the task's execution role, which therefore needs ECR pull rights on
# GuardDuty's repository of the region, in an account of AWS's own (settings/regions.py)
# (https://docs.aws.amazon.com/guardduty/latest/ug/prereq-runtime-monitoring-ecs-support.html,
# https://docs.aws.amazon.com/guardduty/latest/ug/ecs-runtime-agent-ecr-image-uri.html).
GUARDDUTY_AGENT_REPOSITORY = "aws-guardduty-agent-fargate"
APM_PORT = 8126
DOGSTATSD_PORT = 8125
UNIFIED_TAGS = ("env", "service", "version")
# The agent's writable directories on a read-only root: task volume name -> path (Datadog's ROFS guide).
AGENT_VOLUMES = {
    "datadog-config": "/etc/datadog-agent",
    "datadog-run": "/opt/datadog-agent/run",
    "datadog-sockets": "/var/run/datadog",
    "datadog-tmp": "/tmp",
}
AGENT_CONFIG_STAGING = "/agent-config"  # where the init container sees the config volume


def guardduty_agent_repository_arn(region: str) -> str:
    return f"arn:aws:ecr:{region}:{regions.region(region).guardduty_agent_account}:repository/{GUARDDUTY_AGENT_REPOSITORY}"


def _env(values: dict[str, pulumi.Input[str]]) -> list[dict[str, pulumi.Input[str]]]:
    return [{"name": key, "value": value} for key, value in values.items()]


def container_definitions(
    *,
    service: str,
    env: str,
    version: pulumi.Input[str],
    container_name: str,
    image: pulumi.Input[str],
    port: int | None,
    log_group: pulumi.Input[str],
    region: str,
    api_key_secret_arn: pulumi.Input[str],
    datadog_site: str,
    environment: dict[str, pulumi.Input[str]] | None = None,
    secrets: dict[str, pulumi.Input[str]] | None = None,
    log_source: str = "ruby",
) -> list[dict[str, Any]]:
    """The app, agent, log-router and agent-init container definitions of one Fargate task of `service` in `env`.

    The task definition also needs the volumes in AGENT_VOLUMES."""
    unified = {"DD_ENV": env, "DD_SERVICE": service, "DD_VERSION": version}

    def own_logs(prefix: str) -> dict[str, Any]:
        # The sidecars log to CloudWatch, not through FireLens: a broken router must not hide its own errors.
        return {
            "logDriver": "awslogs",
            "options": {"awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": prefix},
        }

    app = {
        "name": container_name,
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}] if port else [],
        "environment": _env({**(environment or {}), **unified, "DD_LOGS_INJECTION": "true", "DD_TRACE_AGENT_PORT": str(APM_PORT)}),
        "secrets": [{"name": key, "valueFrom": arn} for key, arn in (secrets or {}).items()],
        "dockerLabels": {
            "com.datadoghq.tags.env": env,
            "com.datadoghq.tags.service": service,
            "com.datadoghq.tags.version": version,
        },
        "logConfiguration": {
            "logDriver": "awsfirelens",
            "options": {
                "Name": "datadog",
                "Host": f"http-intake.logs.{datadog_site}",
                "TLS": "on",
                "provider": "ecs",
                "dd_service": service,
                "dd_source": log_source,  # picks Datadog's log pipeline (ruby, nodejs, ...)
                "dd_tags": f"env:{env},version:{version}"
                if isinstance(version, str)
                else pulumi.Output.concat("env:", env, ",version:", version),
                "retry_limit": "2",
            },
            "secretOptions": [{"name": "apikey", "valueFrom": api_key_secret_arn}],
        },
        # The app's first spans and logs need the agent and the router listening.
        "dependsOn": [
            {"containerName": AGENT_CONTAINER, "condition": "START"},
            {"containerName": LOG_ROUTER_CONTAINER, "condition": "START"},
        ],
    }
    agent = {
        "name": AGENT_CONTAINER,
        "image": AGENT_IMAGE,
        # A dead agent loses telemetry, not requests: it must not stop the task (missing data alerts instead).
        "essential": False,
        "cpu": 128,
        "memoryReservation": 256,
        "portMappings": [
            {"containerPort": APM_PORT, "hostPort": APM_PORT, "protocol": "tcp"},
            {"containerPort": DOGSTATSD_PORT, "hostPort": DOGSTATSD_PORT, "protocol": "udp"},
        ],
        "environment": _env(
            {
                "ECS_FARGATE": "true",
                "DD_SITE": datadog_site,
                "DD_APM_ENABLED": "true",
                "DD_APM_NON_LOCAL_TRAFFIC": "true",
                "DD_DOGSTATSD_NON_LOCAL_TRAFFIC": "true",
                "DD_PROCESS_AGENT_ENABLED": "true",
                # /var/log/datadog is on the read-only root: the agent logs to its run volume (and to stdout).
                "DD_LOG_FILE": f"{AGENT_VOLUMES['datadog-run']}/logs",
                **unified,
            }
        ),
        "readonlyRootFilesystem": True,
        "mountPoints": [{"sourceVolume": name, "containerPath": path, "readOnly": False} for name, path in AGENT_VOLUMES.items()],
        "dependsOn": [{"containerName": AGENT_INIT_CONTAINER, "condition": "SUCCESS"}],
        "secrets": [{"name": "DD_API_KEY", "valueFrom": api_key_secret_arn}],
        "healthCheck": {"command": ["CMD-SHELL", "agent health"], "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 15},
        "logConfiguration": own_logs("datadog-agent"),
    }
    router = {
        "name": LOG_ROUTER_CONTAINER,
        "image": LOG_ROUTER_IMAGE,
        # Without the router the app's logs go nowhere, so the task stops and is replaced.
        "essential": True,
        "memoryReservation": 64,
        "firelensConfiguration": {"type": "fluentbit", "options": {"enable-ecs-log-metadata": "true"}},
        "logConfiguration": own_logs("log-router"),
    }
    init = {
        "name": AGENT_INIT_CONTAINER,
        "image": AGENT_IMAGE,
        "essential": False,  # it exits once the config is copied; the agent waits for its SUCCESS
        "memoryReservation": 32,
        # Part of the service like the app: the same unified service tags (the task-definition-telemetry policy).
        "environment": _env(unified),
        "dockerLabels": dict(app["dockerLabels"]),
        "readonlyRootFilesystem": True,
        # -n: never overwrite, so a task restart keeps what the agent wrote.
        "command": ["/bin/sh", "-c", f"cp -vnR /etc/datadog-agent/* {AGENT_CONFIG_STAGING}/ && exit 0"],
        "mountPoints": [{"sourceVolume": "datadog-config", "containerPath": AGENT_CONFIG_STAGING, "readOnly": False}],
        "logConfiguration": own_logs("datadog-agent-init"),
    }
    return [app, agent, router, init]
