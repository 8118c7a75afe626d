"""The VPC: three subnet tiers per AZ, NAT, VPC endpoints, flow logs and a locked default security group.

- public: the ALB and the NAT gateways only; the only tier that maps public IPs.
- private: application tasks; egress through NAT, AWS APIs through VPC endpoints.
- isolated: data stores; no route to the internet at all (S3/DynamoDB gateway endpoints only).

Interface endpoints keep image pulls, logs, secrets and SSM traffic off the NAT gateways, which both
removes NAT data-processing cost and keeps that traffic inside the VPC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.context import InContext
from components.lib.iam import trust_policy
from settings import NetworkSettings

GATEWAY_ENDPOINTS = ("s3", "dynamodb")
# What a private Fargate task needs with no NAT in its path: image pulls (ecr.api, ecr.dkr, and S3 for
# layers), logs, secrets, SSM/ECS Exec sessions (ssm, ssmmessages, ec2messages), KMS and STS.
# `rds`: AWS's rotation functions read an RDS-managed master secret, which holds only the user and password, and
# look the cluster's host and port up with the RDS API (DescribeDBClusters); without a route to it, the first
# rotation of every application user fails 30 days after deploy, silently (the tasks keep their password).
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "ssmmessages", "ec2messages", "kms", "sts", "rds")


@dataclass(frozen=True, kw_only=True)
class NetworkArgs(InContext):
    settings: NetworkSettings


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    isolated_subnet_ids: list[pulumi.Output[str]]
    endpoint_security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:network:Network", name, None, opts)
        self._env = env = args.env
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)

        self.vpc = aws.ec2.Vpc(
            f"{env}-vpc",
            cidr_block=str(s.vpc_cidr),
            enable_dns_support=True,  # interface endpoints' private DNS needs both
            enable_dns_hostnames=True,
            tags={"Name": f"{env}-vpc"},
            opts=child,
        )
        # Taking over the default security group with no rules: nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(f"{env}-default-sg", vpc_id=self.vpc.id, tags={"Name": f"{env}-default-deny"}, opts=child)
        igw = aws.ec2.InternetGateway(f"{env}-igw", vpc_id=self.vpc.id, tags={"Name": f"{env}-igw"}, opts=child)

        azs = s.availability_zones
        public = [self._subnet("public", az, str(cidr), public=True) for az, cidr in zip(azs, s.public_subnets, strict=True)]
        private = [self._subnet("private", az, str(cidr)) for az, cidr in zip(azs, s.private_subnets, strict=True)]
        isolated = [self._subnet("isolated", az, str(cidr)) for az, cidr in zip(azs, s.isolated_subnets, strict=True)]

        public_rt = self._route_table("public", public)
        aws.ec2.Route(
            f"{env}-public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=child
        )

        nat_azs = azs if s.nat_gateways == "perAz" else azs[:1]
        nats = [self._nat(az, subnet) for az, subnet in zip(nat_azs, public, strict=False)]
        private_rts = []
        for index, (az, subnet) in enumerate(zip(azs, private, strict=True)):
            rt = self._route_table(f"private-{az[-1]}", [subnet])
            nat = nats[index] if len(nats) > 1 else nats[0]
            aws.ec2.Route(
                f"{env}-private-{az[-1]}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
                opts=child,
            )
            private_rts.append(rt)
        # The isolated tier's table has the VPC-local route and the gateway endpoints, nothing else.
        isolated_rt = self._route_table("isolated", isolated)

        for service in GATEWAY_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{env}-{service}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[rt.id for rt in [*private_rts, isolated_rt]],
                tags={"Name": f"{env}-{service}"},
                opts=child,
            )

        endpoint_sg = aws.ec2.SecurityGroup(
            f"{env}-endpoints-sg",
            vpc_id=self.vpc.id,
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            tags={"Name": f"{env}-endpoints"},
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{env}-endpoints-https-from-vpc",
            security_group_id=endpoint_sg.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=str(s.vpc_cidr),
            description="HTTPS from the VPC",
            opts=child,
        )
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{env}-{service.replace('.', '-')}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in private],
                security_group_ids=[endpoint_sg.id],
                tags={"Name": f"{env}-{service}"},
                opts=child,
            )

        self._flow_logs(s.flow_log_retention_days, args.logs_key_arn, args.protect)

        self.public_subnet_ids = [subnet.id for subnet in public]
        self.private_subnet_ids = [subnet.id for subnet in private]
        self.isolated_subnet_ids = [subnet.id for subnet in isolated]
        self.endpoint_security_group_id = endpoint_sg.id
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
                "isolatedSubnetIds": self.isolated_subnet_ids,
                "endpointSecurityGroupId": self.endpoint_security_group_id,
            }
        )

    def outputs(self) -> dict[str, object]:
        """The stack outputs of the network."""
        return {"vpcId": self.vpc.id, "privateSubnetIds": self.private_subnet_ids, "isolatedSubnetIds": self.isolated_subnet_ids}

    def _subnet(self, tier: str, az: str, cidr: str, public: bool = False) -> aws.ec2.Subnet:
        name = f"{self._env}-{tier}-{az[-1]}"
        return aws.ec2.Subnet(
            name,
            vpc_id=self.vpc.id,
            availability_zone=az,
            cidr_block=cidr,
            map_public_ip_on_launch=public,
            tags={"Name": name, "Tier": tier},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _route_table(self, name: str, subnets: list[aws.ec2.Subnet]) -> aws.ec2.RouteTable:
        child = pulumi.ResourceOptions(parent=self)
        rt = aws.ec2.RouteTable(f"{self._env}-{name}-rt", vpc_id=self.vpc.id, tags={"Name": f"{self._env}-{name}"}, opts=child)
        for subnet in subnets:
            aws.ec2.RouteTableAssociation(
                f"{subnet._name}-rta",
                subnet_id=subnet.id,
                route_table_id=rt.id,
                opts=child,
            )
        return rt

    def _nat(self, az: str, subnet: aws.ec2.Subnet) -> aws.ec2.NatGateway:
        child = pulumi.ResourceOptions(parent=self)
        name = f"{self._env}-nat-{az[-1]}"
        eip = aws.ec2.Eip(f"{name}-eip", domain="vpc", tags={"Name": name}, opts=child)
        return aws.ec2.NatGateway(name, allocation_id=eip.id, subnet_id=subnet.id, tags={"Name": name}, opts=child)

    def _flow_logs(self, retention_days: int, key_arn: pulumi.Input[str], protect: bool) -> None:
        child = pulumi.ResourceOptions(parent=self)
        name = f"{self._env}-vpc-flow-logs"
        group = aws.cloudwatch.LogGroup(
            name,
            name=f"/kanna/{self._env}/vpc-flow-logs",
            retention_in_days=retention_days,
            kms_key_id=key_arn,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),  # the network's audit trail
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=trust_policy("vpc-flow-logs.amazonaws.com"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-write",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            name,
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": name},
            opts=child,
        )
