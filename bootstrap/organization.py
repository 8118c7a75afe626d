"""AWS Organizations: the OUs, the member accounts, and the service control policies on the OUs.

OUs: `workloads` (with `prod` and `dev` under it) and `shared`. Two SCPs guard every member account:

- guardrails: no account may leave the organization, and nobody but the pipeline's deploy roles may
  disable or alter GuardDuty, CloudTrail, Config or Security Hub (the security baseline the main
  program manages through those roles);
- regions: nothing outside the regions the stacks run in (home: ap-northeast-1; prod's standby: ap-northeast-3;
  `settings.regions_in_use()` reads them from the committed stack files), and in us-east-1 only what CloudFront needs there (its
  certificates, its WAF, its metrics); global services are exempted through a NotAction list, since
  their calls are served from us-east-1 whatever the caller wants.

SCPs never apply to the management account, which is why it holds nothing but this program's resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .settings import AccountSettings

# Services whose API is global (served from us-east-1): exempt from the region deny.
GLOBAL_SERVICES = [
    "account:*",
    "budgets:*",
    "ce:*",
    "cloudfront:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "organizations:*",
    "route53:*",
    "route53domains:*",
    "shield:*",
    "sso:*",
    "sts:*",
    "support:*",
    "trustedadvisor:*",
]
# What CloudFront needs in us-east-1 on top: ACM certificates, the CLOUDFRONT-scope WAF and its logs, and
# the alarms on CloudFront metrics (published only in us-east-1) with their SNS topic and its KMS key.
US_EAST_1_SERVICES = ["acm:*", "wafv2:*", "cloudwatch:*", "logs:*", "sns:*", "kms:*"]

SECURITY_SERVICE_ACTIONS = {
    "GuardDuty": [
        "guardduty:DeleteDetector",
        "guardduty:UpdateDetector",
        "guardduty:DisassociateFromAdministratorAccount",
        "guardduty:DisassociateFromMasterAccount",
        "guardduty:DeleteMembers",
        "guardduty:DisassociateMembers",
        "guardduty:StopMonitoringMembers",
        "guardduty:CreateFilter",
        "guardduty:UpdateFilter",
        "guardduty:CreateIPSet",
        "guardduty:UpdateIPSet",
        "guardduty:DeletePublishingDestination",
        "guardduty:UpdatePublishingDestination",
    ],
    "CloudTrail": [
        "cloudtrail:StopLogging",
        "cloudtrail:DeleteTrail",
        "cloudtrail:UpdateTrail",
        "cloudtrail:PutEventSelectors",
        "cloudtrail:PutInsightSelectors",
        "cloudtrail:DeleteEventDataStore",
        "cloudtrail:UpdateEventDataStore",
    ],
    "Config": [
        "config:StopConfigurationRecorder",
        "config:DeleteConfigurationRecorder",
        "config:PutConfigurationRecorder",
        "config:DeleteDeliveryChannel",
        "config:PutDeliveryChannel",
        "config:DeleteConfigRule",
        "config:DeleteRetentionConfiguration",
        "config:DeleteConfigurationAggregator",
    ],
    "SecurityHub": [
        "securityhub:DisableSecurityHub",
        "securityhub:BatchDisableStandards",
        "securityhub:DeleteMembers",
        "securityhub:DisassociateMembers",
        "securityhub:DisassociateFromAdministratorAccount",
        "securityhub:DisassociateFromMasterAccount",
        "securityhub:UpdateSecurityHubConfiguration",
        "securityhub:DeleteActionTarget",
    ],
}
# The roles that manage the baseline: the pipeline's deploy roles (bootstrap/ci.py) in every member account.
BASELINE_MANAGERS = ["arn:aws:iam::*:role/kanna-*-deploy"]
SCP_MAX_CHARS = 5120  # AWS's size limit for one SCP document


def guardrails_policy() -> dict:
    statements: list[dict] = [
        {"Sid": "DenyLeavingOrganization", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}
    ]
    for service, actions in SECURITY_SERVICE_ACTIONS.items():
        statements.append(
            {
                "Sid": f"Deny{service}Changes",
                "Effect": "Deny",
                "Action": actions,
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": BASELINE_MANAGERS}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def regions_policy(regions: list[str]) -> dict:
    """Denies every region but `regions` (bootstrap's home and every stack's region) and us-east-1's CloudFront needs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyOutsideHomeAndUsEast1",
                "Effect": "Deny",
                "NotAction": GLOBAL_SERVICES,
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": [*regions, "us-east-1"]}},
            },
            {
                "Sid": "DenyUsEast1ExceptCloudFrontNeeds",
                "Effect": "Deny",
                "NotAction": GLOBAL_SERVICES + US_EAST_1_SERVICES,
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
            },
        ],
    }


