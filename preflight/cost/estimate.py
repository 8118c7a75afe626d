"""The monthly estimate of a stack, computed from its registrations and the usage assumptions.

It reads what the engine receives (a task definition's cpu and memory, a service's capacity provider
strategy and its autoscaling floor, instance classes, node types, counts) and relates resources through
property dependencies, which a first preview knows as well as an update does. The policy pack calls the
same function on the resources of AnalyzeStack, so the preflight's figure and the budget's are one figure.

Every resource type is in exactly one of three places: `PRICERS` here (it costs money and is priced),
`FREE` in free.py (it costs nothing, with the reason) or `NOT_PRICED` there (it may cost money, and no price or
usage assumption for it yet). A type in none of them is reported as not priced, never costed at 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy.proxy import _is_unknown

from settings.cost import HOURS_PER_MONTH, CostSettings

from .free import FREE, NOT_PRICED
from .prices import LOG_EVENTS_PER_GB, PRICES, rate

DAYS_PER_MONTH = HOURS_PER_MONTH / 24
ENVIRONMENT = "kanna:platform:Environment"
SHARED = "(shared)"


@dataclass(frozen=True)
class Resource:
    """What the estimate reads of a resource: its identity, parent, inputs and property dependencies."""

    urn: str
    type: str
    name: str
    parent: str
    inputs: Mapping[str, Any]
    deps: Mapping[str, list[str]] = field(default_factory=dict)
    custom: bool = True

    @classmethod
    def of(cls, registration: Any) -> Resource:
        """From a preflight `Registration`."""
        return cls(
            registration.urn,
            registration.type,
            registration.name,
            registration.parent,
            registration.inputs,
            registration.property_dependencies,
            registration.custom,
        )


@dataclass(frozen=True)
class Line:
    """One priced quantity of one resource: `quantity` `unit`s at `unit_usd` each, per month."""

    urn: str
    type: str
    name: str
    component: str
    environment: str
    service: str
    item: str
    quantity: float
    unit: str
    unit_usd: float
    price: str  # the key in PRICES

    @property
    def usd(self) -> float:
        return self.quantity * self.unit_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "component": self.component,
            "environment": self.environment,
            "service": self.service,
            "item": self.item,
            "quantity": round(self.quantity, 6),
            "unit": self.unit,
            "unitUsd": self.unit_usd,
            "price": self.price,
            "usd": round(self.usd, 4),
        }


@dataclass(frozen=True)
class Gap:
    """A resource the estimate could not price: not priced (no price yet) or unknown (a value unknown in this preview)."""

    urn: str
    type: str
    name: str
    environment: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"urn": self.urn, "type": self.type, "name": self.name, "environment": self.environment, "reason": self.reason}


@dataclass
class Estimate:
    lines: list[Line]
    not_priced: list[Gap]
    unknown: list[Gap]
    usage: CostSettings

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def by(self, key: str) -> dict[str, float]:
        """Monthly USD by a Line attribute (component, environment, service, name, urn), largest first."""
        sums: dict[str, float] = defaultdict(float)
        for line in self.lines:
            sums[getattr(line, key)] += line.usd
        return dict(sorted(sums.items(), key=lambda item: -item[1]))

    def environment_total(self, environment: str) -> float:
        return sum(line.usd for line in self.lines if line.environment == environment)

    def top(self, n: int = 3, environment: str | None = None) -> list[tuple[str, float]]:
        """The `n` resources that cost most, as (name, USD)."""
        sums: dict[str, float] = defaultdict(float)
        for line in self.lines:
            if environment is None or line.environment == environment:
                sums[line.name] += line.usd
        return sorted(sums.items(), key=lambda item: -item[1])[:n]


class Unknown(Exception):
    """A value the estimate needs is unknown in this preview."""


@dataclass(frozen=True)
class Assume:
    """What-ifs for the ratios: price every Fargate task as x86_64 on-demand."""

    x86_on_demand: bool = False


class _Stack:
    """The resources of one stack, with the relations the pricers follow."""

    def __init__(self, resources: Iterable[Resource], usage: CostSettings, assume: Assume) -> None:
        self.resources = list(resources)
        self.usage = usage
        self.assume = assume
        self.by_urn = {r.urn: r for r in self.resources}
        self.by_type: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.resources:
            self.by_type[resource.type].append(resource)
        self.fargate_vcpu_months = 0.0
        self.aurora_vcpu_months = 0.0
        self.task_hours: dict[str, float] = {}
        self.environments = [environment_of(r) for r in self.resources if r.type.endswith(ENVIRONMENT)]

    def dep(self, resource: Resource, prop: str, type_: str) -> Resource | None:
        found = [self.by_urn[u] for u in resource.deps.get(prop, []) if u in self.by_urn and self.by_urn[u].type == type_]
        return found[0] if found else None

    def dependents(self, target: Resource, type_: str, prop: str) -> list[Resource]:
        return [r for r in self.by_type.get(type_, []) if target.urn in r.deps.get(prop, [])]

    def placement(self, resource: Resource) -> tuple[str, str]:
        """(top-level component, verification environment or SHARED) of a resource.

        A resource belongs to an environment when an Environment component is its ancestor, or when a shared
        component made it for one and tagged it so (a synthetic test in observability: `kanna_env:<env>`).
        """
        component, environment, current = "(stack)", SHARED, resource
        while (parent := self.by_urn.get(current.parent)) is not None and parent.type != "pulumi:pulumi:Stack":
            if parent.type.endswith(ENVIRONMENT) and environment == SHARED:
                environment = environment_of(parent)
            component, current = parent.name, parent
        if environment == SHARED:
            tags = resource.inputs.get("tags")
            tagged = tags.get("kanna:environment") if isinstance(tags, Mapping) else None
            if isinstance(tags, list):
                tagged = next((t.removeprefix("kanna_env:") for t in tags if isinstance(t, str) and t.startswith("kanna_env:")), None)
            environment = tagged if tagged in self.environments else SHARED
        return component, environment


def environment_of(component: Resource) -> str:
    """An Environment component is named `<stack>-<environment>`."""
    return component.name.partition("-")[2] or component.name


def value(inputs: Mapping[str, Any], *path: str | int, default: Any = None) -> Any:
    """inputs[path...], `default` when absent; raises Unknown when the engine doesn't know it yet."""
    current: Any = inputs
    for key in path:
        if _is_unknown(current):
            raise Unknown(".".join(map(str, path)))
        if isinstance(current, Mapping) and isinstance(key, str):
            current = current.get(key)
        elif isinstance(current, list) and isinstance(key, int) and -len(current) <= key < len(current):
            current = current[key]
        else:
            return default
        if current is None:
            return default
    if _is_unknown(current):
        raise Unknown(".".join(map(str, path)))
    return current


