"""GitHub Actions' way into one workload account: the OIDC provider, the stack's secrets key and three roles.

No cloud key is ever stored in GitHub. A workflow asks GitHub for an OIDC token and trades it for one of
these roles; each role trusts exactly one kind of token, told apart by its `sub` claim:

- `kanna-<stack>-preview`: pull requests (`repo:<repo>:pull_request`); read-only cloud access, reads state.
- `kanna-<stack>-drift`: the nightly drift check on main (`repo:<repo>:ref:refs/heads/main`); read-only
  cloud access, but writes its stack's state, because `pulumi refresh` saves what it found.
- `kanna-<stack>-deploy`: `pulumi up` from the stack's GitHub environment (`repo:<repo>:environment:<stack>`),
  which for prod has required reviewers; it can change the account but not the CI roles themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from settings import PROJECT_DIR, of_stack

from .state import MAIN_PROJECT, secrets_key, state_objects

GITHUB_ISSUER = "token.actions.githubusercontent.com"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
KINDS = ("preview", "drift", "deploy")


def subject(repository: str, kind: str, stack: str) -> str:
    """The one `sub` claim a role of this kind accepts."""
    return {
        "preview": f"repo:{repository}:pull_request",
        "drift": f"repo:{repository}:ref:refs/heads/main",
        "deploy": f"repo:{repository}:environment:{stack}",
    }[kind]


def standbys_in_use() -> dict[str, dict[str, str]]:
    """Primary stack -> {its standby stack: the standby's region}, from kanna-infra's committed stack files (a standby
    names its primary in `dr.primaryStack`), so bootstrap types no region or stack name a second time."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(PROJECT_DIR.glob("Pulumi.*.yaml")):
        name = path.name.split(".")[1]
        stack = of_stack(name)
        if stack.dr.primary_stack is not None:
            found.setdefault(stack.dr.primary_stack, {})[name] = stack.region
    return found


@dataclass(frozen=True)
class CiAccessArgs:
    stack: str  # the kanna-infra stack this account runs
    account_id: str
    repository: str  # owner/name
    state_bucket_arn: str
    state_bucket_key_arn: pulumi.Input[str]
    # The stack's standbys (prod-dr for prod), run with these roles in the same account: each gets its own secrets
    # key in its own region, through that region's provider, so its secrets survive the loss of the primary's region.
    standbys: dict[str, pulumi.ProviderResource] = field(default_factory=dict)

    @property
    def stacks(self) -> tuple[str, ...]:
        """Whose state these roles use: the stack's, then its standbys'."""
        return (self.stack, *self.standbys)


class CiAccess(pulumi.ComponentResource):
    oidc: aws.iam.OpenIdConnectProvider
    secrets_key: aws.kms.Key
    standby_keys: dict[str, aws.kms.Key]
    roles: dict[str, aws.iam.Role]
    stacks: tuple[str, ...]  # whose state the roles use (the stack's, then its standbys')

    def __init__(self, name: str, args: CiAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:bootstrap:CiAccess", name, None, opts)
        self._args = args
        self.stacks = args.stacks
        stack = args.stack
        self.oidc = aws.iam.OpenIdConnectProvider(
            f"{stack}-github-oidc",
            url=f"https://{GITHUB_ISSUER}",
            client_id_lists=["sts.amazonaws.com"],
            # AWS verifies GitHub's tokens against its own trusted CAs; the thumbprint is kept for older API clients.
            thumbprint_lists=["6938fd4d98bab03faadb97b34396831e3780aea1"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secrets_key = secrets_key(f"{stack}-pulumi-state-key", stack, args.account_id, self)
        self.standby_keys = {
            standby: secrets_key(f"{standby}-pulumi-state-key", standby, args.account_id, self, provider=provider)
            for standby, provider in args.standbys.items()
        }
        self.roles = {kind: self._role(kind) for kind in KINDS}
        self.register_outputs({f"{kind}Role": role.arn for kind, role in self.roles.items()})

    def _role(self, kind: str) -> aws.iam.Role:
        args, stack = self._args, self._args.stack
        child = pulumi.ResourceOptions(parent=self)
        trust = self.oidc.arn.apply(
            lambda provider: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "GithubActions",
                            "Effect": "Allow",
                            "Principal": {"Federated": provider},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            # Exact matches: a wildcard in `sub` would let any branch or environment in.
                            "Condition": {
                                "StringEquals": {
                                    f"{GITHUB_ISSUER}:aud": "sts.amazonaws.com",
                                    f"{GITHUB_ISSUER}:sub": subject(args.repository, kind, stack),
                                }
                            },
                        }
                    ],
                }
            )
        )
        role = aws.iam.Role(
            f"{stack}-ci-{kind}-role",
            name=f"kanna-{stack}-{kind}",
            description=f"GitHub Actions: {kind} of the {stack} stack",
            assume_role_policy=trust,
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{stack}-ci-{kind}-managed", role=role.name, policy_arn=POWER_USER if kind == "deploy" else READ_ONLY, opts=child
        )
        writes = kind != "preview"
        objects = [o for s in args.stacks for o in state_objects(args.state_bucket_arn, s, MAIN_PROJECT)]
        statements: list[dict] = [
            {"Sid": "ListState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": args.state_bucket_arn},
            {
                "Sid": "ReadState",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [*objects, f"{args.state_bucket_arn}/.pulumi/meta.yaml"],
            },
            {
                "Sid": "WriteState" if writes else "WriteLock",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": objects if writes else [o for o in objects if "/.pulumi/locks/" in o],
            },
            {
                "Sid": "StateBucketKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": args.state_bucket_key_arn,
            },
            {
                "Sid": "StackSecrets",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] if writes else ["kms:Decrypt"],
                "Resource": [self.secrets_key.arn, *(key.arn for key in self.standby_keys.values())],
            },
        ]
        if kind == "deploy":
            statements += self._deploy_scope()
        aws.iam.RolePolicy(
            f"{stack}-ci-{kind}-policy",
            role=role.name,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
            opts=child,
        )
        return role

    def _deploy_scope(self) -> list[dict]:
        """PowerUserAccess has no IAM: the program needs roles for its services, but never the CI's own."""
        account = self._args.account_id
        protected = [
            f"arn:aws:iam::{account}:role/kanna-{self._args.stack}-*",
            f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
            f"arn:aws:iam::{account}:oidc-provider/{GITHUB_ISSUER}",
        ]
        return [
            {
                "Sid": "ServiceRolesAndPolicies",
                "Effect": "Allow",
                "Action": [
                    "iam:*Role",
                    "iam:*RolePolicy",
                    "iam:*RolePolicies",
                    "iam:*Policy",
                    "iam:*PolicyVersion",
                    "iam:*PolicyVersions",
                    "iam:*InstanceProfile",
                    "iam:*RoleFromInstanceProfile",
                    "iam:*RoleTags",
                    "iam:TagRole",
                    "iam:UntagRole",
                    "iam:TagPolicy",
                    "iam:UntagPolicy",
                    "iam:PassRole",
                    # The first use of a feature creates its service-linked role as the caller: ECS, ELB, RDS, ... and
                    # prod-dr's ECR replication (AWSServiceRoleForECRReplication, replication.ecr.amazonaws.com:
                    # https://docs.aws.amazon.com/AmazonECR/latest/userguide/slr-replication.html), deployed with prod's role.
                    "iam:CreateServiceLinkedRole",
                    "iam:List*",
                    "iam:Get*",
                ],
                "Resource": "*",
            },
            {"Sid": "NotTheCiRoles", "Effect": "Deny", "Action": "iam:*", "Resource": protected},
            # No long-lived keys: the program never needs an IAM user.
            {
                "Sid": "NoUsersOrKeys",
                "Effect": "Deny",
                "Action": ["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile"],
                "Resource": "*",
            },
        ]
