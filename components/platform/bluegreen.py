"""Blue/green deploys of one web service through CodeDeploy: rollback alarms and the deployment group.

CodeDeploy starts the new task set (green) behind the idle target group, sends the VPC-only test
listener's traffic to it, then moves production traffic by the stack's deployment config (all at once in
dev, a 10% canary in prod). It rolls back by itself when the deployment fails or when one of the rollback
alarms fires: target 5xx rate, unhealthy hosts and p99 latency, for BOTH target groups, because blue and
green swap roles on every deploy. The alarms come from `components.observability.alarms` (the one place they are
defined). After a successful switch the old tasks stay up for the termination wait, so a rollback in that
window is a listener flip.

The target group pair, the production listener and the test listener here are exactly the ones the
service and its route use: the deployment group is built from the `WebRoute` and `ContainerService`
objects, never from names typed twice.

`deploy_application()` builds what an environment's services share: one CodeDeploy ECS application and
the service role CodeDeploy assumes (AWS's managed AWSCodeDeployRoleForECS policy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.observability.alarms import service_alarm_specs, service_alarms
from components.platform.service.container_service import ContainerService
from components.platform.web_route import WebRoute
from settings.deploy import DeploySettings
from settings.observability import WebThresholds

CODEDEPLOY_ECS_POLICY = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]


def deploy_application(env: str, account_id: str, parent: pulumi.Resource) -> tuple[aws.codedeploy.Application, aws.iam.Role]:
    """The CodeDeploy ECS application of `env` and the role its deployment groups run as."""
    child = pulumi.ResourceOptions(parent=parent)
    application = aws.codedeploy.Application(f"{env}-deploy", name=f"kanna-{env}", compute_platform="ECS", opts=child)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codedeploy.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }
    role = aws.iam.Role(f"{env}-codedeploy-role", assume_role_policy=json.dumps(trust), opts=child)
    aws.iam.RolePolicyAttachment(f"{env}-codedeploy-ecs", role=role.name, policy_arn=CODEDEPLOY_ECS_POLICY, opts=child)
    return application, role


@dataclass(frozen=True, kw_only=True)
class BlueGreenArgs:
    env: str
    service: str
    route: WebRoute  # the blue and green target groups, the production and test rules
    container_service: ContainerService  # a CODE_DEPLOY service whose load balancer is the route's blue group
    application: aws.codedeploy.Application
    role: aws.iam.Role
    cluster_name: pulumi.Input[str]
    listener_arn: pulumi.Input[str]  # production (HTTPS 443)
    test_listener_arn: pulumi.Input[str]  # test (VPC only)
    alb_arn_suffix: pulumi.Input[str]
    settings: DeploySettings
    thresholds: WebThresholds


class BlueGreen(pulumi.ComponentResource):
    deployment_group: aws.codedeploy.DeploymentGroup
    alarms: list[aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: BlueGreenArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:deploy:BlueGreen", name, None, opts)
        base = f"{args.env}-{args.service}"
        route = args.route
        if route.green_target_group is None:
            raise ValueError(f"{base}: blue/green needs the route's green target group (WebRouteArgs.test_listener_arn)")
        groups = {"blue": route.target_group, "green": route.green_target_group}
        specs = service_alarm_specs(
            args.service, args.env, args.alb_arn_suffix, {role: group.arn_suffix for role, group in groups.items()}, args.thresholds
        )
        self.alarms = service_alarms(specs, pulumi.ResourceOptions(parent=self))
        pair = aws.codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoArgs(
            prod_traffic_route=aws.codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoProdTrafficRouteArgs(
                listener_arns=[args.listener_arn]
            ),
            test_traffic_route=aws.codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTestTrafficRouteArgs(
                listener_arns=[args.test_listener_arn]
            ),
            target_groups=[
                aws.codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTargetGroupArgs(name=group.name)
                for group in groups.values()
            ],
        )
        self.deployment_group = aws.codedeploy.DeploymentGroup(
            f"{base}-deployment-group",
            app_name=args.application.name,
            deployment_group_name=base,
            service_role_arn=args.role.arn,
            deployment_config_name=args.settings.traffic_config,
            deployment_style=aws.codedeploy.DeploymentGroupDeploymentStyleArgs(
                deployment_type="BLUE_GREEN", deployment_option="WITH_TRAFFIC_CONTROL"
            ),
            blue_green_deployment_config=aws.codedeploy.DeploymentGroupBlueGreenDeploymentConfigArgs(
                # No manual gate: the test listener and the alarms decide, and CI waits for the outcome.
                deployment_ready_option=aws.codedeploy.DeploymentGroupBlueGreenDeploymentConfigDeploymentReadyOptionArgs(
                    action_on_timeout="CONTINUE_DEPLOYMENT"
                ),
                terminate_blue_instances_on_deployment_success=aws.codedeploy.DeploymentGroupBlueGreenDeploymentConfigTerminateBlueInstancesOnDeploymentSuccessArgs(
                    action="TERMINATE", termination_wait_time_in_minutes=args.settings.termination_wait_minutes
                ),
            ),
            ecs_service=aws.codedeploy.DeploymentGroupEcsServiceArgs(
                cluster_name=args.cluster_name, service_name=args.container_service.service.name
            ),
            load_balancer_info=aws.codedeploy.DeploymentGroupLoadBalancerInfoArgs(target_group_pair_info=pair),
            auto_rollback_configuration=aws.codedeploy.DeploymentGroupAutoRollbackConfigurationArgs(enabled=True, events=ROLLBACK_EVENTS),
            alarm_configuration=aws.codedeploy.DeploymentGroupAlarmConfigurationArgs(
                enabled=True, alarms=[alarm.name for alarm in self.alarms]
            ),
            # The listener rules and the service must exist before CodeDeploy can validate the group.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[r for r in (route.rule, route.test_rule) if r is not None]),
        )
        self.register_outputs({"deploymentGroupName": self.deployment_group.deployment_group_name})


TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"  # amazon-ecs-deploy-task-definition puts the new revision's ARN here


def task_template(container_service: ContainerService) -> pulumi.Output[dict]:
    """Pulumi's own task definition of a service (family, sizes, roles, volumes, containers with their
    sidecars) as the JSON `register-task-definition` takes: CI changes the image and nothing else (it is set by
    amazon-ecs-render-task-definition), so a deploy never disagrees with Pulumi."""
    task = container_service.task_definition

    def template(values: list) -> dict:
        family, cpu, memory, network_mode, compatibilities, platform, execution_role, task_role, volumes, containers = values
        return {
            "family": family,
            "cpu": cpu,
            "memory": memory,
            "networkMode": network_mode,
            "requiresCompatibilities": compatibilities,
            "runtimePlatform": {
                "cpuArchitecture": _field(platform, "cpu_architecture"),
                "operatingSystemFamily": _field(platform, "operating_system_family"),
            },
            "executionRoleArn": execution_role,
            "taskRoleArn": task_role,
            "volumes": [{"name": _field(volume, "name")} for volume in volumes or []],
            "containerDefinitions": json.loads(containers),
        }

    return pulumi.Output.all(
        task.family,
        task.cpu,
        task.memory,
        task.network_mode,
        task.requires_compatibilities,
        task.runtime_platform,
        task.execution_role_arn,
        task.task_role_arn,
        task.volumes,
        task.container_definitions,
    ).apply(template)


def deploy_inputs(
    container_service: ContainerService, blue_green: BlueGreen, cluster_name: pulumi.Input[str], container: str, port: int
) -> pulumi.Output[dict]:
    """What CI needs to ship an image to one web service (a stack output; deploy/render.py writes the files).

    The task definition template is `task_template`. The AppSpec names the container and port the target
    groups reach, and the service's capacity provider strategy, which a replacement task set does not inherit.
    """
    service = container_service.service

    def appspec(strategies: Any) -> dict:
        return {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": TASK_DEFINITION_PLACEHOLDER,
                            "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port},
                            "CapacityProviderStrategy": [
                                {
                                    "CapacityProvider": _field(s, "capacity_provider"),
                                    "Base": int(float(str(_field(s, "base") or 0))),
                                    "Weight": int(float(str(_field(s, "weight") or 0))),
                                }
                                for s in strategies or []
                            ],
                        },
                    }
                }
            ],
        }

    return pulumi.Output.all(
        strategy="blueGreen",
        cluster=cluster_name,
        service=service.name,
        application=blue_green.deployment_group.app_name,
        deploymentGroup=blue_green.deployment_group.deployment_group_name,
        containerName=container,
        containerPort=port,
        # The strategy from the settings, not the service's state: Pulumi ignores it on a CODE_DEPLOY service, so
        # the deploy that CodeDeploy runs is what applies a change (components/platform/service/container_service.py).
        appspec=appspec(container_service.capacity_provider_strategies),
        taskDefinition=task_template(container_service),
    ).apply(dict)


def rolling_deploy_inputs(container_service: ContainerService, cluster_name: pulumi.Input[str], container: str) -> pulumi.Output[dict]:
    """What CI needs to ship an image to a rolling service (the workers): ECS rolls the new revision out and
    rolls it back on the circuit breaker or the service's rollback alarms."""
    return pulumi.Output.all(
        strategy="rolling",
        cluster=cluster_name,
        service=container_service.service.name,
        containerName=container,
        taskDefinition=task_template(container_service),
    ).apply(dict)


def _field(value: object, name: str) -> object:
    """A field of a nested output: a typed object at deploy time, a plain dict (camelCase) under the mocks."""
    if type(value) is dict:  # output types subclass dict, with snake_case getters
        camel = name.split("_")[0] + "".join(part.title() for part in name.split("_")[1:])
        return value.get(camel, value.get(name))
    return getattr(value, name, None)
