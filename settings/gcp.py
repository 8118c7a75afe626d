"""GCP settings: the project, Firebase apps and sign-in, BigQuery retention, and who may act keylessly."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from .base import Problem, Section

_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_APP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_-]*)+$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
# Basic roles: too wide for any CI identity (Editor can't even set IAM policy, and Viewer reads every dataset).
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
# Roles the CI identity may never hold: they let a workflow rewrite who may do anything in the project.
FORBIDDEN_CI_ROLES = ("roles/owner", "roles/editor", "roles/iam.securityAdmin", "roles/resourcemanager.projectIamAdmin")

# What the stack's GCP resources need, by resource type: the predefined role that manages the type (the deploy
# identity, bootstrap/gcp_ci.py) and the one that reads it (previews, drift checks, the stack's CI account).
# A new resource type in a gcp_* component must be added here, or tests/test_bootstrap.py fails.
# Roles: cloud.google.com/iam/docs/understanding-roles (per service).
MANAGE_ROLES: dict[str, str] = {
    "gcp:projects/service:Service": "roles/serviceusage.serviceUsageAdmin",
    "gcp:projects/serviceIdentity:ServiceIdentity": "roles/serviceusage.serviceUsageAdmin",
    "gcp:projects/iAMMember:IAMMember": "roles/resourcemanager.projectIamAdmin",
    "gcp:projects/iAMCustomRole:IAMCustomRole": "roles/iam.roleAdmin",
    "gcp:serviceaccount/account:Account": "roles/iam.serviceAccountAdmin",
    "gcp:serviceaccount/iAMMember:IAMMember": "roles/iam.serviceAccountAdmin",
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": "roles/iam.workloadIdentityPoolAdmin",
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": "roles/iam.workloadIdentityPoolAdmin",
    "gcp:bigquery/dataset:Dataset": "roles/bigquery.admin",
    "gcp:bigquery/table:Table": "roles/bigquery.admin",
    "gcp:bigquery/datasetIamMember:DatasetIamMember": "roles/bigquery.admin",
    "gcp:bigquery/dataTransferConfig:DataTransferConfig": "roles/bigquery.admin",
    "gcp:storage/bucket:Bucket": "roles/storage.admin",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "roles/storage.admin",
    "gcp:storage/transferJob:TransferJob": "roles/storagetransfer.admin",
    "gcp:firebase/project:Project": "roles/firebase.admin",
    "gcp:firebase/appleApp:AppleApp": "roles/firebase.admin",
    "gcp:firebase/androidApp:AndroidApp": "roles/firebase.admin",
    "gcp:firebase/webApp:WebApp": "roles/firebase.admin",
    "gcp:identityplatform/config:Config": "roles/identityplatform.admin",
    "gcp:firestore/database:Database": "roles/datastore.owner",
    "gcp:firebaserules/ruleset:Ruleset": "roles/firebaserules.admin",
    "gcp:firebaserules/release:Release": "roles/firebaserules.admin",
}
# A transfer config runs as the loader account: creating it needs actAs on that account (iam.serviceAccounts.actAs).
DEPLOY_EXTRA_ROLES = ("roles/iam.serviceAccountUser",)
READ_ROLES: dict[str, str] = {
    "gcp:projects/service:Service": "roles/serviceusage.serviceUsageViewer",
    "gcp:projects/serviceIdentity:ServiceIdentity": "roles/serviceusage.serviceUsageViewer",
    # The project's IAM policy and custom roles: securityReviewer reads every IAM policy, nothing else.
    "gcp:projects/iAMMember:IAMMember": "roles/iam.securityReviewer",
    "gcp:projects/iAMCustomRole:IAMCustomRole": "roles/iam.roleViewer",
    "gcp:serviceaccount/account:Account": "roles/iam.serviceAccountViewer",
    "gcp:serviceaccount/iAMMember:IAMMember": "roles/iam.securityReviewer",
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": "roles/iam.workloadIdentityPoolViewer",
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": "roles/iam.workloadIdentityPoolViewer",
    # Metadata only: dataset and table definitions and their IAM, never the rows.
    "gcp:bigquery/dataset:Dataset": "roles/bigquery.metadataViewer",
    "gcp:bigquery/table:Table": "roles/bigquery.metadataViewer",
    "gcp:bigquery/datasetIamMember:DatasetIamMember": "roles/bigquery.metadataViewer",
    # bigquery.transfers.get is in bigquery.user (no data read without a dataset grant).
    "gcp:bigquery/dataTransferConfig:DataTransferConfig": "roles/bigquery.user",
    "gcp:storage/bucket:Bucket": "roles/storage.bucketViewer",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "roles/iam.securityReviewer",
    "gcp:storage/transferJob:TransferJob": "roles/storagetransfer.viewer",
    "gcp:firebase/project:Project": "roles/firebase.viewer",
    "gcp:firebase/appleApp:AppleApp": "roles/firebase.viewer",
    "gcp:firebase/androidApp:AndroidApp": "roles/firebase.viewer",
    "gcp:firebase/webApp:WebApp": "roles/firebase.viewer",
    "gcp:identityplatform/config:Config": "roles/identityplatform.viewer",
    "gcp:firestore/database:Database": "roles/datastore.viewer",
    "gcp:firebaserules/ruleset:Ruleset": "roles/firebaserules.viewer",
    "gcp:firebaserules/release:Release": "roles/firebaserules.viewer",
}
# The project itself (resourcemanager.projects.get), which the provider reads before anything else.
READ_EXTRA_ROLES = ("roles/browser",)


def deploy_roles() -> list[str]:
    """Every role the deploy identity holds on the stack's project: what manages each resource type, no basic role."""
    return sorted({*MANAGE_ROLES.values(), *DEPLOY_EXTRA_ROLES})


