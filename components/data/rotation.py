"""Rotation of applications' database users that running tasks survive: Secrets Manager's alternating users.

ECS injects a secret only when a task starts, so a user whose password changes in place (single-user
rotation, or RDS rotating its master secret every 7 days) locks out every new connection of the tasks
already running. The alternating-users strategy keeps the previous credentials valid: the first rotation
clones the user (`<user>_clone`), later ones change the password of whichever of the two is not current,
so the credentials a task was started with stay valid for a whole rotation period. The rotation function
logs in as the master user (the RDS-managed secret, named by the user secret's `masterarn` field) to clone
the user and set passwords; applications never see the master secret.
https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotation-strategy.html
https://docs.aws.amazon.com/secretsmanager/latest/userguide/tutorials_rotation-alternating.html

The function is AWS's own template (SecretsManagerRDS{MySQL,PostgreSQL}RotationMultiUser from the
Serverless Application Repository), one per engine and stack, in the private subnets. It needs the
Secrets Manager API, through the VPC's interface endpoint (private DNS resolves the public name to it),
and the database port; its security group allows exactly those two egresses, and the store admits it.
https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotation-function-network-access.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.lib.context import InContext

# AWS's templates, pinned (the versions aws-cdk's SecretRotationApplication pins for the aws partition).
TEMPLATES = {
    "mysql": ("SecretsManagerRDSMySQLRotationMultiUser", "1.1.671"),
    "postgres": ("SecretsManagerRDSPostgreSQLRotationMultiUser", "1.1.671"),
}
SAR_ACCOUNT = "297356227824"  # publishes the Secrets Manager rotation templates in us-east-1
ROTATION_DAYS = 30
# A label that stays on the version Pulumi wrote: without one, after two rotations the version has no
# label left, Secrets Manager deletes it and the next `up` writes the first password back as AWSCURRENT
# (terraform-aws-modules/terraform-aws-secrets-manager#24).
INITIAL_STAGE = "KANNA_INITIAL"


# The explicit exception to "every secret rotates" (policies/security.py, secrets-rotate): a tag on the secret
# itself, so the reason is next to the secret in AWS too. Tag values take letters, digits, spaces and + - = . _ : / @.
EXEMPT_TAG = "kanna:rotation-exempt"


def rotation_exempt(reason: str) -> dict[str, str]:
    """The tags of a secret that no Secrets Manager rotation function can rotate, saying why and how it rotates instead."""
    assert re.fullmatch(r"[\w .:/=+@-]{20,256}", reason), f"not a tag value or too short to be a reason: {reason!r}"
    return {EXEMPT_TAG: reason}


def user_name(service: str) -> str:
    """The database user of a service: an identifier (no quoting in GRANTs), short enough for `_clone`
    (MySQL user names take 32 characters, PostgreSQL's 63)."""
    name = service.replace("-", "_")
    assert name.isidentifier() and len(name) + len("_clone") <= 32, name
    return name


def initial_version(
    name: str, secret: aws.secretsmanager.Secret, value: pulumi.Input[str], parent: pulumi.Resource
) -> aws.secretsmanager.SecretVersion:
    """The first version of a secret that rotation owns afterwards: Pulumi writes it once and never again."""
    return aws.secretsmanager.SecretVersion(
        name,
        secret_id=secret.id,
        secret_string=value,
        version_stages=["AWSCURRENT", INITIAL_STAGE],
        # Rotation moves AWSCURRENT to the versions it writes; re-applying ours would revert to a retired password.
        # So a later change of host (a replaced cluster) is put into the secret by hand, not by Pulumi.
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["secretString", "versionStages"]),
    )


@dataclass(frozen=True, kw_only=True)
class RotationArgs(InContext):  # the secrets key encrypts the user secrets and the RDS-managed master secret
    engine: Literal["mysql", "postgres"]
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]  # private subnets: the interface endpoints live there
    endpoint_security_group_id: pulumi.Input[str]  # the interface endpoints' group (Secrets Manager API)
    store_security_group_id: pulumi.Input[str]
    port: int
    master_secret_arn: pulumi.Input[str]
    secrets: Mapping[str, aws.secretsmanager.Secret]  # service -> its user secret


class Rotation(pulumi.ComponentResource):
    security_group: aws.ec2.SecurityGroup
    application: aws.serverlessrepository.CloudFormationStack
    rotations: dict[str, aws.secretsmanager.SecretRotation]
    function_arn: str

    def __init__(self, name: str, args: RotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:data:Rotation", name, None, opts)
        base = f"{args.env}-{args.engine}-rotation"
        child = pulumi.ResourceOptions(parent=self)
        self.security_group = aws.ec2.SecurityGroup(
            f"{base}-sg",
            vpc_id=args.vpc_id,
            description=f"{base}: the Secrets Manager endpoint and the database port only",
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    security_groups=[args.endpoint_security_group_id],
                    description="Secrets Manager API through the interface endpoint",
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=args.port,
                    to_port=args.port,
                    security_groups=[args.store_security_group_id],
                    description=f"The {args.engine} cluster",
                ),
            ],
            tags={"Name": base},
            opts=child,
        )
        template, version = TEMPLATES[args.engine]
        function = f"kanna-{base}"
        # Known at preview (the template names the function after this parameter), unlike the stack's outputs.
        self.function_arn = f"arn:aws:lambda:{args.region}:{args.account_id}:function:{function}"
        self.application = aws.serverlessrepository.CloudFormationStack(
            base,
            name=f"kanna-{base}",
            application_id=f"arn:aws:serverlessrepo:us-east-1:{SAR_ACCOUNT}:applications/{template}",
            semantic_version=version,
            # The template creates the function's role and the permission Secrets Manager invokes it with.
            capabilities=["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"],
            parameters={
                "endpoint": f"https://secretsmanager.{args.region}.amazonaws.com",
                "functionName": function,
                "vpcSubnetIds": pulumi.Output.all(*args.subnet_ids).apply(lambda ids: ",".join(ids)),
                "vpcSecurityGroupIds": self.security_group.id,
                "kmsKeyArn": args.secrets_key_arn,
                "masterSecretArn": args.master_secret_arn,
                "masterSecretKmsKeyArn": args.secrets_key_arn,
            },
            opts=child,
        )
        self.rotations = {
            service: aws.secretsmanager.SecretRotation(
                f"{args.env}-{args.engine}-{service}-rotation",
                secret_id=secret.id,
                rotation_lambda_arn=self.function_arn,
                rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(automatically_after_days=ROTATION_DAYS),
                # The first rotation clones the user, so the user must exist: the migration job creates it
                # from this secret before the service starts, and the first rotation waits for the schedule.
                rotate_immediately=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.application]),
            )
            for service, secret in sorted(args.secrets.items())
        }
        self.register_outputs({"functionArn": self.function_arn, "securityGroupId": self.security_group.id})


def user_secret_string(
    engine: str, username: str, password: pulumi.Input[str], host: pulumi.Input[str], port: int, master_arn: pulumi.Input[str], **extra: str
) -> pulumi.Output[str]:
    """The JSON the rotation templates expect: engine, host, port, username, password, and `masterarn`."""
    return pulumi.Output.json_dumps(
        {"engine": engine, "username": username, "password": password, "host": host, "port": port, "masterarn": master_arn, **extra}
    )
