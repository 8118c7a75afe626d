"""The typed settings of the bootstrap stack (`Pulumi.management.yaml`), validated once at start-up.

The same shape as the main program's settings: camelCase keys, no unknown keys, and a bad value stops the
program with one line per problem that names the stack, the key, the value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from settings.base import Problem, Section, SettingsError, SettingsProblems, config_from_pulumi, validate
from settings.regions import DEFAULT_REGION, SupportedRegion

PROJECT = "kanna-bootstrap"
REGION = DEFAULT_REGION
AccountId = str
OuPath = Literal["workloads/prod", "workloads/dev", "shared"]
PermissionSetName = Literal["administrator", "sre", "developer-readonly"]


class GcpSettings(Section):
    """GCP: the project that holds the GitHub federation pool, and each kanna-infra stack's project."""

    pool_project: str = Field(default="kanna-shared-ci", pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", description="Project id of the pool.")
    pool_project_number: str = Field(default="123456789012", pattern=r"^\d{6,20}$", description="Project number of the pool's project.")
    projects: dict[str, str] = Field(
        default={"dev": "kanna-dev-example", "prod": "kanna-prod-example"}, description="kanna-infra stack -> GCP project id."
    )


class AccountSettings(Section):
    """A member account of the organization. Its id is known (it exists before the first deploy role)."""

    id: AccountId = Field(pattern=r"^\d{12}$", description="The 12-digit account id.")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", description="The account's root email (unique per account).")
    ou: OuPath = Field(description="The organizational unit the account sits in.")


class GithubSettings(Section):
    """Where the pipeline runs: only this repository's workflows may assume the CI roles."""

    repository: str = Field(
        default="example-org/kanna-infra", pattern=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", description="owner/name of the repository."
    )


class Assignment(Section):
    """One Identity Center group given one permission set in some accounts."""

    group: str = Field(description="A key of identityCenter.groups.")
    permission_set: PermissionSetName = Field(description="administrator, sre or developer-readonly.")
    accounts: list[str] = Field(min_length=1, description="Keys of accounts (prod, dev, shared).")


class IdentityCenterSettings(Section):
    """IAM Identity Center: ids are given, not looked up, so the program needs no invoke to know them."""

    instance_arn: str = Field(
        default="arn:aws:sso:::instance/ssoins-7758b3a4f2c5d9e1",
        pattern=r"^arn:aws:sso:::instance/ssoins-[0-9a-f]{16}$",
        description="The Identity Center instance (aws sso-admin list-instances).",
    )
    groups: dict[str, str] = Field(
        default={
            "administrators": "9a6744b8-e0a1-70d6-2d39-6a5e3c1b0a01",
            "sre": "9a6744b8-e0a1-70d6-2d39-6a5e3c1b0a02",
            "developers": "9a6744b8-e0a1-70d6-2d39-6a5e3c1b0a03",
        },
        description="Group key -> identity store group id (aws identitystore list-groups).",
    )
    assignments: list[Assignment] = Field(
        default=[
            Assignment(group="administrators", permission_set="administrator", accounts=["prod", "dev", "shared"]),
            Assignment(group="sre", permission_set="sre", accounts=["prod", "dev", "shared"]),
            Assignment(group="developers", permission_set="developer-readonly", accounts=["prod", "dev"]),
        ],
        description="Who gets which permission set where.",
    )

    @field_validator("groups")
    @classmethod
    def _group_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for key, group_id in value.items():
            if not re.fullmatch(r"([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", group_id):
                raise ValueError(f"group {key!r} has id {group_id!r}; allowed: an identity store group id (a UUID)")
        return value


class BootstrapSettings(Section):
    """All settings of the bootstrap stack. Defaults are the committed organization's."""

    management_account_id: AccountId = Field(pattern=r"^\d{12}$", description="The organization's management account.")
    region: SupportedRegion = Field(default=REGION, description="The home region: state, keys, Identity Center.")
    accounts: dict[str, AccountSettings] = Field(description="Member accounts by key: prod, dev and shared.")
    stacks: dict[str, str] = Field(
        default={"dev": "dev", "prod": "prod"},
        description="kanna-infra stack -> key of the account it deploys to (gets CI roles and a state key).",
    )
    github: GithubSettings = Field(default_factory=GithubSettings)
    gcp: GcpSettings = Field(default_factory=GcpSettings)
    identity_center: IdentityCenterSettings = Field(default_factory=IdentityCenterSettings)
    zones: dict[str, str] = Field(
        default={"prod": "example.com", "dev": "dev.example.com"},
        description="kanna-infra stack -> the domain of its public hosted zone (bootstrap/dns.py), one per stack.",
    )
    adopt_zone_ids: dict[str, str] = Field(
        default_factory=dict,
        description="kanna-infra stack -> the id of an existing hosted zone to import (adopt) instead of creating one.",
    )
    state_version_retention_days: int = Field(
        default=90, ge=30, le=3650, description="How long old state versions stay recoverable (30 to 3650 days)."
    )

    @model_validator(mode="after")
    def _cross_checks(self) -> BootstrapSettings:
        found: list[Problem] = []
        for key in ("prod", "dev", "shared"):
            if key not in self.accounts:
                found.append(Problem(("accounts", key), None, f"missing; allowed: accounts {', '.join(['prod', 'dev', 'shared'])}"))
        ids = [a.id for a in self.accounts.values()] + [self.management_account_id]
        if len(set(ids)) != len(ids):
            found.append(Problem(("accounts",), sorted(ids), "an account id is used twice; allowed: distinct ids, not the management one"))
        for stack, account in self.stacks.items():
            if account not in self.accounts:
                found.append(Problem(("stacks", stack), account, f"unknown account; allowed: {', '.join(self.accounts)}"))
        for stack in self.stacks:
            domain = self.zones.get(stack)
            if domain is None or not re.fullmatch(r"([a-z0-9-]+\.)+[a-z]{2,}", domain):
                found.append(Problem(("zones", stack), domain, "no domain for this stack; allowed: a domain such as example.com"))
        for stack, zone_id in self.adopt_zone_ids.items():
            if stack not in self.stacks or not re.fullmatch(r"Z[A-Z0-9]{1,32}", zone_id):
                found.append(
                    Problem(("adoptZoneIds", stack), zone_id, f"allowed: a hosted zone id (Z...) for one of {', '.join(self.stacks)}")
                )
        for stack in self.stacks:
            if stack not in self.gcp.projects:
                found.append(
                    Problem(("gcp", "projects"), sorted(self.gcp.projects), f"no project for stack {stack!r}; allowed: one per stack")
                )
        for index, assignment in enumerate(self.identity_center.assignments):
            where = ("identityCenter", "assignments", index)
            if assignment.group not in self.identity_center.groups:
                found.append(
                    Problem((*where, "group"), assignment.group, f"unknown group; allowed: {', '.join(self.identity_center.groups)}")
                )
            for account in assignment.accounts:
                if account not in self.accounts:
                    found.append(Problem((*where, "accounts"), account, f"unknown account; allowed: {', '.join(self.accounts)}"))
        if found:
            raise SettingsProblems(found)
        return self

    def account_of(self, stack: str) -> AccountSettings:
        return self.accounts[self.stacks[stack]]


# One error type for both programs' settings; the bootstrap name stays for its callers.
BootstrapSettingsError = SettingsError


def from_pulumi() -> BootstrapSettings:
    return load(*config_from_pulumi())


def load(stack: str, config: Mapping[str, Any]) -> BootstrapSettings:
    return validate(BootstrapSettings, PROJECT, stack, config)
