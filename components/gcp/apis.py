"""The GCP project's APIs, enabled in code so a fresh project needs nothing done by hand.

Disabling an API on destroy is off: removing it from this list (or destroying the stack) must not switch
off an API that Firebase, Firestore or BigQuery still use, which would break them and may delete data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.lib.context import InContext

# What the resources in the gcp_* components call, and what the APIs they call depend on.
APIS = (
    "serviceusage.googleapis.com",  # enabling the rest
    "cloudresourcemanager.googleapis.com",  # project IAM
    "iam.googleapis.com",  # service accounts, custom roles, workload identity pools
    "iamcredentials.googleapis.com",  # impersonation (generateAccessToken) after federation
    "sts.googleapis.com",  # token exchange for AWS and GitHub identities
    "firebase.googleapis.com",
    "identitytoolkit.googleapis.com",  # Firebase Authentication / Identity Platform
    "firestore.googleapis.com",
    "firebaserules.googleapis.com",
    "fcm.googleapis.com",
    "bigquery.googleapis.com",
    "bigquerydatatransfer.googleapis.com",
    "storage.googleapis.com",  # the log staging bucket
    "storagetransfer.googleapis.com",  # S3 -> Cloud Storage, keyless
)


@dataclass(frozen=True, kw_only=True)
class GcpApisArgs(InContext):
    project_id: str


class GcpApis(pulumi.ComponentResource):
    services: list[gcp.projects.Service]

    def __init__(self, name: str, args: GcpApisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:gcp:Apis", name, None, opts)
        self.services = [
            gcp.projects.Service(
                f"{args.env}-api-{api.split('.')[0]}",
                project=args.project_id,
                service=api,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for api in APIS
        ]
        self.register_outputs({"services": [s.service for s in self.services]})
