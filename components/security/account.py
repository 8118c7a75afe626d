"""The account's secure defaults that AWS keeps once per account, whatever the region: S3 public access blocked
for every bucket of the account, and a strict IAM password policy (humans sign in through the IdP; IAM users are
for nothing).

- S3 Block Public Access at the account level applies to every bucket the account has or will have, in every
  region (https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-block-public-access-account.html).
- IAM is global: the account has one password policy
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html).
Both came from a workload stack's security component by `pulumi state move` (preflight/moves.py), which puts
them under the destination's root stack: each carries an alias to that URN. The per-region defaults (EBS
encryption by default and its key) are each region's (components/security/regional.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.context import Scope


@dataclass(frozen=True, kw_only=True)
class AccountDefaultsArgs:
    scope: Scope  # the account's: its stack is the account's key (dev, prod), which the moved resources' names keep


class AccountDefaults(pulumi.ComponentResource):
    public_access_block: aws.s3.AccountPublicAccessBlock
    password_policy: aws.iam.AccountPasswordPolicy

    def __init__(self, name: str, args: AccountDefaultsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:AccountDefaults", name, None, opts)
        # `pulumi state move` left them under the root stack; protected in prod: removing either weakens the account.
        moved = pulumi.ResourceOptions(parent=self, protect=args.scope.protect, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
        self.public_access_block = aws.s3.AccountPublicAccessBlock(
            f"{args.scope.stack}-s3-account-public-access-block",
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=moved,
        )
        self.password_policy = aws.iam.AccountPasswordPolicy(
            f"{args.scope.stack}-password-policy",
            minimum_password_length=14,
            require_lowercase_characters=True,
            require_uppercase_characters=True,
            require_numbers=True,
            require_symbols=True,
            password_reuse_prevention=24,
            max_password_age=90,
            allow_users_to_change_password=True,
            opts=moved,
        )
        self.register_outputs({})
