"""The network: tasks and data stores never face the internet, only the public tier maps public IPs or routes to the
internet gateway, every VPC keeps flow logs, the default security group is closed, and no security group admits the
internet, however its rules are written (inline, `aws.vpc.SecurityGroupIngressRule`, `aws.ec2.SecurityGroupRule`).

Which subnet a service or a data store sits in, and which gateway a subnet routes to, are found through
property dependencies (service -> subnet <- route table association -> route table <- route -> gateway),
so these checks hold in a first preview, when no id is known yet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, Pending, StackIndex, collect, defer, each, get, items, resource_policy, stack_policy, sure

SERVICE = "aws:ecs/service:Service"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
MAIN_ASSOCIATION = "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation"
IGW = "aws:ec2/internetGateway:InternetGateway"
EGRESS_ONLY_IGW = "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway"
NAT = "aws:ec2/natGateway:NatGateway"
DB_INSTANCE = "aws:rds/instance:Instance"
DB_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
DB_CLUSTER = "aws:rds/cluster:Cluster"
DB_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
CACHE_SUBNET_GROUP = "aws:elasticache/subnetGroup:SubnetGroup"
CACHE_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
SERVERLESS_CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"

# Data stores and the property that names their subnet group.
DATA_STORES = {
    DB_CLUSTER: "dbSubnetGroupName",
    DB_INSTANCE: "dbSubnetGroupName",
    CACHE_GROUP: "subnetGroupName",
    CACHE_CLUSTER: "subnetGroupName",
    SERVERLESS_CACHE: "subnetIds",
}
_ROUTE_TARGETS = ("gatewayId", "natGatewayId", "egressOnlyGatewayId")
_GATEWAY_KINDS = {IGW: "internet gateway", EGRESS_ONLY_IGW: "egress-only gateway", NAT: "NAT gateway"}
# Literal ids of gateways that live outside this stack, by prefix.
_GATEWAY_ID_PREFIXES = {"igw-": "internet gateway", "eigw-": "egress-only gateway", "nat-": "NAT gateway"}


def _route_tables(index: StackIndex, subnet: PolicyResource) -> list[PolicyResource]:
    associations = index.dependents(subnet, ASSOCIATION, "subnetId")
    if associations:
        return [table for a in associations for table in index.deps(a, "routeTableId", ROUTE_TABLE)]
    # No explicit association: the subnet uses its VPC's main route table.
    vpcs = {vpc.urn for vpc in index.deps(subnet, "vpcId")}
    return [
        table
        for main in index.of_type(MAIN_ASSOCIATION)
        if {vpc.urn for vpc in index.deps(main, "vpcId")} & vpcs
        for table in index.deps(main, "routeTableId", ROUTE_TABLE)
    ]


def _literal_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return next((kind for prefix, kind in _GATEWAY_ID_PREFIXES.items() if value.startswith(prefix)), None)
    return None


def internet_routes(index: StackIndex, subnet: PolicyResource) -> set[str]:
    """The kinds of internet gateway the subnet routes to: 'internet gateway', 'NAT gateway', ..."""
    kinds: set[str] = set()
    for table in _route_tables(index, subnet):
        # Inline routes on the table and separate Route resources both count.
        kinds |= {_GATEWAY_KINDS[dep.resource_type] for dep in index.deps(table, "routes", *_GATEWAY_KINDS)}
        for route in index.dependents(table, ROUTE, "routeTableId"):
            for prop in _ROUTE_TARGETS:
                gateways = index.deps(route, prop, *_GATEWAY_KINDS)
                kinds |= {_GATEWAY_KINDS[dep.resource_type] for dep in gateways}
                if not index.deps(route, prop) and (kind := _literal_kind(get(route.props, prop))):
                    kinds.add(kind)
    return kinds


def _service_subnets(index: StackIndex, service: PolicyResource) -> list[PolicyResource]:
    return index.deps(service, "networkConfiguration", SUBNET)


def _no_public_ip(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    network = get(args.props, "networkConfiguration")
    if network is None:
        return ["has no networkConfiguration, so it can't be placed in private subnets (awsvpc)"]
    assign = get(network, "assignPublicIp", default=False)
    if assign is UNKNOWN:
        defer("networkConfiguration.assignPublicIp")
    return ["assigns public IPs to its tasks (networkConfiguration.assignPublicIp is true)"] if assign else []


def _services_in_private_subnets(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for service in index.of_type(SERVICE):
        subnets = _service_subnets(index, service)
        if not subnets:
            found.append((service, "runs in subnets that are not this stack's, so their routes can't be verified"))
        for subnet in subnets:
            if "internet gateway" in internet_routes(index, subnet):
                found.append((service, f"runs in subnet '{subnet.name}', which routes to an internet gateway"))
    return found


def _public_ips_only_in_public_tier(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for subnet in index.of_type(SUBNET):
        maps = get(subnet.props, "mapPublicIpOnLaunch", default=False)
        if maps is True and "internet gateway" not in internet_routes(index, subnet):
            found.append((subnet, "maps public IPs on launch but is not a public-tier subnet (no internet gateway route)"))
    return found


def _not_public(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    public = get(args.props, "publiclyAccessible", default=False)
    if public is UNKNOWN:
        defer("publiclyAccessible")
    return ["is publicly accessible"] if public else []


def _data_in_isolated_subnets(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for group in index.of_type(DB_SUBNET_GROUP, CACHE_SUBNET_GROUP):
        subnets = index.deps(group, "subnetIds", SUBNET)
        if not subnets:
            found.append((group, "uses subnets that are not this stack's, so their routes can't be verified"))
        for subnet in subnets:
            if kinds := internet_routes(index, subnet):
                found.append((group, f"includes subnet '{subnet.name}', which routes to a {' and a '.join(sorted(kinds))}"))
    for type_, prop in DATA_STORES.items():
        for store in index.of_type(type_):
            if type_ == DB_INSTANCE and get(store.props, "replicateSourceDb") not in (None, UNKNOWN):
                continue  # a replica inherits its source's subnet group unless it names one
            places = index.deps(store, prop, DB_SUBNET_GROUP, CACHE_SUBNET_GROUP, SUBNET)
            if type_ == DB_INSTANCE and index.deps(store, "clusterIdentifier"):
                continue
            if not places:
                found.append((store, f"has no subnet group of this stack ({prop}), so it would land in the default VPC"))
            for subnet in (p for p in places if p.resource_type == SUBNET):
                if kinds := internet_routes(index, subnet):
                    found.append((store, f"uses subnet '{subnet.name}', which routes to a {' and a '.join(sorted(kinds))}"))
    return found


# --- security group ingress, however it is written ----------------------------------------------------------


@dataclass(frozen=True)
class Ingress:
    """One ingress rule: inline on a group, an `aws.vpc.SecurityGroupIngressRule` or an `aws.ec2.SecurityGroupRule`."""

    owner: PolicyResource  # where the rule is written (the group itself for inline rules)
    group: PolicyResource | None  # the group it opens, when it is this stack's
    protocol: Any
    from_port: Any
    to_port: Any
    cidrs: tuple[Any, ...]  # IPv4 and IPv6
    prefix_lists: tuple[Any, ...]
    sources: tuple[PolicyResource, ...]  # source security groups of this stack

    def ports(self) -> str:
        return f"{self.from_port:g}-{self.to_port:g}/{self.protocol}" if isinstance(self.from_port, float) else f"{self.protocol}"

    def covers(self, port: int) -> bool:
        protocol = str(sure(self.protocol, f"{self.owner.name}: protocol")).lower()
        if protocol in ("-1", "all"):
            return True
        if protocol not in ("tcp", "6"):
            return False
        low, high = sure(self.from_port, f"{self.owner.name}: fromPort"), sure(self.to_port, f"{self.owner.name}: toPort")
        return low is not None and high is not None and low <= port <= high


def ingress_rules(index: StackIndex) -> list[Ingress]:
    found: list[Ingress] = []
    for group in index.of_type(SECURITY_GROUP, DEFAULT_SG):
        sources = tuple(index.deps(group, "ingress", SECURITY_GROUP))
        for rule in items(group.props, "ingress"):
            if rule is UNKNOWN:
                found.append(Ingress(group, group, UNKNOWN, UNKNOWN, UNKNOWN, (UNKNOWN,), (), ()))
                continue
            cidrs = (*items(rule, "cidrBlocks"), *items(rule, "ipv6CidrBlocks"))
            uses_groups = bool(items(rule, "securityGroups"))
            protocol, low, high = get(rule, "protocol"), get(rule, "fromPort"), get(rule, "toPort")
            found.append(
                Ingress(group, group, protocol, low, high, cidrs, tuple(items(rule, "prefixListIds")), sources if uses_groups else ())
            )
    for rule in index.of_type(INGRESS_RULE):
        p = rule.props
        groups = index.deps(rule, "securityGroupId", SECURITY_GROUP, DEFAULT_SG)
        cidrs = tuple(c for c in (get(p, "cidrIpv4"), get(p, "cidrIpv6")) if c is not None)
        prefix = tuple(c for c in (get(p, "prefixListId"),) if c is not None)
        sources = tuple(index.deps(rule, "referencedSecurityGroupId", SECURITY_GROUP))
        protocol, low, high = get(p, "ipProtocol"), get(p, "fromPort"), get(p, "toPort")
        found.append(Ingress(rule, groups[0] if groups else None, protocol, low, high, cidrs, prefix, sources))
    for rule in index.of_type(SG_RULE):
        p = rule.props
        kind = get(p, "type")
        if kind not in ("ingress", UNKNOWN):
            continue
        groups = index.deps(rule, "securityGroupId", SECURITY_GROUP, DEFAULT_SG)
        protocol = UNKNOWN if kind is UNKNOWN else get(p, "protocol")
        cidrs = (*items(p, "cidrBlocks"), *items(p, "ipv6CidrBlocks"))
        sources = tuple(index.deps(rule, "sourceSecurityGroupId", SECURITY_GROUP))
        low, high = get(p, "fromPort"), get(p, "toPort")
        found.append(Ingress(rule, groups[0] if groups else None, protocol, low, high, cidrs, tuple(items(p, "prefixListIds")), sources))
    return found


def network_of(cidr: Any, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network a CIDR names (None when it is not one); `Pending` when it is not known yet."""
    try:
        return ipaddress.ip_network(sure(cidr, what), strict=False)
    except (TypeError, ValueError):
        return None


