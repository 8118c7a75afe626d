"""One service of one environment on the shared cluster: its security group and ECS service, built here, and
the parts the modules beside this one build as its children: roles (roles.py), the task (task.py, with telemetry.py's
sidecars) and placement and scaling (scaling.py).

- Calls between services go through the internal ALB at the callee's internal host (`<CALLEE>_URL`, given by the
  environment), so they follow the callee's blue/green traffic shift; the ALB never faces the internet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.lib.contracts import Connection, Telemetry
from components.platform.service import roles, scaling, task
from settings.platform import Schedule
from settings.services import ServiceSettings, Size


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where an environment's tasks run: the same for each of its services."""

    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: list[pulumi.Output[str]]
    spot_only: bool  # verification environments: Fargate Spot alone


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """What every task of the stack shares: its account and region, keys, log retention, telemetry and exec logging."""

    account_id: str
    region: str
    protect: bool
    logs_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    log_retention_days: int
    telemetry: Telemetry
    exec_policy_arn: pulumi.Input[str]  # lets the ECS Exec agent write session logs where the cluster says


@dataclass(frozen=True, kw_only=True)
class Routing:
    """How requests reach a web service; a worker's is empty."""

    target_group: aws.lb.TargetGroup | None = None  # where the ALB sends requests
    green_target_group: aws.lb.TargetGroup | None = None  # blue/green: the other half of the pair CodeDeploy swaps
    alb_arn_suffix: pulumi.Input[str] | None = None
    ingress_from: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # who may connect (the ALB, callers) -> group id
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # e.g. the listener rule of the target group


@dataclass(frozen=True, kw_only=True)
class Rollout:
    """How new versions ship and when the service runs."""

    blue_green: bool = False  # CODE_DEPLOY controller: CodeDeploy (components/platform/bluegreen.py) ships new task definitions
    rollback_alarm_names: list[pulumi.Input[str]] = field(default_factory=list)  # rolling: ECS rolls back when one fires
    parked: bool = False  # its repository awaits its first image (deploy.awaitingImages): 0 tasks, and autoscaling keeps it there
    schedule: Schedule | None = None  # out-of-hours stop and start


@dataclass(frozen=True, kw_only=True)
class ContainerServiceArgs:
    env: str
    service: str
    spec: ServiceSettings
    size: Size
    repository: aws.ecr.Repository  # the service's image repository
    placement: Placement
    runtime: Runtime
    connections: list[Connection] = field(default_factory=list)  # the data stores the service uses
    callees: dict[str, str] = field(default_factory=dict)  # service -> its URL at its internal host (through the ALB)
    routing: Routing = field(default_factory=Routing)
    rollout: Rollout = field(default_factory=Rollout)


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

        log_group = task.log_group(self, args)
        secrets = spec.secret_arns(args.runtime.account_id, args.runtime.region, args.env)
        self.execution_role = roles.execution_role(self, args, log_group, secrets)
        self.task_role = roles.task_role(self, args)

        # Rules are inline, so a task group is whole in one resource: other groups (a database's, say)
        # reference this one in their own rules instead of adding rules to it.
        port = spec.port or 0
        self.security_group = aws.ec2.SecurityGroup(
            f"{base}-sg",
            vpc_id=args.placement.vpc_id,
            description=f"{base} tasks: from the ALB only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=port, to_port=port, security_groups=[group], description=f"From {source}"
                )
                for source, group in sorted(args.routing.ingress_from.items())
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
                    cidr_blocks=[args.placement.vpc_cidr],
                    description="Services and data stores in the VPC",
                ),
            ],
            tags={"Name": base},
            opts=child,
        )

        self.task_definition = task.task_definition(self, args, self.execution_role, self.task_role, log_group.name, secrets)

        # Blue/green: CodeDeploy applies the strategy through the AppSpec (components/platform/bluegreen.py), from this value.
        self.capacity_provider_strategies = strategies = scaling.capacity(args)
        # No Cloud Map registry: callers go through the ALB (see the module docstring). Nor Service Connect: ECS does
        # not support it on services with the CODE_DEPLOY controller (aws/containers-roadmap#1993).
        self.service = aws.ecs.Service(
            f"{base}-service",
            name=base,
            cluster=args.placement.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=0 if args.rollout.parked else size.min_tasks,
            capacity_provider_strategies=strategies,
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.placement.subnet_ids, security_groups=[self.security_group.id], assign_public_ip=False
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.routing.target_group.arn, container_name=args.service, container_port=spec.port
                )
            ]
            if args.routing.target_group is not None and spec.port
            else None,
            health_check_grace_period_seconds=120 if args.routing.target_group is not None else None,
            enable_execute_command=spec.ecs_exec,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            # The catalog name and kind: Datadog monitors and SLOs are related to the service by these.
            tags={"kanna:service": args.service, "kanna:kind": args.spec.kind, "kanna:environment": args.env},
            **self._deployment(),
        )
        scaling.autoscaling(self, args, self.service)
        self.register_outputs({"serviceArn": self.service.id, "securityGroupId": self.security_group.id})

    def _deployment(self) -> dict:
        """The ECS service's deployment settings: CodeDeploy blue/green, or rolling with the circuit breaker."""
        args = self._args
        # Autoscaling (and the out-of-hours schedule) owns the task count after creation. CI owns the task
        # definition after creation: it registers revisions from Pulumi's (deploy/render.py) with a new image, by
        # CodeDeploy or, rolling, by updating the service; re-applying Pulumi's would roll back to the first image.
        ignored = ["desiredCount", "taskDefinition"]
        if args.rollout.blue_green:
            # CodeDeploy owns these after the first deploy: each deploy registers a new task definition revision
            # and swaps the load balancer to the other target group. Re-applying Pulumi's would revert traffic to
            # the idle group, and ECS refuses a task definition update on a CODE_DEPLOY service. Pulumi creates
            # the first task definition; later ones ship through CodeDeploy (deploy/render.py, CI).
            # The capacity provider strategy too: ECS applies a change to it only with a new deployment, which a
            # CODE_DEPLOY service refuses from UpdateService. CodeDeploy applies it instead: the AppSpec carries it
            # (deploy_inputs in components/platform/bluegreen.py), so the next deploy moves the tasks.
            ignored += ["loadBalancers", "capacityProviderStrategies"]
            return {
                "deployment_controller": aws.ecs.ServiceDeploymentControllerArgs(type="CODE_DEPLOY"),
                "opts": pulumi.ResourceOptions(parent=self, depends_on=args.routing.depends_on, ignore_changes=ignored),
            }
        return {
            "deployment_controller": aws.ecs.ServiceDeploymentControllerArgs(type="ECS"),
            "deployment_circuit_breaker": aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            # A deploy whose new tasks start but don't work (a growing queue) is rolled back on the alarm.
            "alarms": aws.ecs.ServiceAlarmsArgs(enable=True, rollback=True, alarm_names=args.rollout.rollback_alarm_names)
            if args.rollout.rollback_alarm_names
            else None,
            "opts": pulumi.ResourceOptions(parent=self, depends_on=args.routing.depends_on, ignore_changes=ignored),
        }
