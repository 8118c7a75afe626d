"""The security of one workload stack: the internal tools' user pool, operator access through SSM, and the
access-log bucket every secure bucket of the stack logs to.

- Children: `Identity` (Cognito), `OperatorAccess` (Session Manager, ECS Exec logging).
- One access-log bucket per stack receives the S3 server access logs of every secure bucket (`access_log_bucket`).
What AWS keeps once per region (GuardDuty, Config, Security Hub, EBS defaults, ECR scanning) is the stack's
regional baseline (components/security/regional.py); what it keeps once per account (the password policy, S3's
account public access block, the multi-region trail) is the account baseline's (account/).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.lib.buckets import SecureBucket, secure_bucket, server_access_log_writes
from components.lib.context import InContext
from components.lib.contracts import ExecLogging, InternalAuth
from components.security.identity import Identity, IdentityArgs
from components.security.operator_access import OperatorAccess, OperatorAccessArgs
from settings import SecuritySettings


@dataclass(frozen=True, kw_only=True)
class SecurityArgs(InContext):
    settings: SecuritySettings
    callback_urls: list[str]  # the internal user pool's ALB client: one per internal host (PlatformSettings.callback_urls)


class Security(pulumi.ComponentResource):
    access_log_bucket: SecureBucket
    identity: Identity
    operator_access: OperatorAccess
    internal_auth: InternalAuth
    exec_logging: ExecLogging

    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:Security", name, None, opts)
        self._args = args
        env, account = args.env, args.account_id

        self.access_log_bucket = secure_bucket(
            f"{env}-access-logs", parent=self, kms_key_arn=None, protect=args.protect, statements=server_access_log_writes(account)
        )
        access_logs = self.access_log_bucket.id
        s = args.settings
        self.identity = Identity(
            f"{env}-identity",
            IdentityArgs(context=args.context, settings=s, callback_urls=args.callback_urls),
            pulumi.ResourceOptions(parent=self),
        )
        self.operator_access = OperatorAccess(
            f"{env}-operator-access",
            OperatorAccessArgs(context=args.context, access_log_bucket=access_logs, retention_days=s.session_log_retention_days),
            pulumi.ResourceOptions(parent=self),
        )
        self.internal_auth = self.identity.internal_auth
        self.exec_logging = self.operator_access.exec_logging
        self.register_outputs({"accessLogBucket": access_logs, "userPoolArn": self.identity.user_pool.arn})

    def outputs(self) -> dict[str, object]:
        """The stack outputs of the stack's security."""
        return {"operatorPolicyArn": self.operator_access.operator_policy.arn}