def is_world(cidr: Any, what: str) -> bool:
    """0.0.0.0/0, ::/0, or a public range as broad as a /16 (65,536 addresses) or broader."""
    net = network_of(cidr, what)
    return net is not None and (net.prefixlen == 0 or (net.is_global and net.prefixlen <= (16 if net.version == 4 else 32)))


def _no_world_ingress(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    def check(rule: Ingress) -> list[Finding]:
        world = [str(c) for c in rule.cidrs if is_world(c, f"{rule.owner.name}: source CIDR")]
        if not world:
            return []
        sure(rule.protocol, f"{rule.owner.name}: protocol")
        return [(rule.owner, f"allows ingress from {', '.join(world)} on {rule.ports()}")]

    return collect(ingress_rules(index), check)


# --- route tables by tier, flow logs, the default security group --------------------------------------------


def _tier(subnet: PolicyResource) -> Any:
    tier = get(subnet.props, "tags", "Tier")
    return tier.lower() if isinstance(tier, str) else tier


def _private_routes_stay_private(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    def check(subnet: PolicyResource) -> list[str]:
        tier = sure(_tier(subnet), "tags.Tier")
        kinds = internet_routes(index, subnet) if tier in ("private", "isolated") else set()
        problems = []
        if "internet gateway" in kinds:
            problems.append(f"is a {tier} subnet whose route table routes to an internet gateway")
        if tier == "isolated" and kinds - {"internet gateway"}:
            problems.append(f"is an isolated subnet whose route table routes to a {' and a '.join(sorted(kinds - {'internet gateway'}))}")
        return problems

    return each(index.of_type(SUBNET), check)


def _retention_problem(index: StackIndex, log: PolicyResource, minimum: int) -> str | None:
    kind = sure(get(log.props, "logDestinationType", default="cloud-watch-logs"), "logDestinationType")
    if kind == "cloud-watch-logs":
        groups = index.deps(log, "logDestination", LOG_GROUP) + index.deps(log, "logGroupName", LOG_GROUP)
        if not groups:
            return f"flow log '{log.name}' writes to a log group outside this stack, so its retention can't be verified"
        days = sure(get(groups[0].props, "retentionInDays"), "retentionInDays")
        if days and days < minimum:
            return f"flow log '{log.name}' keeps its records {days:g} days (log group '{groups[0].name}'), below this stack's {minimum}"
        return None
    if kind == "s3":
        buckets = index.deps(log, "logDestination", *BUCKETS)
        if not buckets:
            return f"flow log '{log.name}' writes to a bucket outside this stack, so its retention can't be verified"
        for rule in (r for t in LIFECYCLE for c in index.dependents(buckets[0], t, "bucket") for r in items(c.props, "rules")):
            days = sure(get(rule, "expiration", "days"), "lifecycle expiration")
            if get(rule, "status") == "Enabled" and days and days < minimum:
                return (
                    f"flow log '{log.name}' records expire after {days:g} days (bucket '{buckets[0].name}'), below this stack's {minimum}"
                )
        return None
    return f"flow log '{log.name}' writes to {kind}, whose retention this pack can't verify"


def _vpc_flow_logs(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    minimum = int(config.get("minimumRetentionDays", 365))

    def check(vpc: PolicyResource) -> list[str]:
        logs = index.dependents(vpc, FLOW_LOG, "vpcId")
        all_traffic = [f for f in logs if sure(get(f.props, "trafficType", default="ALL"), "trafficType") == "ALL"]
        if not all_traffic:
            return ["has no flow log of ALL traffic"]
        return [p for f in all_traffic if (p := _retention_problem(index, f, minimum))]

    return each(index.of_type(VPC), check)


def _default_group_closed(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    def check(vpc: PolicyResource) -> list[str]:
        groups = index.dependents(vpc, DEFAULT_SG, "vpcId")
        if not groups:
            return ["leaves its default security group unmanaged, with AWS's allow-all rules (no aws.ec2.DefaultSecurityGroup)"]
        problems = []
        for group in groups:
            for direction in ("ingress", "egress"):
                rules = items(group.props, direction)
                if UNKNOWN in rules:
                    raise Pending(f"{group.name}.{direction}")
                if rules:
                    problems.append(f"its default security group '{group.name}' has {direction} rules")
            for type_ in (INGRESS_RULE, EGRESS_RULE, SG_RULE):
                problems += [
                    f"its default security group '{group.name}' gets rule '{r.name}'"
                    for r in index.dependents(group, type_, "securityGroupId")
                ]
        return problems

    return each(index.of_type(VPC), check)


POLICIES = [
    resource_policy(
        "ecs-service-no-public-ip",
        "ECS services never assign public IPs to their tasks.",
        [SERVICE],
        _no_public_ip,
        "set network_configuration.assign_public_ip=False and reach AWS APIs through the VPC endpoints",
        id="KANNA-NET-001",
        controls=("AWS FSBP ECS.2",),
    ),
    stack_policy(
        "ecs-service-private-subnets",
        "ECS services run only in subnets with no route to an internet gateway.",
        _services_in_private_subnets,
        "pass the network component's private_subnet_ids to the service's network_configuration.subnets",
        id="KANNA-NET-002",
    ),
    stack_policy(
        "public-ip-only-in-public-tier",
        "Only public-tier subnets (routed to an internet gateway) map public IPs on launch.",
        _public_ips_only_in_public_tier,
        "set map_public_ip_on_launch=False on private and isolated subnets",
        id="KANNA-NET-003",
        controls=("AWS FSBP EC2.15",),
    ),
    resource_policy(
        "data-store-not-public",
        "Databases are never publicly accessible.",
        [DB_INSTANCE, DB_CLUSTER_INSTANCE],
        _not_public,
        "set publicly_accessible=False; reach the database from tasks in the private tier, or through SSM",
        id="KANNA-DATA-001",
        controls=("AWS FSBP RDS.2",),
    ),
    stack_policy(
        "data-store-isolated-subnets",
        "Databases and caches sit only in isolated subnets, which have no route to the internet.",
        _data_in_isolated_subnets,
        "give the data store a subnet group built from the network component's isolated_subnet_ids",
        id="KANNA-NET-004",
    ),
    stack_policy(
        "private-route-tables-no-internet",
        "Private and isolated subnets (tag Tier) route to no internet gateway, and isolated subnets to no NAT or egress-only gateway either.",
        _private_routes_stay_private,
        "associate the subnet with its tier's route table (the network component's private or isolated tables); only public tables route to the IGW",
        id="KANNA-NET-007",
    ),
    stack_policy(
        "vpc-flow-logs",
        "Every VPC has a flow log of ALL traffic, kept at least the stack's minimum retention.",
        _vpc_flow_logs,
        "keep the network component's aws.ec2.FlowLog (traffic_type ALL) to its log group, with flowLogRetentionDays >= the minimum",
        PolicyConfigSchema(properties={"minimumRetentionDays": {"type": "integer", "minimum": 1, "default": 365}}),
        id="KANNA-NET-008",
        controls=("AWS FSBP EC2.6", "CIS AWS 3.7"),
    ),
    stack_policy(
        "default-security-group-closed",
        "Every VPC manages its default security group with no rules, so nothing that falls back to it gets traffic.",
        _default_group_closed,
        "keep the network component's aws.ec2.DefaultSecurityGroup with no ingress or egress, and attach no rule to it",
        id="KANNA-NET-009",
        controls=("AWS FSBP EC2.2", "CIS AWS 5.4"),
    ),
    stack_policy(
        "no-world-ingress",
        "No security group admits 0.0.0.0/0, ::/0 or a broad public range, inline or through separate rule resources.",
        _no_world_ingress,
        "admit a security group or a managed prefix list (CloudFront's for the ALB) instead of the internet",
        id="KANNA-NET-005",
        controls=("AWS FSBP EC2.18", "AWS FSBP EC2.19"),
    ),
]