@dataclass(frozen=True)
class OrganizationArgs:
    regions: list[str]  # where member accounts may work: bootstrap's home and every stack's region
    accounts: dict[str, AccountSettings]


class Organization(pulumi.ComponentResource):
    organization: aws.organizations.Organization
    ous: dict[str, aws.organizations.OrganizationalUnit]
    accounts: dict[str, aws.organizations.Account]
    policies: dict[str, aws.organizations.Policy]

    def __init__(self, name: str, args: OrganizationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:bootstrap:Organization", name, None, opts)
        protected = pulumi.ResourceOptions(parent=self, protect=True)
        child = pulumi.ResourceOptions(parent=self)
        self.organization = aws.organizations.Organization(
            "organization",
            feature_set="ALL",
            enabled_policy_types=["SERVICE_CONTROL_POLICY"],
            aws_service_access_principals=[
                "sso.amazonaws.com",
                "cloudtrail.amazonaws.com",
                "config.amazonaws.com",
                "guardduty.amazonaws.com",
                "securityhub.amazonaws.com",
                "member.org.stacksets.cloudformation.amazonaws.com",
            ],
            opts=protected,
        )
        root_id = self.organization.roots.apply(lambda roots: roots[0].id)
        workloads = aws.organizations.OrganizationalUnit("ou-workloads", name="workloads", parent_id=root_id, opts=protected)
        shared = aws.organizations.OrganizationalUnit("ou-shared", name="shared", parent_id=root_id, opts=protected)
        self.ous = {
            "workloads": workloads,
            "shared": shared,
            "workloads/prod": aws.organizations.OrganizationalUnit(
                "ou-workloads-prod", name="prod", parent_id=workloads.id, opts=protected
            ),
            "workloads/dev": aws.organizations.OrganizationalUnit("ou-workloads-dev", name="dev", parent_id=workloads.id, opts=protected),
        }
        self.accounts = {
            key: aws.organizations.Account(
                f"account-{key}",
                name=f"kanna-{key}",
                email=account.email,
                parent_id=self.ous[account.ou].id,
                role_name="OrganizationAccountAccessRole",
                iam_user_access_to_billing="DENY",
                close_on_deletion=False,
                # AWS never returns role_name after creation: without this, every refresh would plan a replacement.
                opts=pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=["roleName"]),
            )
            for key, account in args.accounts.items()
        }
        documents = {"guardrails": guardrails_policy(), "regions": regions_policy(args.regions)}
        self.policies = {}
        for key, document in documents.items():
            content = json.dumps(document, separators=(",", ":"))
            if len(content) > SCP_MAX_CHARS:
                raise ValueError(f"SCP {key} is {len(content)} characters; AWS allows {SCP_MAX_CHARS}")
            self.policies[key] = aws.organizations.Policy(
                f"scp-{key}",
                name=f"kanna-{key}",
                description=f"kanna baseline SCP: {key} (bootstrap/organization.py)",
                type="SERVICE_CONTROL_POLICY",
                content=content,
                opts=child,
            )
        # Attached where they are inherited by every member account: workloads (prod, dev) and shared.
        for ou_key in ("workloads", "shared"):
            for key, policy in self.policies.items():
                aws.organizations.PolicyAttachment(
                    f"scp-{key}-{ou_key.replace('/', '-')}", policy_id=policy.id, target_id=self.ous[ou_key].id, opts=child
                )
        self.register_outputs({"ous": {k: ou.id for k, ou in self.ous.items()}, "policies": {k: p.id for k, p in self.policies.items()}})
