"""Private-subnet policies over gRPC: a compliant case, a violating case and an unknown-values case each."""

from __future__ import annotations

import pytest

from policies import network
from preflight.analyzer import PolicyPack
from tests.conftest import recording
from tests.kit import UNKNOWN, deferred, judge, mutate, res, violations

IGW, NAT = "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway"
SUBNET, TABLE = "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable"
SERVICE = "aws:ecs/service:Service"


def tier(name: str, gateway_type: str | None, *, maps_public: bool = False, known: bool = True, inline: bool = False) -> list:
    """A subnet, its route table and association, and a default route to `gateway_type` (None: no route)."""
    vpc = res("aws:ec2/vpc:Vpc", f"{name}-vpc", {"cidrBlock": "10.0.0.0/16"})
    ident = (lambda value: value) if known else (lambda _: UNKNOWN)
    subnet = res(SUBNET, name, {"vpcId": ident("vpc-1"), "mapPublicIpOnLaunch": maps_public}, {"vpcId": [vpc]})
    gateway = res(gateway_type, f"{name}-gw", {}) if gateway_type else None
    if inline and gateway:
        table = res(TABLE, f"{name}-rt", {"routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": ident("igw-1")}]}, {"routes": [gateway]})
        routes = []
    else:
        table = res(TABLE, f"{name}-rt", {"vpcId": ident("vpc-1")}, {"vpcId": [vpc]})
        prop = "natGatewayId" if gateway_type == NAT else "gatewayId"
        routes = (
            [
                res(
                    "aws:ec2/route:Route",
                    f"{name}-default",
                    {"routeTableId": ident("rtb-1"), "destinationCidrBlock": "0.0.0.0/0", prop: ident("gw-1")},
                    {"routeTableId": [table], prop: [gateway]},
                )
            ]
            if gateway
            else []
        )
    association = res(
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        f"{name}-rta",
        {"subnetId": ident("subnet-1"), "routeTableId": ident("rtb-1")},
        {"subnetId": [subnet], "routeTableId": [table]},
    )
    return [vpc, subnet, *([gateway] if gateway else []), table, *routes, association, *vpc_baseline(vpc, name)]


