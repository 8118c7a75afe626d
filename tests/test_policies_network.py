"""Private-subnet policies over gRPC: a compliant case, a violating case and an unknown-values case each."""

from __future__ import annotations

import pytest

from policies import network
from preflight.analyzer import PolicyPack
from tests.kit import UNKNOWN, deferred, judge, res, violations

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
    return [vpc, subnet, *([gateway] if gateway else []), table, *routes, association]


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
