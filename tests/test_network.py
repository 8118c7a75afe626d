"""The network component, on the real dev and prod stacks."""

from __future__ import annotations

import ipaddress
import json

from components.network.network import INTERFACE_ENDPOINTS
from tests.kit import UNKNOWN, RecordedStack

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"


def subnets(stack: RecordedStack, tier: str) -> list:
    return [s for s in stack.of_type(SUBNET) if s.inputs["tags"]["Tier"] == tier]


def default_route_target(stack: RecordedStack, subnet) -> str | None:
    """The type of what the subnet's 0.0.0.0/0 route points at, followed through property dependencies."""
    associations = [a for a in stack.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation") if subnet in stack.deps(a, "subnetId")]
    assert len(associations) == 1
    (table,) = stack.deps(associations[0], "routeTableId")
    routes = [
        r for r in stack.of_type(ROUTE) if table in stack.deps(r, "routeTableId") and r.inputs.get("destinationCidrBlock") == "0.0.0.0/0"
    ]
    if not routes:
        return None
    (route,) = routes
    targets = stack.deps(route, "gatewayId") + stack.deps(route, "natGatewayId")
    return targets[0].type


def test_three_tiers_in_three_azs_with_the_configured_cidrs(each_stack: RecordedStack) -> None:
    vpc = each_stack.of_type("aws:ec2/vpc:Vpc")[0]
    vpc_net = ipaddress.ip_network(vpc.inputs["cidrBlock"])
    for tier in ("public", "private", "isolated"):
        found = subnets(each_stack, tier)
        assert sorted(s.inputs["availabilityZone"] for s in found) == ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
        for subnet in found:
            assert ipaddress.ip_network(subnet.inputs["cidrBlock"]).subnet_of(vpc_net)
            assert each_stack.deps(subnet, "vpcId") == [vpc]
            assert subnet.inputs["mapPublicIpOnLaunch"] is (tier == "public")
    assert all(ipaddress.ip_network(s.inputs["cidrBlock"]).prefixlen <= 20 for s in subnets(each_stack, "private"))


def test_routes_per_tier(each_stack: RecordedStack) -> None:
    assert {default_route_target(each_stack, s) for s in subnets(each_stack, "public")} == {"aws:ec2/internetGateway:InternetGateway"}
    assert {default_route_target(each_stack, s) for s in subnets(each_stack, "private")} == {"aws:ec2/natGateway:NatGateway"}
    assert {default_route_target(each_stack, s) for s in subnets(each_stack, "isolated")} == {None}


def test_nat_gateway_per_az_in_prod_and_one_in_dev(prod: RecordedStack, dev: RecordedStack) -> None:
    prod_nats = prod.of_type("aws:ec2/natGateway:NatGateway")
    assert len(prod_nats) == 3
    # Each private subnet leaves through the NAT gateway in its own AZ.
    for nat in prod_nats:
        (public_subnet,) = prod.deps(nat, "subnetId")
        assert public_subnet.inputs["tags"]["Tier"] == "public"
    assert len({prod.deps(n, "subnetId")[0].inputs["availabilityZone"] for n in prod_nats}) == 3
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1


def test_endpoints(each_stack: RecordedStack) -> None:
    endpoints = each_stack.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    by_service = {
        e.inputs["serviceName"].rsplit(".", 1)[-1]
        if "ecr" not in e.inputs["serviceName"]
        else e.inputs["serviceName"].split("ap-northeast-1.")[1]: e
        for e in endpoints
    }
    assert {k for k, e in by_service.items() if e.inputs["vpcEndpointType"] == "Gateway"} == {"s3", "dynamodb"}
    interface = {k for k, e in by_service.items() if e.inputs["vpcEndpointType"] == "Interface"}
    assert interface == set(INTERFACE_ENDPOINTS) >= {"ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "ssmmessages", "kms", "sts"}
    (endpoint_sg,) = each_stack.of_type("aws:ec2/securityGroup:SecurityGroup", under=each_stack.of_type("kanna:network:Network")[0].name)
    for endpoint in endpoints:
        if endpoint.inputs["vpcEndpointType"] == "Interface":
            assert endpoint.inputs["privateDnsEnabled"] is True
            assert each_stack.deps(endpoint, "securityGroupIds") == [endpoint_sg]
            assert {s.inputs["tags"]["Tier"] for s in each_stack.deps(endpoint, "subnetIds")} == {"private"}
        else:
            tables = each_stack.deps(endpoint, "routeTableIds")
            assert len(tables) == 4  # three private tables and the isolated one
    (rule,) = each_stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", under=each_stack.component_of(endpoint_sg))
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["cidrIpv4"]) == (
        443,
        443,
        each_stack.of_type("aws:ec2/vpc:Vpc")[0].inputs["cidrBlock"],
    )


def test_flow_logs_and_locked_default_security_group(each_stack: RecordedStack) -> None:
    (flow_log,) = each_stack.of_type("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == "ALL"
    (group,) = each_stack.deps(flow_log, "logDestination")
    assert group.type == "aws:cloudwatch/logGroup:LogGroup"
    assert group.inputs["retentionInDays"] > 0
    (key,) = each_stack.deps(group, "kmsKeyId")
    assert key.name.endswith("-logs-key")
    (default_sg,) = each_stack.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert "ingress" not in default_sg.inputs and "egress" not in default_sg.inputs


def test_first_preview_leaves_ids_unknown(each_stack: RecordedStack) -> None:
    subnet = each_stack.of_type(SUBNET)[0]
    assert (subnet.inputs["vpcId"] == UNKNOWN) is (each_stack.recording.mode == "first")


def test_every_resource_has_an_explicit_provider_with_default_tags_and_account_guard(each_stack: RecordedStack) -> None:
    providers = {r.urn: r for r in each_stack.of_type("pulumi:providers:aws")}
    regional = [p for p in providers.values() if p.inputs["region"] == "ap-northeast-1"]
    assert len(regional) == 1
    # Providers receive structured config as JSON text, as the engine passes it.
    tags = json.loads(regional[0].inputs["defaultTags"])["tags"]
    assert tags["Stack"] == each_stack.recording.stack and tags["ManagedBy"] == "pulumi"
    assert json.loads(regional[0].inputs["allowedAccountIds"]) in (["111111111111"], ["222222222222"])
    for registration in each_stack.registrations:
        if registration.custom and registration.type.startswith("aws:"):
            assert registration.provider.rsplit("::", 1)[0] in providers, registration.urn


def test_network_outputs_are_registered(each_stack: RecordedStack) -> None:
    (network,) = each_stack.of_type("kanna:network:Network")
    assert set(network.outputs) >= {"vpcId", "publicSubnetIds", "privateSubnetIds", "isolatedSubnetIds", "endpointSecurityGroupId"}
    assert len(network.outputs["privateSubnetIds"]) == 3


def test_keys_rotate_and_are_protected_in_prod(prod: RecordedStack, dev: RecordedStack) -> None:
    for stack, protected in ((prod, True), (dev, False)):
        keys = stack.of_type("aws:kms/key:Key")
        assert {k.name.split("-", 1)[1] for k in keys} == {"data-key", "logs-key", "secrets-key"}
        assert all(k.inputs["enableKeyRotation"] is True for k in keys)
        assert all(k.protect is protected for k in keys)
