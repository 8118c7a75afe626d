"""Firebase: the project and its apps, Authentication, Firestore with its rules, and the backend identity.

- Authentication (Identity Platform) signs users in with email and password; MFA (TOTP) is available to
  every user. Self sign-up is off by default: KANNA users are invited, and the backend creates them with
  the Admin SDK, which `disabled_user_signup` does not block. Duplicate emails are refused.
- Firestore (native mode, Tokyo) holds chat and notifications, with point-in-time recovery and delete
  protection; clients reach it only through the rules in `gcp/firestore.rules`.
- The backend service account sends FCM messages through a custom role holding only
  `cloudmessaging.messages.create` (the predefined `roles/firebasecloudmessaging.admin` also manages the
  project's FCM settings), and writes Firestore with `roles/datastore.user`. It has no key: ECS tasks reach
  it through workload identity federation (see gcp_identity.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from components.lib.context import InContext
from settings import GcpSettings

RULES_FILE = Path(__file__).resolve().parents[2] / "gcp" / "firestore.rules"
FCM_SEND_PERMISSIONS = ["cloudmessaging.messages.create"]


@dataclass(frozen=True, kw_only=True)
class FirebaseArgs(InContext):
    settings: GcpSettings
    apis: Sequence[pulumi.Resource]  # the enabled APIs: nothing here may be created before them


class Firebase(pulumi.ComponentResource):
    project: gcp.firebase.Project
    auth: gcp.identityplatform.Config
    database: gcp.firestore.Database
    ruleset: gcp.firebaserules.Ruleset
    backend: gcp.serviceaccount.Account

    def __init__(self, name: str, args: FirebaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:gcp:Firebase", name, None, opts)
        env, s = args.env, args.settings
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=list(args.apis))

        self.project = gcp.firebase.Project(f"{env}-firebase", project=s.project_id, opts=after_apis)
        after_firebase = pulumi.ResourceOptions(parent=self, depends_on=[self.project])
        for bundle_id in s.apps.ios_bundle_ids:
            gcp.firebase.AppleApp(
                f"{env}-ios-{bundle_id.replace('.', '-')}",
                project=s.project_id,
                bundle_id=bundle_id,
                display_name=f"kanna {env} iOS ({bundle_id})",
                opts=after_firebase,
            )
        for package in s.apps.android_packages:
            gcp.firebase.AndroidApp(
                f"{env}-android-{package.replace('.', '-')}",
                project=s.project_id,
                package_name=package,
                display_name=f"kanna {env} Android ({package})",
                opts=after_firebase,
            )
        for web in s.apps.web:
            gcp.firebase.WebApp(f"{env}-web-{web}", project=s.project_id, display_name=f"kanna {env} {web}", opts=after_firebase)

        self.auth = gcp.identityplatform.Config(
            f"{env}-auth",
            project=s.project_id,
            authorized_domains=s.authorized_domains,
            autodelete_anonymous_users=True,
            sign_in=gcp.identityplatform.ConfigSignInArgs(
                allow_duplicate_emails=False,
                email=gcp.identityplatform.ConfigSignInEmailArgs(enabled=True, password_required=True),
                anonymous=gcp.identityplatform.ConfigSignInAnonymousArgs(enabled=False),
            ),
            mfa=gcp.identityplatform.ConfigMfaArgs(
                state="ENABLED",  # available to every user; MANDATORY would lock out users mid-rollout
                provider_configs=[
                    gcp.identityplatform.ConfigMfaProviderConfigArgs(
                        state="ENABLED",
                        totp_provider_config=gcp.identityplatform.ConfigMfaProviderConfigTotpProviderConfigArgs(adjacent_intervals=1),
                    )
                ],
            ),
            client=gcp.identityplatform.ConfigClientArgs(
                permissions=gcp.identityplatform.ConfigClientPermissionsArgs(
                    disabled_user_signup=not s.self_signup,
                    # Account deletion goes through the backend, which also removes the user's data.
                    disabled_user_deletion=True,
                )
            ),
            opts=after_firebase,
        )

        self.database = gcp.firestore.Database(
            f"{env}-firestore",
            project=s.project_id,
            name="(default)",  # the database the Firebase SDKs and the `cloud.firestore` release address
            location_id=s.region,
            type="FIRESTORE_NATIVE",
            concurrency_mode="OPTIMISTIC",
            app_engine_integration_mode="DISABLED",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
            delete_protection_state="DELETE_PROTECTION_ENABLED",
            # Destroying the stack forgets the database instead of deleting chat history.
            deletion_policy="ABANDON",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.project], protect=args.protect),
        )
        self.ruleset = gcp.firebaserules.Ruleset(
            f"{env}-firestore-rules",
            project=s.project_id,
            source=gcp.firebaserules.RulesetSourceArgs(
                files=[gcp.firebaserules.RulesetSourceFileArgs(name="firestore.rules", content=RULES_FILE.read_text())],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.database]),
        )
        gcp.firebaserules.Release(
            f"{env}-firestore-rules-release",
            project=s.project_id,
            name="cloud.firestore",
            ruleset_name=self.ruleset.name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.database]),
        )

        self.backend = gcp.serviceaccount.Account(
            f"{env}-backend-sa",
            project=s.project_id,
            account_id=f"{env}-backend",
            display_name=f"kanna {env} backend (ECS tasks, through workload identity federation)",
            opts=after_apis,
        )
        fcm_sender = gcp.projects.IAMCustomRole(
            f"{env}-fcm-sender-role",
            project=s.project_id,
            role_id=f"{env.replace('-', '_')}_fcm_sender",
            title=f"kanna {env} FCM sender",
            description="Send Firebase Cloud Messaging messages, nothing else.",
            permissions=FCM_SEND_PERMISSIONS,
            stage="GA",
            opts=after_apis,
        )
        gcp.projects.IAMMember(
            f"{env}-backend-fcm-send",
            project=s.project_id,
            role=fcm_sender.name,
            member=self.backend.member,
            opts=pulumi.ResourceOptions(parent=self),
        )
        gcp.projects.IAMMember(
            f"{env}-backend-firestore",
            project=s.project_id,
            role="roles/datastore.user",
            member=self.backend.member,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {"databaseName": self.database.name, "rulesetName": self.ruleset.name, "backendServiceAccount": self.backend.email}
        )
