"""GCP settings: the project, Firebase apps and sign-in, BigQuery retention, and who may act keylessly."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from .base import Problem, Section

_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_APP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_-]*)+$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
# Roles the CI identity may never hold: they let a workflow rewrite who may do anything in the project.
FORBIDDEN_CI_ROLES = ("roles/owner", "roles/editor", "roles/iam.securityAdmin", "roles/resourcemanager.projectIamAdmin")


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
        default=["roles/viewer"],
        description="Project roles of the CI identity (never owner, editor or an IAM admin role).",
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
    backend_services: list[str] = Field(
        default=["api", "worker"],
        description="ECS services whose task role (<env>-<service>-task) may impersonate the backend service account.",
    )

    @field_validator("authorized_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for domain in value:
            if domain != "localhost" and not _HOST.match(domain):
                raise ValueError(f"{domain!r} is not a hostname; allowed: lowercase hostnames such as app.example.com, or localhost")
        return value

    @field_validator("backend_services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        for service in value:
            if not _NAME.match(service):
                raise ValueError(f"{service!r} is not a service name; allowed: 2-32 lowercase letters, digits and hyphens")
        if not value:
            raise ValueError("no service given; allowed: at least one ECS service name")
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
