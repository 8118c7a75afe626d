"""GitHub Actions' way into GCP: Workload Identity Federation, and one service account per stack and kind.

The pool trusts GitHub's OIDC issuer, but only tokens of this repository (`attribute_condition`). Each
service account can be impersonated by exactly one OIDC subject, the same three as the AWS roles
(bootstrap/ci.py): previews from pull requests, drift checks from main, deploys from the stack's
environment. No service account key is ever created.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from settings.gcp import deploy_roles, read_roles

from .ci import KINDS, subject

# Preview and drift read every resource type the stack has; deploys manage each one, IAM included (Editor can't
# set IAM policy). Derived from one table (settings/gcp.py), by resource type; never a basic role.
PROJECT_ROLES = {"preview": read_roles(), "drift": read_roles(), "deploy": deploy_roles()}


@dataclass(frozen=True)
class GithubFederationArgs:
    repository: str
    pool_project: str  # the project that holds the pool
    pool_project_number: str
    stack_projects: dict[str, str]  # kanna-infra stack -> its GCP project


class GithubFederation(pulumi.ComponentResource):
    provider_name: pulumi.Output[str]
    service_accounts: dict[str, dict[str, gcp.serviceaccount.Account]]

    def __init__(self, name: str, args: GithubFederationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:bootstrap:GithubFederation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pool = gcp.iam.WorkloadIdentityPool(
            "github-pool", workload_identity_pool_id="github", display_name="GitHub Actions", project=args.pool_project, opts=child
        )
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            "github-pool-provider",
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id="github",
            project=args.pool_project,
            attribute_mapping={"google.subject": "assertion.sub", "attribute.repository": "assertion.repository"},
            # Any GitHub repository can get a token from this issuer: only ours may use the pool.
            attribute_condition=f"assertion.repository == '{args.repository}'",
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri="https://token.actions.githubusercontent.com"),
            opts=child,
        )
        self.provider_name = provider.name
        principal = (
            f"principal://iam.googleapis.com/projects/{args.pool_project_number}/locations/global/workloadIdentityPools/github/subject/"
        )
        self.service_accounts = {}
        for stack, project in args.stack_projects.items():
            self.service_accounts[stack] = {}
            for kind in KINDS:
                account = gcp.serviceaccount.Account(
                    f"{stack}-ci-{kind}-sa",
                    account_id=f"kanna-{stack}-{kind}",
                    display_name=f"GitHub Actions: {kind} of the {stack} stack",
                    project=project,
                    opts=child,
                )
                gcp.serviceaccount.IAMMember(
                    f"{stack}-ci-{kind}-sa-federation",
                    service_account_id=account.name,
                    role="roles/iam.workloadIdentityUser",
                    member=principal + subject(args.repository, kind, stack),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[provider]),
                )
                for role in PROJECT_ROLES[kind]:
                    gcp.projects.IAMMember(
                        f"{stack}-ci-{kind}-sa-{role.removeprefix('roles/').replace('.', '-')}",
                        project=project,
                        role=role,
                        member=account.email.apply(lambda email: f"serviceAccount:{email}"),
                        opts=child,
                    )
                self.service_accounts[stack][kind] = account
        self.register_outputs({"provider": provider.name})