def number(inputs: Mapping[str, Any], *path: str | int, default: float | None = None) -> float:
    found = value(inputs, *path, default=default)
    if found is None:
        raise Unknown(".".join(map(str, path)))
    return float(found)


Pricer = Callable[[_Stack, Resource], Iterator[tuple[str, str, float, str, float, str]]]
# a pricer yields (service, item, quantity, unit, unit_usd, price key)


def _item(service: str, item: str, quantity: float, key: str, factor: float = 1.0) -> tuple[str, str, float, str, float, str]:
    return service, item, quantity, PRICES[key].unit, rate(key) * factor, key


def _hours(stack: _Stack, scheduled: bool) -> float:
    return HOURS_PER_MONTH * (stack.usage.schedule_share if scheduled else 1.0)


# ---- compute -------------------------------------------------------------------------------------


def _split(strategies: list[Any], tasks: float) -> dict[str, float]:
    """Tasks per capacity provider: the base first, the rest by weight (ECS's own rule)."""
    if not strategies:
        return {"FARGATE": tasks}
    placed: dict[str, float] = defaultdict(float)
    remaining = tasks
    if not all(isinstance(entry, Mapping) for entry in strategies):
        raise Unknown("capacityProviderStrategies")
    for entry in strategies:
        base = min(remaining, number(entry, "base", default=0))
        placed[value(entry, "capacityProvider")] += base
        remaining -= base
    weights = {value(e, "capacityProvider"): number(e, "weight", default=0) for e in strategies}
    total = sum(weights.values()) or 1.0
    for provider, weight in weights.items():
        placed[provider] += remaining * weight / total
    return dict(placed)


