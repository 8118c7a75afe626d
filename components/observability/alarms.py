"""The one source of alarm definitions: CloudWatch rollback alarms and Datadog monitors, from settings thresholds.

Specs are plain values built by pure functions, so they are tested without a Pulumi runtime. Two builders
turn them into resources:
- `service_alarms()` creates the CloudWatch alarms CodeDeploy rolls a web service back on: target 5xx rate
  (metric math), unhealthy hosts and p99 TargetResponseTime, for BOTH target groups, because blue and green
  swap roles on every deploy. The blue/green component calls it and attaches what it returns; it defines
  no alarms of its own.
- the observability component creates a `datadog.Monitor` per `MonitorSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from settings.observability import DataThresholds, WebThresholds

ALB_NAMESPACE = "AWS/ApplicationELB"
TARGET_GROUP_ROLES = ("blue", "green")


@dataclass(frozen=True)
class MetricQuery:
    id: str
    metric_name: str | None = None  # a metric...
    stat: str | None = None
    expression: str | None = None  # ...or metric math over the other queries
    return_data: bool = False


@dataclass(frozen=True)
class AlarmSpec:
    """A CloudWatch alarm over one target group of one service."""

    name: str
    description: str
    comparison: str
    threshold: float
    queries: tuple[MetricQuery, ...]
    dimensions: Mapping[str, pulumi.Input[str]]
    period: int = 60
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 2
    namespace: str = ALB_NAMESPACE


@dataclass(frozen=True)
class MonitorSpec:
    """A Datadog monitor. `query` may embed Inputs (ECS names), so it is an Input itself."""

    key: str  # stable part of the logical name: <env>-<subject>-<key>
    subject: str  # the service or data store it watches
    title: str
    type: str
    query: pulumi.Input[str]
    critical: float
    tags: tuple[str, ...] = field(default_factory=tuple)


def service_alarm_specs(
    service: str,
    env: str,
    alb_arn_suffix: pulumi.Input[str],
    target_group_arn_suffixes: Mapping[str, pulumi.Input[str]],
    thresholds: WebThresholds,
) -> list[AlarmSpec]:
    """The rollback alarms of `service`: three per target group (roles 'blue' and 'green')."""
    if set(target_group_arn_suffixes) != set(TARGET_GROUP_ROLES):
        raise ValueError(
            f"{service}: rollback alarms need both target groups {TARGET_GROUP_ROLES}, got {sorted(target_group_arn_suffixes)}"
        )
    specs: list[AlarmSpec] = []
    for role in TARGET_GROUP_ROLES:
        dimensions = {"LoadBalancer": alb_arn_suffix, "TargetGroup": target_group_arn_suffixes[role]}
        prefix = f"{env}-{service}-{role}"
        specs += [
            AlarmSpec(
                name=f"{prefix}-5xx-rate",
                description=f"{service} ({role} target group): target 5xx responses above {thresholds.error_rate_percent:g}% of requests",
                comparison="GreaterThanThreshold",
                threshold=thresholds.error_rate_percent,
                queries=(
                    MetricQuery("errors", "HTTPCode_Target_5XX_Count", "Sum"),
                    MetricQuery("requests", "RequestCount", "Sum"),
                    # No 5xx datapoint means zero errors; no requests means nothing to judge.
                    MetricQuery("rate", expression="IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)", return_data=True),
                ),
                dimensions=dimensions,
            ),
            AlarmSpec(
                name=f"{prefix}-unhealthy-hosts",
                description=f"{service} ({role} target group): more than {thresholds.unhealthy_hosts} unhealthy targets",
                comparison="GreaterThanThreshold",
                threshold=thresholds.unhealthy_hosts,
                queries=(MetricQuery("unhealthy", "UnHealthyHostCount", "Maximum", return_data=True),),
                dimensions=dimensions,
            ),
            AlarmSpec(
                name=f"{prefix}-p99-latency",
                description=f"{service} ({role} target group): p99 response time above {thresholds.latency_p99_ms} ms",
                comparison="GreaterThanThreshold",
                threshold=thresholds.latency_p99_ms / 1000,  # TargetResponseTime is in seconds
                queries=(MetricQuery("p99", "TargetResponseTime", "p99", return_data=True),),
                dimensions=dimensions,
            ),
        ]
    return specs


def worker_alarm_specs(service: str, env: str, namespace: str, thresholds: DataThresholds) -> list[AlarmSpec]:
    """The alarm ECS rolls a worker deploy back on: jobs wait too long, as when the new tasks don't work them off.

    The workers publish their oldest job's wait per environment (the metric they also scale on). A bad
    image that crashes or stalls lets the queue age; the deployment's own alarm catches that within minutes.
    """
    seconds = thresholds.sidekiq_queue_latency_seconds
    return [
        AlarmSpec(
            name=f"{env}-{service}-queue-latency",
            description=f"{service}: the oldest job has waited more than {seconds:g} s",
            comparison="GreaterThanThreshold",
            threshold=seconds,
            queries=(MetricQuery("latency", "QueueLatency", "Maximum", return_data=True),),
            dimensions={"Environment": env},
            namespace=namespace,
        )
    ]


def service_alarms(specs: Sequence[AlarmSpec], opts: pulumi.ResourceOptions) -> list[aws.cloudwatch.MetricAlarm]:
    """The CloudWatch alarms for `specs` (pass `parent=` the blue/green component, or the environment, in `opts`)."""
    alarms = []
    for spec in specs:
        queries = [
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=q.id,
                expression=q.expression,
                return_data=q.return_data,
                metric=None
                if q.metric_name is None
                else aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace=spec.namespace,
                    metric_name=q.metric_name,
                    stat=q.stat or "Sum",
                    period=spec.period,
                    dimensions=spec.dimensions,
                ),
            )
            for q in spec.queries
        ]
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                spec.name,
                name=spec.name,
                alarm_description=spec.description,
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.datapoints_to_alarm,
                metric_queries=queries,
                # A quiet target group (the idle colour between deploys) is healthy, not alarming.
                treat_missing_data="notBreaching",
                opts=opts,
            )
        )
    return alarms


def _concat(*parts: pulumi.Input[str]) -> pulumi.Input[str]:
    """Plain text when every part is known text (so specs stay pure), an Output otherwise."""
    if all(isinstance(part, str) for part in parts):
        return "".join(str(part) for part in parts)
    return pulumi.Output.concat(*parts)


def _tags(env: str, service: str, *extra: str) -> tuple[str, ...]:
    return (f"env:{env}", f"service:{service}", "managed-by:pulumi", *extra)


def web_monitor_specs(
    service: str,
    env: str,
    apm_operation: str,
    cluster_name: pulumi.Input[str],
    ecs_service_name: pulumi.Input[str],
    min_tasks: int,
    thresholds: WebThresholds,
) -> list[MonitorSpec]:
    """Error rate and p95 latency (APM), running tasks below the minimum, CPU and memory (CloudWatch ECS)."""
    scope = f"env:{env},service:{service}"
    ecs = _concat("clustername:", cluster_name, ",servicename:", ecs_service_name)
    tags = _tags(env, service, "kind:web")
    return [
        MonitorSpec(
            "error-rate",
            service,
            f"{service} error rate above {thresholds.error_rate_percent:g}%",
            "query alert",
            f"sum(last_5m):100 * sum:trace.{apm_operation}.errors{{{scope}}}.as_count() / sum:trace.{apm_operation}.hits{{{scope}}}.as_count()"
            f" > {thresholds.error_rate_percent}",
            thresholds.error_rate_percent,
            tags,
        ),
        MonitorSpec(
            "p95-latency",
            service,
            f"{service} p95 latency above {thresholds.latency_p95_ms} ms",
            "query alert",
            f"percentile(last_10m):p95:trace.{apm_operation}{{{scope}}} > {thresholds.latency_p95_ms / 1000}",
            thresholds.latency_p95_ms / 1000,
            tags,
        ),
        MonitorSpec(
            "running-tasks",
            service,
            f"{service} running fewer than {min_tasks} tasks",
            "query alert",
            _concat("max(last_10m):min:aws.ecs.service.running{", ecs, "} < ", str(min_tasks)),
            min_tasks,
            tags,
        ),
        MonitorSpec(
            "cpu",
            service,
            f"{service} CPU above {thresholds.cpu_percent:g}%",
            "query alert",
            _concat("avg(last_15m):avg:aws.ecs.service.cpuutilization{", ecs, "} > ", str(thresholds.cpu_percent)),
            thresholds.cpu_percent,
            tags,
        ),
        MonitorSpec(
            "memory",
            service,
            f"{service} memory above {thresholds.memory_percent:g}%",
            "query alert",
            _concat("avg(last_15m):avg:aws.ecs.service.memory_utilization{", ecs, "} > ", str(thresholds.memory_percent)),
            thresholds.memory_percent,
            tags,
        ),
    ]


def worker_monitor_specs(service: str, env: str, thresholds: DataThresholds) -> list[MonitorSpec]:
    """Sidekiq: the age of the oldest job per queue (reported by the app through DogStatsD)."""
    seconds = thresholds.sidekiq_queue_latency_seconds
    return [
        MonitorSpec(
            "queue-latency",
            service,
            f"{service} queue latency above {seconds:g} s",
            "query alert",
            f"max(last_5m):max:sidekiq.queue.latency{{env:{env},service:{service}}} by {{queue}} > {seconds}",
            seconds,
            _tags(env, service, "kind:worker"),
        )
    ]


def aurora_monitor_specs(
    env: str, cluster: str, readers: Sequence[str], analytics_readers: Sequence[str], thresholds: DataThresholds
) -> list[MonitorSpec]:
    """CPU, connections and freeable memory per instance; replica lag per reader (the analytics reader looser)."""
    tags = _tags(env, cluster, "kind:aurora")
    per_instance = f"dbclusteridentifier:{cluster}"
    specs = [
        MonitorSpec(
            "cpu",
            cluster,
            f"{cluster} CPU above {thresholds.aurora_cpu_percent:g}%",
            "query alert",
            f"avg(last_15m):avg:aws.rds.cpuutilization{{{per_instance}}} by {{dbinstanceidentifier}} > {thresholds.aurora_cpu_percent}",
            thresholds.aurora_cpu_percent,
            tags,
        ),
        MonitorSpec(
            "connections",
            cluster,
            f"{cluster} connections above {thresholds.aurora_connections}",
            "query alert",
            f"avg(last_10m):avg:aws.rds.database_connections{{{per_instance}}} by {{dbinstanceidentifier}} > {thresholds.aurora_connections}",
            thresholds.aurora_connections,
            tags,
        ),
        MonitorSpec(
            "freeable-memory",
            cluster,
            f"{cluster} freeable memory below {thresholds.aurora_freeable_memory_mib} MiB",
            "query alert",
            f"avg(last_15m):avg:aws.rds.freeable_memory{{{per_instance}}} by {{dbinstanceidentifier}}"
            f" < {thresholds.aurora_freeable_memory_mib * 1024 * 1024}",
            thresholds.aurora_freeable_memory_mib * 1024 * 1024,
            tags,
        ),
    ]
    # AuroraReplicaLag is reported in milliseconds.
    for reader in readers:
        lag = thresholds.aurora_replica_lag_seconds
        specs.append(_lag(env, cluster, reader, lag, tags))
    for reader in analytics_readers:
        specs.append(_lag(env, cluster, reader, thresholds.analytics_replica_lag_seconds, (*tags, "role:analytics")))
    return specs


def _lag(env: str, cluster: str, reader: str, seconds: float, tags: tuple[str, ...]) -> MonitorSpec:
    return MonitorSpec(
        f"{reader}-replica-lag",
        cluster,
        f"{reader} replica lag above {seconds:g} s",
        "query alert",
        f"max(last_10m):max:aws.rds.aurora_replica_lag{{dbinstanceidentifier:{reader}}} > {seconds * 1000}",
        seconds * 1000,
        tags,
    )


def redis_monitor_specs(env: str, replication_group: str, thresholds: DataThresholds) -> list[MonitorSpec]:
    """Memory use and evictions over the group's nodes (their cluster ids are `<group>-NNN`)."""
    scope = f"cacheclusterid:{replication_group}-*"
    tags = _tags(env, replication_group, "kind:redis")
    return [
        MonitorSpec(
            "memory",
            replication_group,
            f"{replication_group} memory above {thresholds.redis_memory_percent:g}%",
            "query alert",
            f"avg(last_10m):max:aws.elasticache.database_memory_usage_percentage{{{scope}}} by {{cacheclusterid}}"
            f" > {thresholds.redis_memory_percent}",
            thresholds.redis_memory_percent,
            tags,
        ),
        MonitorSpec(
            "evictions",
            replication_group,
            f"{replication_group} evicting keys",
            "query alert",
            f"sum(last_5m):sum:aws.elasticache.evictions{{{scope}}}.as_count() > {thresholds.redis_evictions}",
            thresholds.redis_evictions,
            tags,
        ),
    ]


def platform_monitor_specs(env: str) -> list[MonitorSpec]:
    """Account-wide: failed CodeDeploy deployments and high-severity GuardDuty findings (severity >= 7)."""
    return [
        MonitorSpec(
            "deployment-failed",
            "codedeploy",
            "CodeDeploy deployment failed or rolled back",
            "event-v2 alert",
            f'events("source:amazon_codedeploy env:{env} status:error").rollup("count").last("15m") > 0',
            0,
            (f"env:{env}", "managed-by:pulumi", "kind:deploy"),
        ),
        MonitorSpec(
            "guardduty-high",
            "guardduty",
            "GuardDuty high-severity finding",
            "log alert",
            f'logs("source:guardduty env:{env} @detail.severity:>=7").index("*").rollup("count").last("5m") > 0',
            0,
            (f"env:{env}", "managed-by:pulumi", "kind:security"),
        ),
    ]
