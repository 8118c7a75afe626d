"""Customer-managed KMS keys by purpose: data, logs and secrets.

Each key rotates yearly and has a key policy that names its users: the account's IAM (so IAM policies
decide who of the account may use it) plus, for the logs key, the CloudWatch Logs service for this
account's log groups only. Keys are stateful: losing one loses everything it encrypted, so in prod they
are `protect`ed and deletion waits the maximum 30 days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class KeysArgs:
    env: str
    account_id: str
    region: str
    protect: bool


class Keys(pulumi.ComponentResource):
    data: aws.kms.Key
    logs: aws.kms.Key
    secrets: aws.kms.Key

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:Keys", name, None, opts)
        self._args = args
        root = f"arn:aws:iam::{args.account_id}:root"
        account_admin = {
            "Sid": "AccountIamDecides",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*",
        }
        logs_service = {
            "Sid": "CloudWatchLogsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{args.region}.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{args.region}:{args.account_id}:log-group:*"}},
        }
        self.data = self._key("data", "Aurora, ElastiCache and data buckets", [account_admin])
        self.logs = self._key("logs", "CloudWatch Logs, flow logs and audit trails", [account_admin, logs_service])
        self.secrets = self._key("secrets", "Secrets Manager secrets", [account_admin])
        self.register_outputs({"data": self.data.arn, "logs": self.logs.arn, "secrets": self.secrets.arn})

    def _key(self, purpose: str, used_for: str, statements: list[dict]) -> aws.kms.Key:
        name = f"{self._args.env}-{purpose}-key"
        key = aws.kms.Key(
            name,
            description=f"kanna {self._args.env} {purpose} key: {used_for}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.protect),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/kanna/{self._args.env}/{purpose}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return key
