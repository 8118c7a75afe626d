"""One service of one environment on the shared cluster: roles, task definition, security group, ECS service, scaling.

- Separate roles: the execution role lets ECS pull this service's image, write its log group and read
  its own secrets; the task role lets the application do only what it needs (ECS Exec sessions where exec is
  on, and for workers their queue metric). Neither is shared with another service.
- ARM64 (Graviton) task definitions: about 20% cheaper than X86_64 for the same size.
- The root filesystem is read-only where the runtime allows: /tmp is a task volume. ECS Exec (on unless the
  catalog turns it off for a service, `ecsExec`) is unsupported by AWS on a read-only root; we follow the
  workaround AWS's own ECS Exec checker documents (task volumes on the two directories its agent writes to),
  see EXEC_AGENT_DIRS.
- Placement by capacity provider strategy only: Spot alone in verification environments; in prod an
  on-demand base keeps web services up through a Spot reclaim wave, and Spot carries the rest.
- Every task carries the Datadog agent and a FireLens log router (components/telemetry.py), with unified
  service tags, and gets its data stores' endpoints as settings and their credentials as ECS secrets.
- Calls between services go through the internal ALB at the callee's internal host (`<CALLEE>_URL`, given by the
  environment), so they follow the callee's blue/green traffic shift; the ALB never faces the internet.
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
# AWS: "making the root file system read-only by using the readonlyRootFilesystem task definition parameter ... isn't
# supported" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html, considerations). The workaround,
# writable volumes on exactly these paths, is the one AWS's ECS Exec checker points to
# (aws-containers/amazon-ecs-exec-checker#21, example template gist.github.com/toricls/3af6bd8673d7b0ebbc1860fe8e862e50;
# also aws/containers-roadmap#1359). It is unsupported: a service can turn ECS Exec off (catalog `ecsExec: false`).
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
    log_retention_days: int
    logs_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    protect: bool
    telemetry: Telemetry
    exec_policy_arn: pulumi.Input[str]  # lets the ECS Exec agent write session logs where the cluster says
    connections: list[Connection] = field(default_factory=list)  # the data stores the service uses
    vpc_cidr: str = "10.0.0.0/16"
    callees: dict[str, str] = field(default_factory=dict)  # service -> its URL at its internal host (through the ALB)
    ingress_from: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # who may connect (the ALB, callers) -> group id
    target_group: aws.lb.TargetGroup | None = None  # web services: where the ALB sends requests
    green_target_group: aws.lb.TargetGroup | None = None  # blue/green: the other half of the pair CodeDeploy swaps
    alb_arn_suffix: pulumi.Input[str] | None = None
    schedule: Schedule | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # e.g. the listener rule of the target group
    blue_green: bool = False  # CODE_DEPLOY controller: CodeDeploy (components/bluegreen.py) ships new task definitions
    rollback_alarm_names: list[pulumi.Input[str]] = field(default_factory=list)  # rolling: ECS rolls back when one fires
    parked: bool = False  # its repository awaits its first image (deploy.awaitingImages): 0 tasks, and autoscaling keeps it there


class ContainerService(pulumi.ComponentResource):
    service: aws.ecs.Service
    task_definition: aws.ecs.TaskDefinition
    security_group: aws.ec2.SecurityGroup
    execution_role: aws.iam.Role
    task_role: aws.iam.Role
    capacity_provider_strategies: list[aws.ecs.ServiceCapacityProviderStrategyArgs]  # as the settings say

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
        if spec.ecs_exec:
            aws.iam.RolePolicyAttachment(f"{base}-task-exec-logging", role=self.task_role.name, policy_arn=args.exec_policy_arn, opts=child)

        # Rules are inline, so a task group is whole in one resource: other groups (a database's, say)
        # reference this one in their own rules instead of adding rules to it.
        port = spec.port or 0
        self.security_group = aws.ec2.SecurityGroup(
            f"{base}-sg",
            vpc_id=args.vpc_id,
            description=f"{base} tasks: from the ALB only",
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
                # Data stores (and the test listener); their own groups decide who may connect.
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
            volumes=[
                aws.ecs.TaskDefinitionVolumeArgs(name=name) for name in [*map(_volume, self._writable_dirs()), *telemetry.AGENT_VOLUMES]
            ],
            container_definitions=pulumi.Output.json_dumps(self._containers(log_group.name, secrets)),
            opts=child,
        )

        # Blue/green: CodeDeploy applies the strategy through the AppSpec (components/bluegreen.py), from this value.
        self.capacity_provider_strategies = strategies = self._capacity()
        # No Cloud Map registry: callers go through the ALB (see the module docstring). Nor Service Connect: ECS does
        # not support it on services with the CODE_DEPLOY controller (aws/containers-roadmap#1993).
        self.service = aws.ecs.Service(
            f"{base}-service",
            name=base,
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=0 if args.parked else size.min_tasks,
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
            enable_execute_command=spec.ecs_exec,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            # The catalog name and kind: Datadog monitors and SLOs are related to the service by these.
            tags={"kanna:service": args.service, "kanna:kind": args.spec.kind, "kanna:environment": args.env},
            **self._deployment(),
        )
        self._autoscaling()
        self.register_outputs({"serviceArn": self.service.id, "securityGroupId": self.security_group.id})

    def _deployment(self) -> dict:
        """The ECS service's deployment settings: CodeDeploy blue/green, or rolling with the circuit breaker."""
        args = self._args
        # Autoscaling (and the out-of-hours schedule) owns the task count after creation. CI owns the task
        # definition after creation: it registers revisions from Pulumi's (deploy/render.py) with a new image, by
        # CodeDeploy or, rolling, by updating the service; re-applying Pulumi's would roll back to the first image.
        ignored = ["desiredCount", "taskDefinition"]
        if args.blue_green:
            # CodeDeploy owns these after the first deploy: each deploy registers a new task definition revision
            # and swaps the load balancer to the other target group. Re-applying Pulumi's would revert traffic to
            # the idle group, and ECS refuses a task definition update on a CODE_DEPLOY service. Pulumi creates
            # the first task definition; later ones ship through CodeDeploy (deploy/render.py, CI).
            # The capacity provider strategy too: ECS applies a change to it only with a new deployment, which a
            # CODE_DEPLOY service refuses from UpdateService. CodeDeploy applies it instead: the AppSpec carries it
            # (deploy_inputs in components/bluegreen.py), so the next deploy moves the tasks.
            ignored += ["loadBalancers", "capacityProviderStrategies"]
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
            # The callee's internal host: its rule on the ALB, whose target groups CodeDeploy shifts.
            **{callee_variable(callee): url for callee, url in sorted(args.callees.items())},
        }
        injected: dict[str, pulumi.Input[str]] = dict(secrets)
        for connection in args.connections:
            environment.update(connection.environment)
            injected.update(connection.secrets)
        app, *sidecars = telemetry.container_definitions(
            service=args.service,
            env=args.telemetry.env,
            version=args.telemetry.version,
            container_name=args.service,
            # The repository's bootstrap image (components/cluster.py); CI deploys the commits' digests after it.
            image=pulumi.Output.concat(args.repository_url, ":", args.telemetry.version),
            port=spec.port,
            log_group=log_group,
            region=args.region,
            api_key_secret_arn=args.telemetry.api_key_secret_arn,
            datadog_site=args.telemetry.datadog_site,
            environment=dict(sorted(environment.items())),
            secrets=dict(sorted(injected.items())),
            log_source=spec.instrumentation.log_source,
        )
        app.update(
            {
                "readonlyRootFilesystem": spec.read_only_root,
                # An init process reaps orphans (ECS Exec's sessions among them).
                "linuxParameters": {"initProcessEnabled": True},
                "mountPoints": [
                    {"sourceVolume": _volume(path), "containerPath": path, "readOnly": False} for path in self._writable_dirs()
                ],
                "stopTimeout": 30,
                "portMappings": [{"name": args.service, "containerPort": spec.port, "protocol": "tcp", "appProtocol": "http"}]
                if spec.port
                else [],
            }
        )
        return [app, *sidecars]

    def _writable_dirs(self) -> tuple[str, ...]:
        return ("/tmp", *EXEC_AGENT_DIRS) if self._args.spec.ecs_exec else ("/tmp",)

    def _role(self, name: str, policy: pulumi.Input[str] | None, role_name: str | None = None) -> aws.iam.Role:
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
        if policy is not None:  # IAM refuses a policy without statements
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
                    # GuardDuty Runtime Monitoring (agent managed on Fargate, components/security.py) adds its agent as a
                    # sidecar of every task; ECS pulls it with this role from GuardDuty's repository in the region.
                    "Sid": "PullGuardDutyAgent",
                    "Effect": "Allow",
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    "Resource": telemetry.guardduty_agent_repository_arn(args.region),
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

    def _task_policy(self) -> str | None:
        # ECS Exec's session channels come with the exec-logging policy, attached only where exec is on.
        statements: list[dict] = []
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
        return json.dumps({"Version": "2012-10-17", "Statement": statements}) if statements else None

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
            min_capacity=0 if args.parked else size.min_tasks,
            max_capacity=0 if args.parked else size.max_tasks,
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
        if args.schedule is not None and not args.parked:  # the morning start would lift a parked service
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


def callee_variable(callee: str) -> str:
    """The environment variable that holds a callee's URL in its callers' tasks: core-api -> CORE_API_URL."""
    return f"{callee.upper().replace('-', '_')}_URL"


def _volume(path: str) -> str:
    return path.strip("/").replace("/", "-")
