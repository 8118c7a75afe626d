"""Network settings: the VPC, its three subnet tiers over the availability zones, NAT and flow logs."""

from __future__ import annotations

import ipaddress
from itertools import combinations
from typing import Literal

from pydantic import Field, field_validator

from .base import Problem, RetentionDays, Section
from .regions import DEFAULT_REGION, REGIONS

IPv4Net = ipaddress.IPv4Network

# Application subnets must hold thousands of Fargate task ENIs: /27 subnets ran out of addresses before.
MAX_PRIVATE_PREFIX = 20


def _net(value: object) -> IPv4Net:
    try:
        return ipaddress.IPv4Network(str(value))
    except ValueError as exc:
        raise ValueError(f"{exc}; allowed: an IPv4 network in CIDR form with no host bits, such as 10.0.0.0/16") from None


class NetworkSettings(Section):
    """One VPC over (by default) three AZs. Defaults suit prod: three AZs, a NAT gateway per AZ."""

    vpc_cidr: IPv4Net = Field(default=IPv4Net("10.0.0.0/16"), description="The VPC's IPv4 range, /16 to /20.")
    availability_zones: list[str] = Field(
        default=list(REGIONS[DEFAULT_REGION].availability_zones),
        description="The AZs to span, one subnet of each tier per AZ, all in the stack's region. Prod needs at least 3.",
    )
    nat_gateways: Literal["perAz", "single"] = Field(
        default="perAz",
        description="perAz keeps egress alive when an AZ fails (prod); single saves ~$45/month per AZ (dev).",
    )
    public_subnets: list[IPv4Net] = Field(
        default=[IPv4Net("10.0.0.0/24"), IPv4Net("10.0.1.0/24"), IPv4Net("10.0.2.0/24")],
        description="Public tier, one per AZ: the ALB and NAT gateways only.",
    )
    private_subnets: list[IPv4Net] = Field(
        default=[IPv4Net("10.0.16.0/20"), IPv4Net("10.0.32.0/20"), IPv4Net("10.0.48.0/20")],
        description="Private tier, one per AZ: application tasks. At least /20 each.",
    )
    isolated_subnets: list[IPv4Net] = Field(
        default=[IPv4Net("10.0.8.0/24"), IPv4Net("10.0.9.0/24"), IPv4Net("10.0.10.0/24")],
        description="Isolated tier, one per AZ: data stores, no route to the internet.",
    )
    flow_log_retention_days: RetentionDays = Field(default=365, description="Retention of the VPC flow log group.")

    @field_validator("vpc_cidr", mode="before")
    @classmethod
    def _vpc_cidr(cls, value: object) -> IPv4Net:
        net = _net(value)
        if not 16 <= net.prefixlen <= 20:
            raise ValueError("a VPC must be /16 to /20; allowed: a prefix length from 16 to 20")
        return net

    @field_validator("public_subnets", "isolated_subnets", mode="before")
    @classmethod
    def _subnets(cls, value: object) -> list[IPv4Net]:
        nets = [_net(v) for v in value] if isinstance(value, list) else value
        for net in nets if isinstance(nets, list) else []:
            if not 16 <= net.prefixlen <= 28:
                raise ValueError(f"{net} is not /16 to /28; allowed: subnets AWS can create, /16 to /28")
        return nets  # type: ignore[return-value]

    @field_validator("private_subnets", mode="before")
    @classmethod
    def _private_subnets(cls, value: object) -> list[IPv4Net]:
        nets = [_net(v) for v in value] if isinstance(value, list) else value
        for net in nets if isinstance(nets, list) else []:
            if not 16 <= net.prefixlen <= MAX_PRIVATE_PREFIX:
                raise ValueError(
                    f"{net} is too small for application tasks; allowed: /16 to /{MAX_PRIVATE_PREFIX} (4,091+ addresses per AZ)"
                )
        return nets  # type: ignore[return-value]

    @field_validator("availability_zones")
    @classmethod
    def _azs(cls, value: list[str]) -> list[str]:
        # Whether each is an AZ of the stack's region is a check across sections (Settings._region_problems).
        if len(set(value)) != len(value):
            raise ValueError("an AZ is listed twice; allowed: distinct AZs")
        if not value:
            raise ValueError("no AZ given; allowed: 1 to 3 distinct AZs (3 in prod)")
        return value

    def problems(self, prod: bool) -> list[Problem]:
        """Checks across fields: one subnet per AZ and tier, inside the VPC, none overlapping; prod rules."""
        found: list[Problem] = []
        az_count = len(self.availability_zones)
        if prod and az_count < 3:
            found.append(Problem(("availabilityZones",), self.availability_zones, "prod needs 3 AZs; allowed: 3 distinct AZs"))
        if prod and self.nat_gateways != "perAz":
            found.append(Problem(("natGateways",), self.nat_gateways, "prod keeps a NAT gateway per AZ; allowed: perAz"))
        tiers = {"publicSubnets": self.public_subnets, "privateSubnets": self.private_subnets, "isolatedSubnets": self.isolated_subnets}
        placed: list[tuple[tuple[str | int, ...], IPv4Net]] = []
        for key, nets in tiers.items():
            if len(nets) != az_count:
                found.append(
                    Problem(
                        (key,), [str(n) for n in nets], f"{len(nets)} subnets for {az_count} AZs; allowed: exactly one per AZ ({az_count})"
                    )
                )
            for index, net in enumerate(nets):
                if not net.subnet_of(self.vpc_cidr):
                    found.append(
                        Problem((key, index), str(net), f"does not fit the VPC {self.vpc_cidr}; allowed: a subnet inside {self.vpc_cidr}")
                    )
                placed.append(((key, index), net))
        for (path_a, a), (path_b, b) in combinations(placed, 2):
            if a.overlaps(b):
                where = ".".join(map(str, path_a)).replace(".", "[", 1) + "]"
                found.append(Problem(path_b, str(b), f"overlaps {where} ({a}); allowed: a range no other subnet uses"))
        return found
