"""The task of a ContainerService: its log group, and a task definition of the app with its telemetry sidecars.

- ARM64 (Graviton) task definitions: about 20% cheaper than X86_64 for the same size.
- The root filesystem is read-only where the runtime allows: /tmp is a task volume. ECS Exec (on unless the
  catalog turns it off for a service, `ecsExec`) is unsupported by AWS on a read-only root; we follow the
  workaround AWS's own ECS Exec checker documents (task volumes on the two directories its agent writes to),
  see EXEC_AGENT_DIRS.
- Every task carries the Datadog agent and a FireLens log router (components/platform/service/telemetry.py), with unified
  service tags, and gets its data stores' endpoints as settings and their credentials as ECS secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.platform.service import telemetry

if TYPE_CHECKING:
    from components.platform.service.container_service import ContainerServiceArgs

# Directories the ECS Exec (SSM) agent writes to; task volumes there keep the root filesystem read-only.
# AWS: "making the root file system read-only by using the readonlyRootFilesystem task definition parameter ... isn't
# supported" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html, considerations). The workaround,
# writable volumes on exactly these paths, is the one AWS's ECS Exec checker points to
# (aws-containers/amazon-ecs-exec-checker#21, example template gist.github.com/toricls/3af6bd8673d7b0ebbc1860fe8e862e50;
# also aws/containers-roadmap#1359). It is unsupported: a service can turn ECS Exec off (catalog `ecsExec: false`).
EXEC_AGENT_DIRS = ("/var/lib/amazon", "/var/log/amazon")


def log_group(parent: pulumi.Resource, args: ContainerServiceArgs) -> aws.cloudwatch.LogGroup:
    return aws.cloudwatch.LogGroup(
        f"{args.env}-{args.service}-logs",
        name=f"/kanna/{args.env}/{args.service}",
        retention_in_days=args.runtime.log_retention_days,
        kms_key_id=args.runtime.logs_key_arn,
        opts=pulumi.ResourceOptions(parent=parent, protect=args.runtime.protect),
    )


def task_definition(
    parent: pulumi.Resource,
    args: ContainerServiceArgs,
    execution_role: aws.iam.Role,
    task_role: aws.iam.Role,
    log_group_name: pulumi.Input[str],
    secrets: dict[str, str],
) -> aws.ecs.TaskDefinition:
    base = f"{args.env}-{args.service}"
    return aws.ecs.TaskDefinition(
        f"{base}-task",
        family=f"kanna-{base}",
        cpu=str(args.size.cpu),
        memory=str(args.size.memory),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(cpu_architecture="ARM64", operating_system_family="LINUX"),
        execution_role_arn=execution_role.arn,
        task_role_arn=task_role.arn,
        volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=name) for name in [*map(_volume, _writable_dirs(args)), *telemetry.AGENT_VOLUMES]],
        container_definitions=pulumi.Output.json_dumps(_containers(args, log_group_name, secrets)),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _containers(args: ContainerServiceArgs, log_group: pulumi.Input[str], secrets: dict[str, str]) -> list[dict]:
    spec = args.spec
    environment: dict[str, pulumi.Input[str]] = {
        **spec.environment,
        "KANNA_ENV": args.env,
        "DD_TAGS": f"kanna_env:{args.env}",
        # The callee's internal host: its rule on the ALB, whose target groups CodeDeploy shifts.
        **{callee_variable(callee): url for callee, url in sorted(args.callees.items())},
    }
    injected: dict[str, pulumi.Input[str]] = dict(secrets)
    for connection in args.connections:
        environment.update(connection.environment)
        injected.update(connection.secrets)
    app, *sidecars = telemetry.container_definitions(
        service=args.service,
        env=args.runtime.telemetry.env,
        version=args.runtime.telemetry.version,
        container_name=args.service,
        # The repository's bootstrap image (components/platform/cluster.py); CI deploys the commits' digests after it.
        image=pulumi.Output.concat(args.repository.repository_url, ":", args.runtime.telemetry.version),
        port=spec.port,
        log_group=log_group,
        region=args.runtime.region,
        api_key_secret_arn=args.runtime.telemetry.api_key_secret_arn,
        datadog_site=args.runtime.telemetry.datadog_site,
        environment=dict(sorted(environment.items())),
        secrets=dict(sorted(injected.items())),
        log_source=spec.instrumentation.log_source,
    )
    app.update(
        {
            "readonlyRootFilesystem": spec.read_only_root,
            # An init process reaps orphans (ECS Exec's sessions among them).
            "linuxParameters": {"initProcessEnabled": True},
            "mountPoints": [{"sourceVolume": _volume(path), "containerPath": path, "readOnly": False} for path in _writable_dirs(args)],
            "stopTimeout": 30,
            "portMappings": [{"name": args.service, "containerPort": spec.port, "protocol": "tcp", "appProtocol": "http"}]
            if spec.port
            else [],
        }
    )
    return [app, *sidecars]


def callee_variable(callee: str) -> str:
    """The environment variable that holds a callee's URL in its callers' tasks: core-api -> CORE_API_URL."""
    return f"{callee.upper().replace('-', '_')}_URL"


def _writable_dirs(args: ContainerServiceArgs) -> tuple[str, ...]:
    return ("/tmp", *EXEC_AGENT_DIRS) if args.spec.ecs_exec else ("/tmp",)


def _volume(path: str) -> str:
    return path.strip("/").replace("/", "-")