def read_roles() -> list[str]:
    """Every role a read-only CI identity (previews, drift) holds: what reads each resource type, no basic role."""
    return sorted({*READ_ROLES.values(), *READ_EXTRA_ROLES})


class FirebaseApps(Section):
    """The client apps registered in the Firebase project, one Firebase app each."""

    ios_bundle_ids: list[str] = Field(default=["com.example.kanna"], description="iOS bundle ids, such as com.example.kanna.")
    android_packages: list[str] = Field(default=["com.example.kanna"], description="Android package names, such as com.example.kanna.")
    web: list[str] = Field(default=["kanna-web"], description="Web app names (lowercase letters, digits, hyphens).")

    @field_validator("ios_bundle_ids", "android_packages")
    @classmethod
    def _app_ids(cls, value: list[str]) -> list[str]:
        for app in value:
            if not _APP_ID.match(app):
                raise ValueError(f"{app!r} is not a bundle id or package name; allowed: reverse-DNS such as com.example.kanna")
        if len(set(value)) != len(value):
            raise ValueError("an app is listed twice; allowed: distinct ids")
        return value

    @field_validator("web")
    @classmethod
    def _web(cls, value: list[str]) -> list[str]:
        for app in value:
            if not _NAME.match(app):
                raise ValueError(f"{app!r} is not a web app name; allowed: 2-32 lowercase letters, digits and hyphens")
        if len(set(value)) != len(value):
            raise ValueError("a web app is listed twice; allowed: distinct names")
        return value


class TableExpiration(Section):
    """Days a BigQuery partition is kept, per dataset. Audit logs outlive application logs."""

    app_logs: int = Field(default=90, ge=1, le=3650, description="Days of application logs, 1 to 3650.")
    audit_logs: int = Field(default=400, ge=1, le=3650, description="Days of audit logs, 1 to 3650 (at least 365 in prod).")
    usage: int = Field(default=730, ge=1, le=3650, description="Days of usage data, 1 to 3650.")


class GitHubSettings(Section):
    """The one repository whose Actions workflows may act in this project, and only from protected refs."""

    repository: str = Field(default="example-org/kanna-infra", description="owner/name of the GitHub repository.")
    branches: list[str] = Field(default=["main"], description="Protected branches whose workflows may deploy.")
    environments: list[str] = Field(default=["prod"], description="Protected GitHub environments whose jobs may deploy.")
    roles: list[str] = Field(
        default_factory=read_roles,
        description="Project roles of the CI identity (default: the read roles of every resource type; never a basic or IAM admin role).",
    )

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", value):
            raise ValueError(f"{value!r} is not owner/name; allowed: a GitHub repository such as example-org/kanna-infra")
        return value

    @field_validator("branches", "environments")
    @classmethod
    def _refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if not re.match(r"^[A-Za-z0-9._/-]+$", ref) or "*" in ref:
                raise ValueError(f"{ref!r} is not a branch or environment name; allowed: exact names, no wildcards")
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        for role in value:
            if not role.startswith(("roles/", "projects/")):
                raise ValueError(f"{role!r} is not a role; allowed: roles/... or a custom projects/.../roles/...")
            if role in FORBIDDEN_CI_ROLES:
                raise ValueError(f"{role} lets CI rewrite the project's IAM; allowed: any role but {', '.join(FORBIDDEN_CI_ROLES)}")
            if role in BASIC_ROLES:
                raise ValueError(
                    f"{role} is a basic role, wider than CI needs; allowed: predefined roles such as roles/iam.securityReviewer"
                )
        return value


class GcpSettings(Section):
    """The GCP complement: Firebase Auth, Firestore, FCM and BigQuery in one project per stack."""

    project_id: str = Field(
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
        description="The stack's GCP project id (6-30 lowercase letters, digits, hyphens), such as kanna-prod-example.",
    )
    region: Literal["asia-northeast1"] = Field(default="asia-northeast1", description="Tokyo, next to the AWS region.")
    apps: FirebaseApps = Field(default_factory=FirebaseApps)
    authorized_domains: list[str] = Field(
        default=["app.example.com"],
        description="Domains that may run the Firebase sign-in flow (hostnames; localhost only outside prod).",
    )
    self_signup: bool = Field(
        default=False,
        description="false: users are invited (created by the backend with the Admin SDK) and cannot sign themselves up.",
    )
    table_expiration_days: TableExpiration = Field(default_factory=TableExpiration)
    github: GitHubSettings = Field(default_factory=GitHubSettings)

    @field_validator("authorized_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for domain in value:
            if domain != "localhost" and not _HOST.match(domain):
                raise ValueError(f"{domain!r} is not a hostname; allowed: lowercase hostnames such as app.example.com, or localhost")
        return value

    def problems(self, prod: bool) -> list[Problem]:
        """Prod rules: no localhost sign-in, a year of audit logs, deploys only from protected refs."""
        found: list[Problem] = []
        if prod and "localhost" in self.authorized_domains:
            found.append(
                Problem(("authorizedDomains",), self.authorized_domains, "prod signs in on real domains only; allowed: no localhost")
            )
        if prod and self.table_expiration_days.audit_logs < 365:
            found.append(
                Problem(
                    ("tableExpirationDays", "auditLogs"),
                    self.table_expiration_days.audit_logs,
                    "prod keeps audit logs a year; allowed: 365 to 3650",
                )
            )
        if not self.github.branches and not self.github.environments:
            found.append(
                Problem(("github", "branches"), [], "no protected branch or environment; allowed: at least one branch or environment")
            )
        return found
