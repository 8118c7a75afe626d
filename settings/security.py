"""Security settings: the internal tools' user pool and its optional IdP; the audit trail's retention and lock, which
the account baseline reads (account/settings.py: the trail exists once per account)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Problem, RetentionDays, Section


class IdpSettings(Section):
    """The company IdP the internal user pool federates with. Secrets never live here: only a Secrets Manager ARN."""

    type: Literal["SAML", "OIDC"] = Field(description="SAML (metadata URL) or OIDC (issuer, client id, client secret ARN).")
    name: str = Field(pattern=r"^[\w.-]{1,32}$", description="The provider name shown on the Cognito sign-in page, 1-32 characters.")
    metadata_url: str | None = Field(default=None, pattern=r"^https://", description="SAML: the IdP's metadata URL (https).")
    issuer: str | None = Field(default=None, pattern=r"^https://", description="OIDC: the issuer URL (https).")
    client_id: str | None = Field(default=None, description="OIDC: the client id registered at the IdP.")
    client_secret_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$",
        description="OIDC: the Secrets Manager ARN of the client secret (never the secret itself).",
    )

    def problems(self) -> list[Problem]:
        if self.type == "SAML" and not self.metadata_url:
            return [Problem(("metadataUrl",), None, "a SAML IdP needs its metadata URL; allowed: an https URL")]
        if self.type == "OIDC":
            missing = [
                key
                for key, value in (("issuer", self.issuer), ("clientId", self.client_id), ("clientSecretArn", self.client_secret_arn))
                if not value
            ]
            return [Problem((key,), None, f"an OIDC IdP needs {key}; allowed: see settings/security.py") for key in missing]
        return []


class AuditSettings(Section):
    """The account's trail (account/). Defaults suit prod: a year of audit logs under COMPLIANCE-mode Object Lock."""

    audit_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = Field(
        default="COMPLIANCE",
        description="Object Lock mode of the CloudTrail bucket: COMPLIANCE (nobody can delete, prod) or GOVERNANCE (dev).",
    )
    audit_lock_days: int = Field(default=365, ge=1, le=3650, description="Default Object Lock retention of audit logs, 1-3650 days.")
    audit_log_retention_days: RetentionDays = Field(default=365, description="Retention of the CloudTrail log group.")

    def problems(self, prod: bool) -> list[Problem]:
        if prod and self.audit_lock_mode != "COMPLIANCE":
            return [Problem(("auditLockMode",), self.audit_lock_mode, "prod audit logs are locked in COMPLIANCE mode; allowed: COMPLIANCE")]
        return []


class SecuritySettings(Section):
    """Defaults suit prod."""

    domain: str = Field(
        default="example.com",
        pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$",
        description="The product domain; the admin tool is admin.<domain> and Cognito calls back there.",
    )
    cognito_domain_prefix: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9](-?[a-z0-9])*$",
        description="The Cognito hosted-UI prefix (unique in the region); default kanna-<stack>-internal.",
    )
    idp: IdpSettings | None = Field(default=None, description="Optional federation with the company IdP (SAML or OIDC).")
    session_log_retention_days: RetentionDays = Field(default=365, description="Retention of the SSM / ECS Exec session log group.")
    finding_severity: float = Field(default=7, ge=1, le=8.9, description="GuardDuty findings at or above this severity notify (1-8.9).")

    def problems(self, prod: bool) -> list[Problem]:
        return [Problem(("idp", *p.path), p.value, p.message) for p in (self.idp.problems() if self.idp else [])]
