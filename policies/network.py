"""Private subnets: tasks and data stores never face the internet, and only the public tier maps public IPs.

Which subnet a service or a data store sits in, and which gateway a subnet routes to, are found through
property dependencies (service -> subnet <- route table association -> route table <- route -> gateway),
so these checks hold in a first preview, when no id is known yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, StackIndex, defer, get, resource_policy, stack_policy

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
]
