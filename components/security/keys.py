"""Customer-managed KMS keys by purpose: data, logs and secrets.

Each key rotates yearly and has a key policy that names its users:
- the account root may administer every key (so the key can never be locked out) but not use it;
- data: the account's principals may use it only through the data services (kms:ViaService);
- logs: the account's principals (IAM decides: SSM sessions encrypt with it directly), CloudWatch Logs for this
  account's log groups, CloudTrail for this account's trails, and EventBridge publishing to encrypted topics;
- secrets: the account's principals may use it only through Secrets Manager.
Keys are stateful: losing one loses everything it encrypted, so in prod they are `protect`ed and deletion
waits the maximum 30 days.
"""

from __future__ import annotations

import json
from functools import partial

import pulumi
import pulumi_aws as aws

from components.lib.context import KeyArns, Scope

CRYPTO = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
ADMIN = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]


def administer_statement(account: str) -> dict:
    """The account root may administer a key (so it can never be locked out), but not use it."""
    return {
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ADMIN,
        "Resource": "*",
    }


def audit_statements(account: str, region: str) -> list[dict]:
    """A key for audit trails and log groups: the account's IAM decides who reads (SSM sessions encrypt with it
    directly), CloudWatch Logs for this account's log groups, CloudTrail for this account's trails."""
    return [
        administer_statement(account),
        {
            "Sid": "AccountIamDecides",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": [*CRYPTO, "kms:CreateGrant"],
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"}},
        },
        {
            "Sid": "CloudTrailOfThisAccountEncrypts",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account}:trail/*"},
            },
        },
        {
            "Sid": "CloudTrailDescribes",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        },
    ]


def kms_key(purpose: str, used_for: str, statements: list[dict], *, env: str, parent: pulumi.Resource, protect: bool) -> aws.kms.Key:
    """A key of `env` for one purpose (`alias/kanna/<env>/<purpose>`), rotated yearly, deleted only after 30 days."""
    name = f"{env}-{purpose}-key"
    key = aws.kms.Key(
        name,
        description=f"kanna {env} {purpose} key: {used_for}",
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30,
        policy=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    aws.kms.Alias(f"{name}-alias", name=key_alias(env, purpose), target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=parent))
    return key


# The services that store data with the data key (kms:ViaService, <service>.<region>.amazonaws.com).
DATA_SERVICES = ("rds", "elasticache", "s3", "ec2", "ecr", "dynamodb", "backup", "sqs", "sns")


def key_alias(env: str, purpose: str) -> str:
    """The alias of one of a stack's keys: another stack names the key by it (components/dr), since its id is random."""
    return f"alias/kanna/{env}/{purpose}"


class Keys(pulumi.ComponentResource):
    data: aws.kms.Key
    logs: aws.kms.Key
    secrets: aws.kms.Key

    def __init__(self, name: str, args: Scope, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:Keys", name, None, opts)
        self._args = args
        account, region = args.account_id, args.region
        administer = administer_statement(account)

        def via(sid: str, services: tuple[str, ...]) -> dict:
            return {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": [*CRYPTO, "kms:CreateGrant"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in services]}
                },
            }

        logs_statements = [
            *audit_statements(account, region),
            {
                # EventBridge delivering security findings to the KMS-encrypted SNS topic. The topic policy decides
                # which rules may publish; SNS makes this call for EventBridge, which carries no source account here.
                "Sid": "EventBridgeToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ]
        key = partial(kms_key, env=args.stack, parent=self, protect=args.protect)
        self.data = key("data", "Aurora, ElastiCache, EBS and data buckets", [administer, via("AccountUsesViaDataServices", DATA_SERVICES)])
        self.logs = key("logs", "CloudWatch Logs, flow logs, audit trails and session logs", logs_statements)
        self.secrets = key("secrets", "Secrets Manager secrets", [administer, via("AccountUsesViaSecretsManager", ("secretsmanager",))])
        self.register_outputs({"data": self.data.arn, "logs": self.logs.arn, "secrets": self.secrets.arn})

    @property
    def arns(self) -> KeyArns:
        return KeyArns(data=self.data.arn, secrets=self.secrets.arn, logs=self.logs.arn)
