"""One service of one environment on the shared cluster: roles, task definition, security group, ECS service, scaling.

- Separate roles: the execution role lets ECS pull this service's image, write its log group and read
  its own secrets; the task role lets the application do only what it needs (ECS Exec sessions, and for
  workers their queue metric). Neither is shared with another service.
- ARM64 (Graviton) task definitions: about 20% cheaper than X86_64 for the same size.
- The root filesystem is read-only where the runtime allows: /tmp is a task volume, and so are the two
  directories the ECS Exec agent writes to, which keeps ECS Exec working on a read-only root.
- Placement by capacity provider strategy only: Spot alone in verification environments; in prod an
  on-demand base keeps web services up through a Spot reclaim wave, and Spot carries the rest.
- Every task carries the Datadog agent and a FireLens log router (components/telemetry.py), with unified
  service tags, and gets its data stores' endpoints as settings and their credentials as ECS secrets.
- Calls between services go through Cloud Map DNS names (`<service>.<environment>.kanna.internal`), task to task
  inside the VPC, never through the public ALB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import telemetry
from components.contracts import Connection, Telemetry, task_role_name
from settings.platform import Schedule
from settings.services import ServiceSettings, Size

CPU_TARGET = 60.0
REQUESTS_PER_TARGET = 500.0  # per task per minute; sized on core-api's load test
QUEUE_LATENCY_TARGET = 30.0  # seconds a job may wait before another sidekiq task starts
QUEUE_METRIC_NAMESPACE = "Kanna/Sidekiq"
# Directories the ECS Exec (SSM) agent writes to; task volumes there keep the root filesystem read-only.
EXEC_AGENT_DIRS = ("/var/lib/amazon", "/var/log/amazon")


@dataclass(frozen=True)
class ContainerServiceArgs:
    env: str
    service: str
    spec: ServiceSettings
    size: Size
    spot_only: bool
    account_id: str
    region: str
    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    repository_url: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Output[str]]
    namespace_id: pulumi.Input[str]  # the environment's private DNS namespace
    log_retention_days: int
    logs_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    protect: bool
    telemetry: Telemetry
    exec_policy_arn: pulumi.Input[str]  # lets the ECS Exec agent write session logs where the cluster says
    connections: list[Connection] = field(default_factory=list)  # the data stores the service uses
    vpc_cidr: str = "10.0.0.0/16"
    callees: dict[str, int] = field(default_factory=dict)  # service -> port, reached by its Cloud Map DNS name
    ingress_from: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # who may connect (the ALB, callers) -> group id
    target_group: aws.lb.TargetGroup | None = None  # web services: where the ALB sends requests
    green_target_group: aws.lb.TargetGroup | None = None  # blue/green: the other half of the pair CodeDeploy swaps
    alb_arn_suffix: pulumi.Input[str] | None = None
    schedule: Schedule | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # e.g. the listener rule of the target group
    blue_green: bool = False  # CODE_DEPLOY controller: CodeDeploy (components/bluegreen.py) ships new task definitions
    rollback_alarm_names: list[pulumi.Input[str]] = field(default_factory=list)  # rolling: ECS rolls back when one fires


class ContainerService(pulumi.ComponentResource):
    service: aws.ecs.Service
    task_definition: aws.ecs.TaskDefinition
    security_group: aws.ec2.SecurityGroup
    execution_role: aws.iam.Role
    task_role: aws.iam.Role

    def __init__(self, name: str, args: ContainerServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:platform:ContainerService", name, None, opts)
        self._args = args
        base = f"{args.env}-{args.service}"
        child = pulumi.ResourceOptions(parent=self)
        spec, size = args.spec, args.size

        log_group = aws.cloudwatch.LogGroup(
            f"{base}-logs",
            name=f"/kanna/{args.env}/{args.service}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        secrets = spec.secret_arns(args.account_id, args.region, args.env)
        self.execution_role = self._role(f"{base}-execution", self._execution_policy(log_group, secrets))
        self.task_role = self._role(f"{base}-task", self._task_policy(), task_role_name(args.env, args.service))
        aws.iam.RolePolicyAttachment(f"{base}-task-exec-logging", role=self.task_role.name, policy_arn=args.exec_policy_arn, opts=child)

        # Rules are inline, so a task group is whole in one resource: other groups (a database's, say)
        # reference this one in their own rules instead of adding rules to it.
        port = spec.port or 0
        self.security_group = aws.ec2.SecurityGroup(
            f"{base}-sg",
            vpc_id=args.vpc_id,
            description=f"{base} tasks: from the ALB or their callers only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=port, to_port=port, security_groups=[group], description=f"From {source}"
                )
                for source, group in sorted(args.ingress_from.items())
            ]
            if port
            else [],
            egress=[
                # AWS APIs (through the VPC endpoints) and partner APIs (through NAT) are HTTPS.
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"], description="HTTPS out"
                ),
                # Callees and data stores; their own groups decide who may connect.
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=1024,
                    to_port=65535,
                    cidr_blocks=[args.vpc_cidr],
                    description="Services and data stores in the VPC",
                ),
            ],
            tags={"Name": base},
            opts=child,
        )

        self.task_definition = aws.ecs.TaskDefinition(
            f"{base}-task",
            family=f"kanna-{base}",
            cpu=str(size.cpu),
            memory=str(size.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(cpu_architecture="ARM64", operating_system_family="LINUX"),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=_volume(path)) for path in ("/tmp", *EXEC_AGENT_DIRS)],
            container_definitions=pulumi.Output.json_dumps(self._containers(log_group.name, secrets)),
            opts=child,
        )

        strategies = self._capacity()
        # Callers find this service's tasks by DNS in the environment's private namespace. Not Service Connect:
        # ECS does not support it on services with the CODE_DEPLOY controller (aws/containers-roadmap#1993).
        registry = (
            aws.servicediscovery.Service(
                f"{base}-discovery",
                name=args.service,
                dns_config=aws.servicediscovery.ServiceDnsConfigArgs(
                    namespace_id=args.namespace_id,
                    dns_records=[aws.servicediscovery.ServiceDnsConfigDnsRecordArgs(ttl=10, type="A")],
                    routing_policy="MULTIVALUE",
                ),
                # ECS reports task health to Cloud Map; an unhealthy task leaves DNS within seconds.
                health_check_custom_config=aws.servicediscovery.ServiceHealthCheckCustomConfigArgs(),
                opts=child,
            )
            if spec.port
            else None
        )
        self.service = aws.ecs.Service(
            f"{base}-service",
            name=base,
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=size.min_tasks,
            capacity_provider_strategies=strategies,
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.subnet_ids, security_groups=[self.security_group.id], assign_public_ip=False
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.target_group.arn, container_name=args.service, container_port=spec.port
                )
            ]
            if args.target_group is not None and spec.port
            else None,
            health_check_grace_period_seconds=120 if args.target_group is not None else None,
            enable_execute_command=True,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            # The catalog name and kind: Datadog monitors and SLOs are related to the service by these.
            tags={"kanna:service": args.service, "kanna:kind": args.spec.kind, "kanna:environment": args.env},
            service_registries=aws.ecs.ServiceServiceRegistriesArgs(registry_arn=registry.arn) if registry is not None else None,
            **self._deployment(),
        )
        self._autoscaling()
        self.register_outputs({"serviceArn": self.service.id, "securityGroupId": self.security_group.id})

    def _deployment(self) -> dict:
        """The ECS service's deployment settings: CodeDeploy blue/green, or rolling with the circuit breaker."""
        args = self._args
        # Autoscaling (and the out-of-hours schedule) owns the task count after creation.
        ignored = ["desiredCount"]
        if args.blue_green:
            # CodeDeploy owns these after the first deploy: each deploy registers a new task definition revision
            # and swaps the load balancer to the other target group. Re-applying Pulumi's would revert traffic to
            # the idle group, and ECS refuses a task definition update on a CODE_DEPLOY service. Pulumi creates
            # the first task definition; later ones ship through CodeDeploy (deploy/render.py, CI).
            ignored += ["taskDefinition", "loadBalancers"]
            return {
                "deployment_controller": aws.ecs.ServiceDeploymentControllerArgs(type="CODE_DEPLOY"),
                "opts": pulumi.ResourceOptions(parent=self, depends_on=args.depends_on, ignore_changes=ignored),
            }
        return {
            "deployment_controller": aws.ecs.ServiceDeploymentControllerArgs(type="ECS"),
            "deployment_circuit_breaker": aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            # A deploy whose new tasks start but don't work (a growing queue) is rolled back on the alarm.
            "alarms": aws.ecs.ServiceAlarmsArgs(enable=True, rollback=True, alarm_names=args.rollback_alarm_names)
            if args.rollback_alarm_names
            else None,
            "opts": pulumi.ResourceOptions(parent=self, depends_on=args.depends_on, ignore_changes=ignored),
        }

    def _capacity(self) -> list[aws.ecs.ServiceCapacityProviderStrategyArgs]:
        size = self._args.size
        spot = aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE_SPOT", weight=size.spot_weight, base=0)
        if self._args.spot_only or (size.on_demand_base == 0 and size.on_demand_weight == 0):
            return [spot]
        on_demand = aws.ecs.ServiceCapacityProviderStrategyArgs(
            capacity_provider="FARGATE", weight=size.on_demand_weight, base=size.on_demand_base
        )
        return [on_demand, spot]

    def _containers(self, log_group: pulumi.Input[str], secrets: dict[str, str]) -> list[dict]:
        args, spec = self._args, self._args.spec
        environment: dict[str, pulumi.Input[str]] = {
            **spec.environment,
            "KANNA_ENV": args.env,
            "DD_TAGS": f"kanna_env:{args.env}",
            # Cloud Map names: they resolve to the callee's healthy tasks of this environment only.
            **{
                f"{callee.upper().replace('-', '_')}_URL": f"http://{callee}.{args.env}.kanna.internal:{port}"
                for callee, port in sorted(args.callees.items())
            },
        }
        injected: dict[str, pulumi.Input[str]] = dict(secrets)
        for connection in args.connections:
            environment.update(connection.environment)
            injected.update(connection.secrets)
        app, agent, router = telemetry.container_definitions(
            service=args.service,
            env=args.telemetry.env,
            version=args.telemetry.version,
            container_name=args.service,
            # CI deploys real tags (immutable); this first tag only has to exist for the service to be created.
            image=pulumi.Output.concat(args.repository_url, ":", args.telemetry.version),
            port=spec.port,
            log_group=log_group,
            region=args.region,
            api_key_secret_arn=args.telemetry.api_key_secret_arn,
            datadog_site=args.telemetry.datadog_site,
            environment=dict(sorted(environment.items())),
            secrets=dict(sorted(injected.items())),
            log_source="java" if spec.port == 8080 else ("ruby" if spec.image == "kanna/core-api" else "nodejs"),
        )
        app.update(
            {
                "readonlyRootFilesystem": spec.read_only_root,
                "linuxParameters": {"initProcessEnabled": True},  # ECS Exec needs an init process to reap its sessions
                "mountPoints": [
                    {"sourceVolume": _volume(path), "containerPath": path, "readOnly": False} for path in ("/tmp", *EXEC_AGENT_DIRS)
                ],
                "stopTimeout": 30,
                "portMappings": [{"name": args.service, "containerPort": spec.port, "protocol": "tcp", "appProtocol": "http"}]
                if spec.port
                else [],
            }
        )
        return [app, agent, router]

    def _role(self, name: str, policy: pulumi.Input[str], role_name: str | None = None) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": self._args.account_id}},
                }
            ],
        }
        role = aws.iam.Role(f"{name}-role", name=role_name, assume_role_policy=json.dumps(trust), opts=child)
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=child)
        return role

    def _execution_policy(self, log_group: aws.cloudwatch.LogGroup, secrets: dict[str, str]) -> pulumi.Output[str]:
        args = self._args
        # Partial ARNs (from the catalog, and the Datadog key) match any version suffix; data-store secrets are exact.
        named = [*secrets.values(), args.telemetry.api_key_secret_arn]
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
        return pulumi.Output.all(args.repository_arn, log_group.arn, args.secrets_key_arn, *store_secrets).apply(document)

    def _task_policy(self) -> str:
        statements: list[dict] = [
            {
                "Sid": "EcsExecSessions",
                "Effect": "Allow",
                "Action": [
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                "Resource": "*",
            }
        ]
        if self._args.spec.scale_on == "queueLatency":
            statements.append(
                {
                    "Sid": "PublishQueueLatency",
                    "Effect": "Allow",
                    "Action": "cloudwatch:PutMetricData",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"cloudwatch:namespace": QUEUE_METRIC_NAMESPACE}},
                }
            )
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    def _requests_per_task(
        self, blue: aws.lb.TargetGroup, alb_arn_suffix: pulumi.Input[str]
    ) -> aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs:
        """Requests per running task and minute. Under blue/green, CodeDeploy moves traffic between the two
        target groups, so a policy that watched one of them (ALBRequestCountPerTarget) would see zero after
        every other deploy and scale the service in: the sum over both groups follows the traffic instead."""
        args = self._args
        if args.green_target_group is None:
            return aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=REQUESTS_PER_TARGET,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ALBRequestCountPerTarget",
                    resource_label=pulumi.Output.concat(alb_arn_suffix, "/", blue.arn_suffix),
                ),
                scale_in_cooldown=300,
                scale_out_cooldown=60,
            )
        spec = aws.appautoscaling

        def metric(id_: str, namespace: str, name: str, stat: str, dimensions: dict[str, pulumi.Input[str]]):
            return spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs(
                id=id_,
                return_data=False,
                metric_stat=spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatArgs(
                    stat=stat,
                    metric=spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricArgs(
                        namespace=namespace,
                        metric_name=name,
                        dimensions=[
                            spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs(
                                name=key, value=value
                            )
                            for key, value in dimensions.items()
                        ],
                    ),
                ),
            )

        return spec.PolicyTargetTrackingScalingPolicyConfigurationArgs(
            target_value=REQUESTS_PER_TARGET,
            customized_metric_specification=spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs(
                metrics=[
                    metric(
                        "blue",
                        "AWS/ApplicationELB",
                        "RequestCount",
                        "Sum",
                        {"LoadBalancer": alb_arn_suffix, "TargetGroup": blue.arn_suffix},
                    ),
                    metric(
                        "green",
                        "AWS/ApplicationELB",
                        "RequestCount",
                        "Sum",
                        {"LoadBalancer": alb_arn_suffix, "TargetGroup": args.green_target_group.arn_suffix},
                    ),
                    # Container Insights (on for the cluster) publishes the running task count per service.
                    metric(
                        "tasks",
                        "ECS/ContainerInsights",
                        "RunningTaskCount",
                        "Average",
                        {"ClusterName": args.cluster_name, "ServiceName": self.service.name},
                    ),
                    spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs(
                        id="perTask", expression="(FILL(blue, 0) + FILL(green, 0)) / tasks", label="requests per task", return_data=True
                    ),
                ]
            ),
            scale_in_cooldown=300,
            scale_out_cooldown=60,
        )

    def _autoscaling(self) -> None:
        args, size = self._args, self._args.size
        base = f"{args.env}-{args.service}"
        child = pulumi.ResourceOptions(parent=self)
        target = aws.appautoscaling.Target(
            f"{base}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", self.service.name),
            min_capacity=size.min_tasks,
            max_capacity=size.max_tasks,
            opts=child,
        )

        def tracking(metric: str, value: float, config: aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs) -> None:
            aws.appautoscaling.Policy(
                f"{base}-scale-on-{metric}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=config,
                opts=child,
            )

        tracking(
            "cpu",
            CPU_TARGET,
            aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=CPU_TARGET,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ECSServiceAverageCPUUtilization"
                ),
                scale_in_cooldown=300,
                scale_out_cooldown=60,
            ),
        )
        if args.spec.scale_on == "requests" and args.target_group is not None and args.alb_arn_suffix is not None:
            tracking("requests", REQUESTS_PER_TARGET, self._requests_per_task(args.target_group, args.alb_arn_suffix))
        elif args.spec.scale_on == "queueLatency":
            # The workers publish their oldest job's wait (Sidekiq::Queue#latency) once a minute.
            tracking(
                "queue-latency",
                QUEUE_LATENCY_TARGET,
                aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=QUEUE_LATENCY_TARGET,
                    customized_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs(
                        namespace=QUEUE_METRIC_NAMESPACE,
                        metric_name="QueueLatency",
                        dimensions=[
                            aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgs(
                                name="Environment", value=args.env
                            )
                        ],
                        statistic="Maximum",
                        unit="Seconds",
                    ),
                    scale_in_cooldown=300,
                    scale_out_cooldown=60,
                ),
            )
        if args.schedule is not None:
            for action, cron, low, high in (
                ("stop", args.schedule.stop, 0, 0),
                ("start", args.schedule.start, size.min_tasks, size.max_tasks),
            ):
                aws.appautoscaling.ScheduledAction(
                    f"{base}-{action}",
                    service_namespace=target.service_namespace,
                    scalable_dimension=target.scalable_dimension,
                    resource_id=target.resource_id,
                    schedule=cron,
                    timezone=args.schedule.timezone,
                    scalable_target_action=aws.appautoscaling.ScheduledActionScalableTargetActionArgs(min_capacity=low, max_capacity=high),
                    opts=child,
                )


def _volume(path: str) -> str:
    return path.strip("/").replace("/", "-")
