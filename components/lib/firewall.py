"""The security group of a data store, and the rules that admit its clients: written once for every store."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def store_security_group(parent: pulumi.Resource, base: str, vpc_id: pulumi.Input[str], port: int) -> aws.ec2.SecurityGroup:
    """A group with no rules at all: only `admit` opens the store's port, to named client groups."""
    return aws.ec2.SecurityGroup(
        f"{base}-sg",
        vpc_id=vpc_id,
        description=f"{base}: port {port} from its client services only",
        tags={"Name": f"{base}-sg"},
        opts=pulumi.ResourceOptions(parent=parent),
    )


def admit(parent: pulumi.Resource, base: str, group: aws.ec2.SecurityGroup, port: int, clients: Mapping[str, pulumi.Input[str]]) -> None:
    """One ingress rule per client (a name -> its task security group id), on the store's port only."""
    for client, client_group in sorted(clients.items()):
        aws.vpc.SecurityGroupIngressRule(
            f"{base}-from-{client}",
            security_group_id=group.id,
            referenced_security_group_id=client_group,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"{client} tasks",
            opts=pulumi.ResourceOptions(parent=parent),
        )
