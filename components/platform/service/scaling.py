"""How a ContainerService is placed and scaled: its capacity provider strategy, autoscaling and schedule."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from components.platform.service.container_service import ContainerServiceArgs

CPU_TARGET = 60.0
REQUESTS_PER_TARGET = 500.0  # per task per minute; sized on core-api's load test
QUEUE_LATENCY_TARGET = 30.0  # seconds a job may wait before another sidekiq task starts
QUEUE_METRIC_NAMESPACE = "Kanna/Sidekiq"


def capacity(args: ContainerServiceArgs) -> list[aws.ecs.ServiceCapacityProviderStrategyArgs]:
    """Placement by capacity provider strategy only: Spot alone in verification environments; in prod an
    on-demand base keeps web services up through a Spot reclaim wave, and Spot carries the rest."""
    size = args.size
    spot = aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE_SPOT", weight=size.spot_weight, base=0)
    if args.placement.spot_only or (size.on_demand_base == 0 and size.on_demand_weight == 0):
        return [spot]
    on_demand = aws.ecs.ServiceCapacityProviderStrategyArgs(
        capacity_provider="FARGATE", weight=size.on_demand_weight, base=size.on_demand_base
    )
    return [on_demand, spot]


def _requests_per_task(
    args: ContainerServiceArgs, service: aws.ecs.Service, blue: aws.lb.TargetGroup, alb_arn_suffix: pulumi.Input[str]
) -> aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs:
    """Requests per running task and minute. Under blue/green, CodeDeploy moves traffic between the two
    target groups, so a policy that watched one of them (ALBRequestCountPerTarget) would see zero after
    every other deploy and scale the service in: the sum over both groups follows the traffic instead."""
    if args.routing.green_target_group is None:
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
                    {"LoadBalancer": alb_arn_suffix, "TargetGroup": args.routing.green_target_group.arn_suffix},
                ),
                # Container Insights (on for the cluster) publishes the running task count per service.
                metric(
                    "tasks",
                    "ECS/ContainerInsights",
                    "RunningTaskCount",
                    "Average",
                    {"ClusterName": args.placement.cluster_name, "ServiceName": service.name},
                ),
                spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs(
                    id="perTask", expression="(FILL(blue, 0) + FILL(green, 0)) / tasks", label="requests per task", return_data=True
                ),
            ]
        ),
        scale_in_cooldown=300,
        scale_out_cooldown=60,
    )


def autoscaling(parent: pulumi.Resource, args: ContainerServiceArgs, service: aws.ecs.Service) -> None:
    """Target tracking on CPU, and on requests (web) or queue latency (workers); the out-of-hours schedule."""
    size = args.size
    base = f"{args.env}-{args.service}"
    child = pulumi.ResourceOptions(parent=parent)
    target = aws.appautoscaling.Target(
        f"{base}-scaling",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat("service/", args.placement.cluster_name, "/", service.name),
        min_capacity=0 if args.rollout.parked else size.min_tasks,
        max_capacity=0 if args.rollout.parked else size.max_tasks,
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
    if args.spec.scale_on == "requests" and args.routing.target_group is not None and args.routing.alb_arn_suffix is not None:
        tracking("requests", REQUESTS_PER_TARGET, _requests_per_task(args, service, args.routing.target_group, args.routing.alb_arn_suffix))
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
    if args.rollout.schedule is not None and not args.rollout.parked:  # the morning start would lift a parked service
        for action, cron, low, high in (
            ("stop", args.rollout.schedule.stop, 0, 0),
            ("start", args.rollout.schedule.start, size.min_tasks, size.max_tasks),
        ):
            aws.appautoscaling.ScheduledAction(
                f"{base}-{action}",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                schedule=cron,
                timezone=args.rollout.schedule.timezone,
                scalable_target_action=aws.appautoscaling.ScheduledActionScalableTargetActionArgs(min_capacity=low, max_capacity=high),
                opts=child,
            )
