"""IAM Identity Center: how humans get into the accounts, with short sessions and no long-lived keys.

Three permission sets, each a set of AWS managed policies (plus, for developers, a deny on reading data):

- administrator: AdministratorAccess, for a 1-hour session (break-glass and the bootstrap stack itself);
- sre: PowerUserAccess and read access to IAM, for on-call work, 4 hours;
- developer-readonly: ReadOnlyAccess, minus reading customer data and secrets, 8 hours.

Groups come from the identity store by id (settings), and are assigned a permission set per account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .settings import Assignment

MANAGED = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class PermissionSetSpec:
    description: str
    session: str  # ISO 8601 duration
    managed_policies: list[str]
    inline_policy: dict | None = field(default=None)


# ReadOnlyAccess also reads data planes (S3 objects, parameters, queues): developers see how prod is built, not its data.
NO_DATA_READS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "NoCustomerDataOrSecrets",
            "Effect": "Deny",
            "Action": [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "secretsmanager:GetSecretValue",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:GetParametersByPath",
                "kms:Decrypt",
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "rds-data:ExecuteStatement",
                "sqs:ReceiveMessage",
                "athena:GetQueryResults",
            ],
            "Resource": "*",
        }
    ],
}

PERMISSION_SETS: dict[str, PermissionSetSpec] = {
    "administrator": PermissionSetSpec("Full administration (break-glass, bootstrap)", "PT1H", [f"{MANAGED}AdministratorAccess"]),
    "sre": PermissionSetSpec(
        "On-call operations without IAM changes", "PT4H", [f"{MANAGED}PowerUserAccess", f"{MANAGED}IAMReadOnlyAccess"]
    ),
    "developer-readonly": PermissionSetSpec("Read-only, no customer data or secrets", "PT8H", [f"{MANAGED}ReadOnlyAccess"], NO_DATA_READS),
}


@dataclass(frozen=True)
class IdentityArgs:
    instance_arn: str
    groups: dict[str, str]  # group key -> identity store group id
    assignments: list[Assignment]
    account_ids: dict[str, str]  # account key -> id


class Identity(pulumi.ComponentResource):
    permission_sets: dict[str, aws.ssoadmin.PermissionSet]

    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:bootstrap:Identity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.permission_sets = {}
        for key, spec in PERMISSION_SETS.items():
            permission_set = aws.ssoadmin.PermissionSet(
                f"permission-set-{key}",
                name=key,
                description=spec.description,
                instance_arn=args.instance_arn,
                session_duration=spec.session,
                opts=child,
            )
            for policy in spec.managed_policies:
                aws.ssoadmin.ManagedPolicyAttachment(
                    f"permission-set-{key}-{policy.rsplit('/', 1)[-1]}",
                    instance_arn=args.instance_arn,
                    permission_set_arn=permission_set.arn,
                    managed_policy_arn=policy,
                    opts=child,
                )
            if spec.inline_policy is not None:
                aws.ssoadmin.PermissionSetInlinePolicy(
                    f"permission-set-{key}-inline",
                    instance_arn=args.instance_arn,
                    permission_set_arn=permission_set.arn,
                    inline_policy=json.dumps(spec.inline_policy),
                    opts=child,
                )
            self.permission_sets[key] = permission_set
        for assignment in args.assignments:
            for account in assignment.accounts:
                aws.ssoadmin.AccountAssignment(
                    f"assignment-{assignment.group}-{assignment.permission_set}-{account}",
                    instance_arn=args.instance_arn,
                    permission_set_arn=self.permission_sets[assignment.permission_set].arn,
                    principal_type="GROUP",
                    principal_id=args.groups[assignment.group],
                    target_type="AWS_ACCOUNT",
                    target_id=args.account_ids[account],
                    opts=child,
                )
        self.register_outputs({key: ps.arn for key, ps in self.permission_sets.items()})