def _ecs_service(stack: _Stack, service: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    task = stack.dep(service, "taskDefinition", "aws:ecs/taskDefinition:TaskDefinition")
    if task is None:
        raise Unknown("taskDefinition")
    vcpu = number(task.inputs, "cpu") / 1024
    gb = number(task.inputs, "memory") / 1024
    arch = "arm64" if value(task.inputs, "runtimePlatform", "cpuArchitecture", default="X86_64") == "ARM64" else "x86"
    target = next(iter(stack.dependents(service, "aws:appautoscaling/target:Target", "resourceId")), None)
    tasks = number(target.inputs, "minCapacity") if target else number(service.inputs, "desiredCount", default=1)
    scheduled = bool(target and stack.dependents(target, "aws:appautoscaling/scheduledAction:ScheduledAction", "resourceId"))
    hours = _hours(stack, scheduled)
    strategies = value(service.inputs, "capacityProviderStrategies", default=[])
    if stack.assume.x86_on_demand:
        arch, strategies = "x86", []
    split = _split(strategies, tasks)
    for provider, count in split.items():
        if count <= 0:
            continue
        spot = provider == "FARGATE_SPOT"
        kind = f"fargate-spot.{arch}" if spot else f"fargate.{arch}"
        # A Compute Savings Plan discounts on-demand Fargate only, for the share of hours it covers.
        factor = 1.0 if spot else 1 - stack.usage.savings_plan_coverage * rate("savings-plan.fargate-discount")
        label = f"{'Spot' if spot else 'on-demand'} {arch}, {count:g} task(s) x {hours:g} h"
        yield _item("Fargate", f"vCPU, {label}", vcpu * count * hours, f"{kind}.vcpu-hour", factor)
        yield _item("Fargate", f"memory, {label}", gb * count * hours, f"{kind}.gb-hour", factor)
    task_months = tasks * hours / HOURS_PER_MONTH
    stack.fargate_vcpu_months += vcpu * task_months
    stack.task_hours[service.urn] = tasks * hours
    # Datadog bills Fargate by concurrent tasks, sampled through the month: a stopped task costs nothing.
    yield _item("Datadog", "infrastructure, Fargate tasks", task_months, "datadog.fargate-task-month")
    yield _item("Datadog", "APM, Fargate tasks", task_months, "datadog.apm-fargate-task-month")
    if value(service.inputs, "serviceRegistries") is not None:
        yield _item("Cloud Map", "registered task instances", tasks, "cloudmap.instance-month")


def _service_logs(stack: _Stack, service: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    """The application logs (FireLens to Datadog), shared out by task-hours."""
    total = sum(stack.task_hours.values())
    if not total or service.urn not in stack.task_hours:
        return
    gb = stack.usage.log_gb_per_day * DAYS_PER_MONTH * stack.task_hours[service.urn] / total
    yield _item("Datadog", "logs ingested", gb, "datadog.logs.ingest-gb")
    yield _item("Datadog", "log events indexed (millions)", gb * LOG_EVENTS_PER_GB / 1e6, "datadog.logs.index-million")


# ---- network -------------------------------------------------------------------------------------


def _nat(stack: _Stack, nat: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    count = len(stack.by_type["aws:ec2/natGateway:NatGateway"])
    yield _item("NAT gateway", "hours", HOURS_PER_MONTH, "nat.hour")
    yield _item("NAT gateway", "GB processed", stack.usage.nat_gb / count, "nat.gb")


def _eip(stack: _Stack, eip: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    yield _item("VPC", "public IPv4 address hours", HOURS_PER_MONTH, "public-ipv4.hour")


def _endpoint(stack: _Stack, endpoint: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    if value(endpoint.inputs, "vpcEndpointType", default="Gateway") != "Interface":
        return  # gateway endpoints (S3, DynamoDB) have no hourly or per-GB charge
    azs = len(value(endpoint.inputs, "subnetIds", default=[]))
    interfaces = [e for e in stack.by_type["aws:ec2/vpcEndpoint:VpcEndpoint"] if e.inputs.get("vpcEndpointType") == "Interface"]
    yield _item("VPC endpoints", f"hours in {azs} AZ(s)", azs * HOURS_PER_MONTH, "endpoint.interface.az-hour")
    yield _item("VPC endpoints", "GB processed", stack.usage.endpoint_gb / len(interfaces), "endpoint.interface.gb")


def _alb(stack: _Stack, alb: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    yield _item("ALB", "hours", HOURS_PER_MONTH, "alb.hour")
    yield _item("ALB", "LCU-hours", stack.usage.alb_lcu * HOURS_PER_MONTH, "alb.lcu-hour")
    if not value(alb.inputs, "internal", default=False):
        # An internet-facing ALB holds a public IPv4 address in each of its subnets.
        yield _item("VPC", "public IPv4 address hours", len(value(alb.inputs, "subnets", default=[])) * HOURS_PER_MONTH, "public-ipv4.hour")


# ---- data ----------------------------------------------------------------------------------------

_VCPUS = {"medium": 2, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32}


def _aurora_cluster(stack: _Stack, cluster: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    yield _item("Aurora", "storage", stack.usage.database_storage_gb, "aurora.storage.gb-month")
    yield _item("Aurora", "I/O requests (millions)", stack.usage.database_io_millions, "aurora.io.million")
    if value(cluster.inputs, "manageMasterUserPassword", default=False):
        yield _item("Secrets Manager", "RDS-managed master user secret", 1, "secretsmanager.secret-month")


def _aurora_instance(stack: _Stack, instance: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    instance_class = value(instance.inputs, "instanceClass")
    if instance_class is None:
        raise Unknown("instanceClass")
    if instance_class == "db.serverless":
        cluster = stack.dep(instance, "clusterIdentifier", "aws:rds/cluster:Cluster")
        if cluster is None:
            raise Unknown("clusterIdentifier")
        low = number(cluster.inputs, "serverlessv2ScalingConfiguration", "minCapacity", default=0.5)
        high = number(cluster.inputs, "serverlessv2ScalingConfiguration", "maxCapacity", default=1)
        acu = min(max(stack.usage.serverless_average_acu, low, 0.5), high)
        # With a minimum of 0 ACUs the instance pauses when idle: it runs while the scheduled services do.
        hours = _hours(stack, scheduled=low == 0)
        stack.aurora_vcpu_months += acu / 2 * hours / HOURS_PER_MONTH
        yield _item("Aurora", f"Serverless v2, {acu:g} ACU x {hours:g} h", acu * hours, "aurora.serverless-v2.acu-hour")
        return
    key = f"aurora.{instance_class}"
    if key not in PRICES:
        raise LookupError(f"no price for instance class {instance_class}; add aurora.{instance_class} to preflight/cost/prices.py")
    stack.aurora_vcpu_months += _VCPUS.get(instance_class.rsplit(".", 1)[-1], 2)
    factor = 1 - stack.usage.reserved_coverage * rate("reserved.discount")
    yield _item("Aurora", f"{instance_class} instance hours", HOURS_PER_MONTH, key, factor)


def _cache(stack: _Stack, group: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    node_type = value(group.inputs, "nodeType")
    nodes = number(group.inputs, "numCacheClusters", default=1)
    key = f"elasticache.{node_type}"
    if key not in PRICES:
        raise LookupError(f"no price for node type {node_type}; add {key} to preflight/cost/prices.py")
    factor = 1 - stack.usage.reserved_coverage * rate("reserved.discount")
    if value(group.inputs, "engine", default="redis") == "valkey":
        factor *= 1 - rate("elasticache.valkey-discount")
    yield _item("ElastiCache", f"{node_type} node hours x {nodes:g}", nodes * HOURS_PER_MONTH, key, factor)


# ---- edge ----------------------------------------------------------------------------------------


def _cloudfront(stack: _Stack, distribution: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    usage = stack.usage
    yield _item(
        "CloudFront", "GB to viewers above the free TB", max(0.0, usage.egress_gb - rate("cloudfront.free-gb")), "cloudfront.japan.gb"
    )
    requests = max(0.0, usage.requests_per_month - rate("cloudfront.free-requests"))
    yield _item("CloudFront", "HTTPS requests above the free 10M (10k)", requests / 1e4, "cloudfront.japan.https-10k")


def _web_acl(stack: _Stack, acl: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    rules = len(value(acl.inputs, "rules", default=[]))
    yield _item("WAF", "web ACL", 1, "waf.web-acl-month")
    yield _item("WAF", "rules and managed rule groups", rules, "waf.rule-month")
    # Every request meets both ACLs: the app is dynamic, so CloudFront forwards nearly all of them to the ALB.
    yield _item("WAF", "requests inspected (millions)", stack.usage.requests_per_month / 1e6, "waf.million-requests")


def _zone(stack: _Stack, zone: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    # Queries for alias records to CloudFront and the ALB are free; the zone is not.
    yield _item("Route 53", "hosted zone", 1, "route53.zone-month")


# ---- security and operations ---------------------------------------------------------------------


def _detector(stack: _Stack, detector: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    yield _item("GuardDuty", "management events (millions)", stack.usage.cloudtrail_events_millions, "guardduty.cloudtrail-million")
    yield _item("GuardDuty", "VPC flow and DNS logs", stack.usage.flow_log_gb, "guardduty.flow-gb")


def _detector_feature(stack: _Stack, feature: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    if value(feature.inputs, "status", default="ENABLED") != "ENABLED":
        return
    name = value(feature.inputs, "name")
    if name == "RUNTIME_MONITORING":
        yield _item("GuardDuty", "runtime monitoring, Fargate vCPU-months", stack.fargate_vcpu_months, "guardduty.runtime-vcpu-month")
    elif name == "RDS_LOGIN_EVENTS":
        yield _item("GuardDuty", "RDS protection, Aurora vCPU-months", stack.aurora_vcpu_months, "guardduty.rds-vcpu-month")
    elif name == "S3_DATA_EVENTS":
        yield _item("GuardDuty", "S3 data events (millions)", stack.usage.s3_data_events_millions, "guardduty.s3-million")
    elif name != "EBS_MALWARE_PROTECTION":  # scans EC2 volumes on a finding; Fargate tasks have none
        raise LookupError(f"no price for GuardDuty feature {name}")


def _log_group(stack: _Stack, group: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    gb_per_day = stack.usage.cloudwatch_log_gb_per_day / len(stack.by_type["aws:cloudwatch/logGroup:LogGroup"])
    days = number(group.inputs, "retentionInDays", default=3653)  # no retention keeps everything: ten years is as good
    yield _item("CloudWatch", "logs ingested", gb_per_day * DAYS_PER_MONTH, "cloudwatch.logs.ingest-gb")
    yield _item("CloudWatch", f"logs stored ({days:g} days kept)", gb_per_day * days, "cloudwatch.logs.storage-gb-month")


def _alarm(stack: _Stack, alarm: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    queries = value(alarm.inputs, "metricQueries", default=[])
    metrics = sum(1 for q in queries if isinstance(q, Mapping) and q.get("metric")) or 1
    yield _item("CloudWatch", "alarm metrics", metrics, "cloudwatch.alarm-metric-month")


def _each(service: str, item: str, key: str) -> Pricer:
    def price(stack: _Stack, resource: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
        yield _item(service, item, 1, key)

    return price


def _share(service: str, item: str, key: str, total: Callable[[CostSettings], float], free: float = 0.0) -> Pricer:
    """A usage total above its free tier, shared evenly by the resources of one type."""

    def price(stack: _Stack, resource: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
        count = len(stack.by_type[resource.type])
        yield _item(service, item, max(0.0, total(stack.usage) - free) / count, key)

    return price


def _synthetics(stack: _Stack, test: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    if value(test.inputs, "type") != "api":
        raise LookupError("no price for browser tests")
    interval = number(test.inputs, "optionsList", "tickEvery")
    locations = len(value(test.inputs, "locations", default=[]))
    runs = locations * DAYS_PER_MONTH * 86400 / interval
    yield _item("Datadog", f"synthetic API runs every {interval:g} s", runs / 1e4, "datadog.synthetics.api-10k")


def _firestore(stack: _Stack, database: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    usage = stack.usage
    # The free quota: 1 GiB stored, 50,000 reads and 20,000 writes a day.
    yield _item("Firestore", "storage above the free GiB", max(0.0, usage.firestore_gb - 1), "firestore.storage-gb-month")
    reads = max(0.0, usage.firestore_reads_millions * 1e6 - 50_000 * DAYS_PER_MONTH)
    writes = max(0.0, usage.firestore_writes_millions * 1e6 - 20_000 * DAYS_PER_MONTH)
    yield _item("Firestore", "document reads (100k)", reads / 1e5, "firestore.reads-100k")
    yield _item("Firestore", "document writes (100k)", writes / 1e5, "firestore.writes-100k")


def _bigquery(stack: _Stack, dataset: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    count = len(stack.by_type[dataset.type])
    usage = stack.usage
    yield _item(
        "BigQuery", "active storage above the free 10 GiB", max(0.0, usage.bigquery_storage_gb - 10) / count, "bigquery.storage-gb-month"
    )
    yield _item("BigQuery", "on-demand query TiB above the free TiB", max(0.0, usage.bigquery_query_tib - 1) / count, "bigquery.query-tib")


def _identity(stack: _Stack, config: Resource) -> Iterator[tuple[str, str, float, str, float, str]]:
    yield _item("Identity Platform", "MAU above 49,999", max(0.0, stack.usage.monthly_active_users - 49_999), "identityplatform.mau")


PRICERS: dict[str, Pricer] = {
    "aws:ecs/service:Service": _ecs_service,
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _endpoint,
    "aws:lb/loadBalancer:LoadBalancer": _alb,
    "aws:rds/cluster:Cluster": _aurora_cluster,
    "aws:rds/clusterInstance:ClusterInstance": _aurora_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": _cache,
    "aws:cloudfront/distribution:Distribution": _cloudfront,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:route53/zone:Zone": _zone,
    "aws:guardduty/detector:Detector": _detector,
    "aws:guardduty/detectorFeature:DetectorFeature": _detector_feature,
    "aws:securityhub/account:Account": _share("Security Hub", "security checks", "securityhub.check", lambda u: u.security_hub_checks),
    "aws:cfg/recorder:Recorder": _share("Config", "configuration items", "config.item", lambda u: u.config_items),
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:secretsmanager/secret:Secret": _each("Secrets Manager", "secret", "secretsmanager.secret-month"),
    "aws:kms/key:Key": _each("KMS", "customer managed key", "kms.key-month"),
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": _each("Cloud Map", "namespace", "cloudmap.namespace-month"),
    "aws:ecr/repository:Repository": _share("ECR", "image storage", "ecr.storage-gb-month", lambda u: u.image_gb),
    "datadog:index/syntheticsTest:SyntheticsTest": _synthetics,
    "gcp:firestore/database:Database": _firestore,
    "gcp:bigquery/dataset:Dataset": _bigquery,
    "gcp:identityplatform/config:Config": _identity,
}
# Priced after the others: they share out totals the others accumulate (task-hours, vCPU-months).
_SECOND_PASS = {"aws:guardduty/detectorFeature:DetectorFeature"}


def _custom(resource: Resource) -> bool:
    return resource.custom and not resource.type.startswith("pulumi:providers:")


def estimate(resources: Iterable[Resource], usage: CostSettings, assume: Assume = Assume()) -> Estimate:
    """The monthly estimate of these resources under `usage`."""
    stack = _Stack(resources, usage, assume)
    result = Estimate([], [], [], usage)
    ordered = sorted((r for r in stack.resources if _custom(r)), key=lambda r: r.type in _SECOND_PASS)
    ordered += [r for r in stack.resources if r.type == "aws:ecs/service:Service"]  # their logs, once task-hours are known
    seen: set[str] = set()
    for resource in ordered:
        component, environment = stack.placement(resource)
        pricer = PRICERS.get(resource.type)
        if resource.urn in seen:
            pricer = _service_logs
        seen.add(resource.urn)
        if pricer is None:
            if resource.type not in FREE:
                reason = NOT_PRICED.get(resource.type, "no price for this type in preflight/cost/prices.py")
                result.not_priced.append(Gap(resource.urn, resource.type, resource.name, environment, reason))
            continue
        try:
            items = list(pricer(stack, resource))
        except Unknown as exc:
            result.unknown.append(Gap(resource.urn, resource.type, resource.name, environment, f"{exc} is unknown in this preview"))
            continue
        except LookupError as exc:
            result.not_priced.append(Gap(resource.urn, resource.type, resource.name, environment, str(exc)))
            continue
        except (TypeError, ValueError) as exc:  # an input of an unexpected shape: say so, never stop the policy pack
            result.not_priced.append(Gap(resource.urn, resource.type, resource.name, environment, f"unreadable input: {exc}"))
            continue
        for service, item, quantity, unit, unit_usd, key in items:
            result.lines.append(
                Line(resource.urn, resource.type, resource.name, component, environment, service, item, quantity, unit, unit_usd, key)
            )
    return result


def what_if(resources: list[Resource], usage: CostSettings, **changes: Any) -> Estimate:
    """The estimate with some usage assumptions changed (and `x86_on_demand=True` for the Fargate what-if)."""
    x86 = changes.pop("x86_on_demand", False)
    return estimate(resources, usage.model_copy(update=changes), Assume(x86_on_demand=x86))


__all__ = ["FREE", "NOT_PRICED", "PRICERS", "Assume", "Estimate", "Gap", "Line", "Resource", "estimate", "what_if"]
