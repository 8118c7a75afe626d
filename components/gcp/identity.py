"""Keyless identity: workload identity federation for AWS (ECS tasks) and GitHub Actions (CI).

No service account key exists: AWS tasks and CI workflows exchange their own short-lived identity for a
Google token, and only these may:
- AWS pool: the assumed-role sessions of the listed services' ECS task roles in every environment of the stack
  (`<environment>-<service>-task`, named by components/lib/contracts.py task_role_name, which the container
  services use too) in this stack's AWS account, which then impersonate the backend service account. GCP STS
  sees an ECS task as `arn:aws:sts::<account>:assumed-role/<role>/<session>`, so the condition checks that form.
- GitHub pool: workflows of the one repository, on its protected branches or in its protected
  environments, which impersonate the CI service account.
Role names are derived from the settings by the same function the AWS side names the roles with, rather than
read from the AWS components, so the condition is fully known at preview and doesn't change when an ECS
service is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.lib.context import InContext
from components.lib.contracts import task_role_name
from settings import GcpSettings

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# Google's documented mapping: the role part of an assumed-role ARN, without the session name.
AWS_ROLE_ATTRIBUTE = (
    "assertion.arn.contains('assumed-role') ? assertion.arn.extract('{account_arn}assumed-role/') + 'assumed-role/' "
    "+ assertion.arn.extract('assumed-role/{role_name}/') : assertion.arn"
)


def _cel_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


# docs: cloud.google.com/iam/docs/reference/rest/v1/projects.locations.workloadIdentityPools.providers
# ("The maximum length of the attribute condition expression is 4096 characters").
MAX_CONDITION = 4096


def task_role_session_arn(env: str, account_id: str, service: str) -> str:
    """The role ARN GCP STS sees for an ECS service's task (its sessions add `/<session>`)."""
    return f"arn:aws:sts::{account_id}:assumed-role/{task_role_name(env, service)}"


def aws_condition(environments: Sequence[str], account_id: str, services: Sequence[str]) -> str:
    return " || ".join(
        f"assertion.arn.startsWith('{task_role_session_arn(env, account_id, s)}/')" for env in environments for s in services
    )


def github_condition(repository: str, branches: Sequence[str], environments: Sequence[str]) -> str:
    allowed = []
    if branches:
        allowed.append(f"assertion.ref in {_cel_list([f'refs/heads/{b}' for b in branches])}")
    if environments:
        allowed.append(f"('environment' in assertion && assertion.environment in {_cel_list(environments)})")
    return f"assertion.repository == '{repository}' && ({' || '.join(allowed)})"


@dataclass(frozen=True, kw_only=True)
class KeylessIdentityArgs(InContext):
    settings: GcpSettings
    backend_service_account: pulumi.Input[str]  # the backend account's `name` (projects/.../serviceAccounts/...)
    apis: Sequence[pulumi.Resource]
    environments: Sequence[str]  # the stack's verification environments, each with its own task roles
    backend_services: Sequence[str]  # the catalog's services whose task roles act as the backend account


class KeylessIdentity(pulumi.ComponentResource):
    aws_provider: gcp.iam.WorkloadIdentityPoolProvider
    github_provider: gcp.iam.WorkloadIdentityPoolProvider
    ci: gcp.serviceaccount.Account

    def __init__(self, name: str, args: KeylessIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:gcp:KeylessIdentity", name, None, opts)
        env, s = args.env, args.settings
        project = s.project_id
        child = pulumi.ResourceOptions(parent=self)
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=list(args.apis))

        aws_pool = gcp.iam.WorkloadIdentityPool(
            f"{env}-aws-pool",
            project=project,
            workload_identity_pool_id=f"{env}-aws",
            display_name=f"kanna {env} AWS",
            description="ECS tasks of this stack's AWS account",
            opts=after_apis,
        )
        self.aws_provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{env}-aws-provider",
            project=project,
            workload_identity_pool_id=aws_pool.workload_identity_pool_id,
            workload_identity_pool_provider_id="aws",
            display_name="AWS ECS task roles",
            aws=gcp.iam.WorkloadIdentityPoolProviderAwsArgs(account_id=args.account_id),
            attribute_mapping={"google.subject": "assertion.arn", "attribute.aws_role": AWS_ROLE_ATTRIBUTE},
            attribute_condition=aws_condition(args.environments, args.account_id, args.backend_services),
            opts=child,
        )
        for environment, service in ((e, b) for e in args.environments for b in args.backend_services):
            role = task_role_session_arn(environment, args.account_id, service)
            gcp.serviceaccount.IAMMember(
                f"{environment}-{service}-task-acts-as-backend",
                service_account_id=args.backend_service_account,
                role="roles/iam.workloadIdentityUser",
                member=aws_pool.name.apply(lambda pool, r=role: f"principalSet://iam.googleapis.com/{pool}/attribute.aws_role/{r}"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.aws_provider]),
            )

        github_pool = gcp.iam.WorkloadIdentityPool(
            f"{env}-github-pool",
            project=project,
            workload_identity_pool_id=f"{env}-github",
            display_name=f"kanna {env} GitHub Actions",
            description=f"Workflows of {s.github.repository} on protected refs",
            opts=after_apis,
        )
        gh = s.github
        self.github_provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{env}-github-provider",
            project=project,
            workload_identity_pool_id=github_pool.workload_identity_pool_id,
            workload_identity_pool_provider_id="github",
            display_name="GitHub Actions",
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
            attribute_mapping={
                "google.subject": "assertion.sub",
                "attribute.repository": "assertion.repository",
                "attribute.ref": "assertion.ref",
            },
            attribute_condition=github_condition(gh.repository, gh.branches, gh.environments),
            opts=child,
        )
        self.ci = gcp.serviceaccount.Account(
            f"{env}-ci-sa",
            project=project,
            account_id=f"{env}-github-ci",
            display_name=f"kanna {env} CI ({gh.repository})",
            opts=after_apis,
        )
        for role in gh.roles:
            gcp.projects.IAMMember(
                f"{env}-ci-{role.rsplit('/', 1)[-1].replace('.', '-')}", project=project, role=role, member=self.ci.member, opts=child
            )
        gcp.serviceaccount.IAMMember(
            f"{env}-github-acts-as-ci",
            service_account_id=self.ci.name,
            role="roles/iam.workloadIdentityUser",
            member=github_pool.name.apply(lambda pool: f"principalSet://iam.googleapis.com/{pool}/attribute.repository/{gh.repository}"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.github_provider]),
        )
        self.register_outputs(
            {
                "awsProvider": self.aws_provider.name,
                "githubProvider": self.github_provider.name,
                "ciServiceAccount": self.ci.email,
            }
        )
