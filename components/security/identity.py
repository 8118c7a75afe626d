"""The Cognito user pool of internal tools: the ALB's `authenticate-cognito` action puts the admin tool (and any
other internal route) behind it.

MFA is required (TOTP), passwords are strong, threat protection blocks risky sign-ins (Plus tier), nobody can
sign themselves up, and the pool can't be deleted by accident. With `security.idp` set, staff sign in through
the company IdP (SAML or OIDC); an OIDC client secret is read from Secrets Manager at deploy time, never from
the stack file.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.context import InContext
from components.lib.contracts import InternalAuth
from settings import SecuritySettings


@dataclass(frozen=True, kw_only=True)
class IdentityArgs(InContext):
    settings: SecuritySettings
    callback_urls: list[str]  # one per internal host the ALB authenticates (PlatformSettings.callback_urls)


class Identity(pulumi.ComponentResource):
    user_pool: aws.cognito.UserPool
    client: aws.cognito.UserPoolClient
    domain: aws.cognito.UserPoolDomain
    internal_auth: InternalAuth

    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:Identity", name, None, opts)
        env, s = args.env, args.settings
        child = pulumi.ResourceOptions(parent=self)
        self.user_pool = aws.cognito.UserPool(
            f"{env}-internal-users",
            name=f"kanna-{env}-internal",
            mfa_configuration="ON",
            software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=14,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=3,
                password_history_size=24,
            ),
            # Threat protection (compromised credentials, adaptive authentication) needs the Plus tier.
            user_pool_tier="PLUS",
            user_pool_add_ons=aws.cognito.UserPoolUserPoolAddOnsArgs(advanced_security_mode="ENFORCED"),
            deletion_protection="ACTIVE",
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)]
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        providers = ["COGNITO"]
        depends_on: list[pulumi.Resource] = []
        if s.idp is not None:
            depends_on.append(self._identity_provider(env, s))
            providers.append(s.idp.name)
        self.client = aws.cognito.UserPoolClient(
            f"{env}-internal-alb",
            name=f"kanna-{env}-alb",
            user_pool_id=self.user_pool.id,
            generate_secret=True,  # the ALB is a confidential client
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=["openid", "email"],
            # Every environment's internal hosts, from the function that names them: a host without its URL
            # gets redirect_mismatch at login.
            callback_urls=args.callback_urls,
            supported_identity_providers=providers,
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        self.domain = aws.cognito.UserPoolDomain(
            f"{env}-internal-domain",
            domain=s.cognito_domain_prefix or f"kanna-{env}-internal",
            user_pool_id=self.user_pool.id,
            opts=child,
        )
        self.internal_auth = InternalAuth(self.user_pool.arn, self.client.id, self.domain.domain)
        self.register_outputs({"userPoolArn": self.user_pool.arn, "userPoolClientId": self.client.id, "userPoolDomain": self.domain.domain})

    def _identity_provider(self, env: str, s: SecuritySettings) -> aws.cognito.IdentityProvider:
        idp = s.idp
        assert idp is not None
        details: pulumi.Input[dict[str, pulumi.Input[str]]]
        if idp.type == "SAML":
            details = {"MetadataURL": str(idp.metadata_url)}
        else:
            secret = aws.secretsmanager.get_secret_version_output(
                secret_id=str(idp.client_secret_arn), opts=pulumi.InvokeOutputOptions(parent=self)
            )
            details = {
                "client_id": str(idp.client_id),
                "client_secret": pulumi.Output.secret(secret.secret_string),
                "oidc_issuer": str(idp.issuer),
                "authorize_scopes": "openid email profile",
                "attributes_request_method": "GET",
            }
        return aws.cognito.IdentityProvider(
            f"{env}-internal-idp",
            user_pool_id=self.user_pool.id,
            provider_name=idp.name,
            provider_type=idp.type,
            provider_details=details,
            attribute_mapping={"email": "email"}
            if idp.type == "OIDC"
            else {"email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"},
            opts=pulumi.ResourceOptions(parent=self),
        )