def vpc_baseline(vpc: object, name: str) -> list:
    """A year of flow logs and a closed default security group (vpc-flow-logs', default-security-group-closed's concerns)."""
    group = res("aws:cloudwatch/logGroup:LogGroup", f"{name}-flow-group", {"retentionInDays": 365.0})
    flow = res("aws:ec2/flowLog:FlowLog", f"{name}-flow", {"trafficType": "ALL"}, {"vpcId": [vpc], "logDestination": [group]})
    return [group, flow, res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", f"{name}-default-sg", {}, {"vpcId": [vpc]})]


def service(subnets: list, assign_public_ip: object = False, known: bool = True) -> object:
    network = {"subnets": ["subnet-1" if known else UNKNOWN], "assignPublicIp": assign_public_ip}
    spot = [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]  # placement is policies/compute.py's concern
    breaker = {"enable": True, "rollback": True}  # deploys are policies/deploy.py's concern
    props = {"networkConfiguration": network, "capacityProviderStrategies": spot, "deploymentCircuitBreaker": breaker}
    return res(SERVICE, "svc", props, {"networkConfiguration": subnets})


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_service_in_private_subnet_passes(pack: PolicyPack, known: bool) -> None:
    private = tier("private-a", NAT, known=known)
    assert violations(judge(pack, [*private, service([private[1]], known=known)])) == []


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
@pytest.mark.parametrize("inline", [False, True], ids=["route-resource", "inline-route"])
def test_service_in_public_subnet_fails(pack: PolicyPack, known: bool, inline: bool) -> None:
    public = tier("public-a", IGW, maps_public=True, known=known, inline=inline)
    (found,) = violations(judge(pack, [*public, service([public[1]], known=known)]), "ecs-service-private-subnets")
    assert "Service 'svc'" in found.message and "'public-a'" in found.message and "internet gateway" in found.message
    assert "Fix: pass the network component's private_subnet_ids" in found.message


def test_service_in_foreign_subnets_fails(pack: PolicyPack) -> None:
    (found,) = violations(judge(pack, [service([])]), "ecs-service-private-subnets")
    assert "not this stack's" in found.message


def test_public_ip_on_service_fails(pack: PolicyPack) -> None:
    private = tier("private-a", NAT)
    (found,) = violations(judge(pack, [*private, service([private[1]], assign_public_ip=True)]), "ecs-service-no-public-ip")
    assert "assigns public IPs" in found.message and "Fix: set network_configuration.assign_public_ip=False" in found.message


def test_unknown_public_ip_setting_is_deferred_not_passed(pack: PolicyPack) -> None:
    private = tier("private-a", NAT)
    diagnostics = judge(pack, [*private, service([private[1]], assign_public_ip=UNKNOWN)])
    assert violations(diagnostics, "ecs-service-no-public-ip") == []
    assert len(deferred(diagnostics, "ecs-service-no-public-ip")) == 1


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_public_ip_mapping_only_in_public_tier(pack: PolicyPack, known: bool) -> None:
    public = tier("public-a", IGW, maps_public=True, known=known)
    assert violations(judge(pack, public), "public-ip-only-in-public-tier") == []
    private = tier("private-a", NAT, maps_public=True, known=known)
    (found,) = violations(judge(pack, private), "public-ip-only-in-public-tier")
    assert "Subnet 'private-a'" in found.message and "map_public_ip_on_launch=False" in found.message


def db_cluster(subnets: list, known: bool = True) -> list:
    group = res(
        "aws:rds/subnetGroup:SubnetGroup", "db-subnets", {"subnetIds": [UNKNOWN if not known else "subnet-1"]}, {"subnetIds": subnets}
    )
    cluster = res(
        "aws:rds/cluster:Cluster", "db", {"dbSubnetGroupName": UNKNOWN if not known else "db-subnets"}, {"dbSubnetGroupName": [group]}
    )
    instance = res(
        "aws:rds/clusterInstance:ClusterInstance",
        "db-1",
        {"publiclyAccessible": False, "clusterIdentifier": "db"},
        {"clusterIdentifier": [cluster]},
    )
    return [group, cluster, instance]


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_database_in_isolated_subnets_passes(pack: PolicyPack, known: bool) -> None:
    isolated = tier("isolated-a", None, known=known)
    diagnostics = judge(pack, [*isolated, *db_cluster([isolated[1]], known)])
    assert [d for d in violations(diagnostics) if d.policy in {p.name for p in network.POLICIES}] == []


@pytest.mark.parametrize("gateway", [IGW, NAT], ids=["public-subnet", "private-subnet"])
@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_database_in_routed_subnet_fails(pack: PolicyPack, gateway: str, known: bool) -> None:
    routed = tier("routed-a", gateway, known=known)
    (found,) = violations(judge(pack, [*routed, *db_cluster([routed[1]], known)]), "data-store-isolated-subnets")
    assert "SubnetGroup 'db-subnets'" in found.message and "'routed-a'" in found.message


def test_database_without_subnet_group_fails(pack: PolicyPack) -> None:
    cluster = res("aws:rds/cluster:Cluster", "db", {"engine": "aurora-mysql"})
    (found,) = violations(judge(pack, [cluster]), "data-store-isolated-subnets")
    assert "default VPC" in found.message


@pytest.mark.parametrize("public", [False, True, UNKNOWN], ids=["private", "public", "unknown"])
def test_database_never_publicly_accessible(pack: PolicyPack, public: object) -> None:
    instance = res("aws:rds/clusterInstance:ClusterInstance", "db-1", {"publiclyAccessible": public})
    diagnostics = judge(pack, [instance])
    found = violations(diagnostics, "data-store-not-public")
    assert len(found) == (1 if public is True else 0)
    assert len(deferred(diagnostics, "data-store-not-public")) == (1 if public is UNKNOWN else 0)


def test_route_to_a_literal_gateway_id_outside_the_stack_counts(pack: PolicyPack) -> None:
    private = tier("private-a", None)
    subnet, table = private[1], private[2]
    route = res("aws:ec2/route:Route", "to-igw", {"destinationCidrBlock": "0.0.0.0/0", "gatewayId": "igw-0abc"}, {"routeTableId": [table]})
    (found,) = violations(judge(pack, [*private, route, service([subnet])]), "ecs-service-private-subnets")
    assert "internet gateway" in found.message


# --- route tables by tier, flow logs, default security group, world ingress -----------------------------------

VPC, FLOW_LOG, LOG_GROUP = "aws:ec2/vpc:Vpc", "aws:ec2/flowLog:FlowLog", "aws:cloudwatch/logGroup:LogGroup"
DEFAULT_SG, SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:ec2/securityGroup:SecurityGroup"
INGRESS, SG_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/securityGroupRule:SecurityGroupRule"


def tagged(name: str, tier_tag: object, gateway_type: str | None, known: bool = True) -> list:
    found = tier(name, gateway_type, known=known)
    found[1].inputs["tags"] = {"Tier": tier_tag, "Name": name}
    return found


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_private_and_isolated_route_tables_stay_off_the_internet(pack: PolicyPack, known: bool) -> None:
    policy = "private-route-tables-no-internet"
    fine = [
        *tagged("public-a", "public", IGW, known),
        *tagged("private-a", "private", NAT, known),
        *tagged("iso-a", "isolated", None, known),
    ]
    assert violations(judge(pack, fine), policy) == []
    (found,) = violations(judge(pack, tagged("private-b", "private", IGW, known)), policy)
    assert "Subnet 'private-b': is a private subnet whose route table routes to an internet gateway" in found.message
    (found,) = violations(judge(pack, tagged("iso-b", "isolated", NAT, known)), policy)
    assert "Subnet 'iso-b': is an isolated subnet whose route table routes to a NAT gateway" in found.message
    diagnostics = judge(pack, tagged("x", UNKNOWN, IGW, known))
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


def flow_logged(retention: object = 365.0, traffic: object = "ALL", log: bool = True) -> list:
    vpc = res(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"})
    group = res(LOG_GROUP, "flow-group", {"retentionInDays": retention})
    flow = res(
        FLOW_LOG, "flow", {"vpcId": UNKNOWN, "trafficType": traffic, "logDestination": UNKNOWN}, {"vpcId": [vpc], "logDestination": [group]}
    )
    return [vpc, group, *([flow] if log else [])]


def test_every_vpc_keeps_flow_logs_as_long_as_the_stack_requires(pack: PolicyPack) -> None:
    policy = "vpc-flow-logs"
    assert violations(judge(pack, flow_logged(365.0)), policy) == []
    assert violations(judge(pack, flow_logged(30.0), "dev"), policy) == []  # dev's settings keep 30 days
    (found,) = violations(judge(pack, flow_logged(90.0)), policy)
    assert "Vpc 'vpc': flow log 'flow' keeps its records 90 days (log group 'flow-group'), below this stack's 365" in found.message
    (found,) = violations(judge(pack, flow_logged(log=False)), policy)
    assert "has no flow log of ALL traffic" in found.message
    (found,) = violations(judge(pack, flow_logged(traffic="REJECT")), policy)
    assert "has no flow log of ALL traffic" in found.message
    diagnostics = judge(pack, flow_logged(UNKNOWN))
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


def test_recorded_flow_log_retention_cut_fails_in_prod(pack: PolicyPack) -> None:
    cut = mutate(recording("prod", "first"), LOG_GROUP, "prod-vpc-flow-logs", lambda r: r.inputs.update(retentionInDays=30.0))
    (found,) = violations(judge(pack, cut), "vpc-flow-logs")
    assert "Vpc 'prod-vpc'" in found.message and "30 days" in found.message


def closed_default(props: dict | None = None, extra_rule: bool = False) -> list:
    vpc = res(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"})
    default = res(DEFAULT_SG, "default-sg", {"vpcId": UNKNOWN, **(props or {})}, {"vpcId": [vpc]})
    rule = res(
        INGRESS,
        "self",
        {"securityGroupId": UNKNOWN, "ipProtocol": "-1", "referencedSecurityGroupId": UNKNOWN},
        {"securityGroupId": [default]},
    )
    return [vpc, default, *([rule] if extra_rule else [])]


def test_default_security_group_has_no_rules(pack: PolicyPack) -> None:
    policy = "default-security-group-closed"
    assert violations(judge(pack, closed_default()), policy) == []
    (found,) = violations(
        judge(pack, closed_default({"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]})), policy
    )
    assert "Vpc 'vpc': its default security group 'default-sg' has egress rules" in found.message
    (found,) = violations(judge(pack, closed_default(extra_rule=True)), policy)
    assert "gets rule 'self'" in found.message
    (found,) = violations(judge(pack, closed_default()[:1]), policy)
    assert "leaves its default security group unmanaged" in found.message
    diagnostics = judge(pack, closed_default({"ingress": UNKNOWN}))
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


def opened(shape: str, cidr: object, port: float = 443.0) -> list:
    group = res(SG, "sg", {"vpcId": "vpc-1", "ingress": []})
    if shape == "inline":
        key = "ipv6CidrBlocks" if ":" in str(cidr) else "cidrBlocks"
        group.inputs["ingress"] = [{"protocol": "tcp", "fromPort": port, "toPort": port, key: [cidr]}]
        return [group]
    if shape == "vpc-rule":
        key = "cidrIpv6" if ":" in str(cidr) else "cidrIpv4"
        props = {"securityGroupId": UNKNOWN, "ipProtocol": "tcp", "fromPort": port, "toPort": port, key: cidr}
        return [group, res(INGRESS, "rule", props, {"securityGroupId": [group]})]
    props = {"type": "ingress", "securityGroupId": UNKNOWN, "protocol": "tcp", "fromPort": port, "toPort": port, "cidrBlocks": [cidr]}
    return [group, res(SG_RULE, "rule", props, {"securityGroupId": [group]})]


@pytest.mark.parametrize("shape", ["inline", "vpc-rule", "sg-rule"])
def test_no_security_group_admits_the_internet_however_the_rule_is_written(pack: PolicyPack, shape: str) -> None:
    assert violations(judge(pack, opened(shape, "10.0.0.0/16")), "no-world-ingress") == []
    for world in ("0.0.0.0/0", "::/0", "8.0.0.0/8"):
        (found,) = violations(judge(pack, opened(shape, world)), "no-world-ingress")
        assert f"allows ingress from {world} on 443-443/tcp" in found.message, found.message
    diagnostics = judge(pack, opened(shape, UNKNOWN))
    assert violations(diagnostics, "no-world-ingress") == [] and deferred(diagnostics, "no-world-ingress")
