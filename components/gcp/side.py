"""The GCP side of a stack: Firebase Auth, Firestore, FCM and BigQuery, reached from AWS and CI without keys, and
the pipeline's AWS side (the export bucket and the role Google's transfer agent assumes; it trusts that agent).

A function, not a component: each part keeps the stack as its parent, as before the layers were packages.
"""

from __future__ import annotations

import pulumi

from components.gcp.analytics import Analytics, AnalyticsArgs
from components.gcp.apis import GcpApis, GcpApisArgs
from components.gcp.firebase import Firebase, FirebaseArgs
from components.gcp.identity import KeylessIdentity, KeylessIdentityArgs
from components.gcp.log_export import LogExport, LogExportArgs
from components.lib.context import Context
from components.lib.providers import gcp_provider
from components.platform.platform import Platform
from components.security.security import Security
from settings import Settings


def gcp_side(
    context: Context, settings: Settings, security: Security, platform: Platform, regional: pulumi.ResourceOptions
) -> dict[str, object]:
    """Builds the GCP side when the stack has one (settings.gcp), and returns its stack outputs."""
    if settings.gcp is None:
        return {}
    stack, g, on_gcp = context.stack, settings.gcp, pulumi.ResourceOptions(providers=[gcp_provider(settings)])
    apis = GcpApis(f"{stack}-gcp-apis", GcpApisArgs(context=context, project_id=g.project_id), on_gcp).services
    firebase = Firebase(f"{stack}-firebase", FirebaseArgs(context=context, settings=g, apis=apis), on_gcp)
    analytics = Analytics(
        f"{stack}-analytics", AnalyticsArgs(context=context, settings=g, backend_member=firebase.backend.member, apis=apis), on_gcp
    )
    identity_args = KeylessIdentityArgs(
        context=context,
        settings=g,
        backend_service_account=firebase.backend.name,
        apis=apis,
        environments=settings.platform.environments,
        backend_services=settings.platform.gcp_backends(),
    )
    KeylessIdentity(f"{stack}-gcp-identity", identity_args, on_gcp)
    export_args = LogExportArgs(
        context=context,
        transfer_subject_id=analytics.transfer_subject_id,
        log_retention_days=settings.platform.log_retention_days,
        access_log_bucket=security.access_log_bucket.id,
        writer_roles={f"{env}-{name}": s.task_role.name for env, e in platform.environments.items() for name, s in e.services.items()},
    )
    LogExport(f"{stack}-log-export", export_args, regional)
    return {"gcpBackendServiceAccount": firebase.backend.email, "gcpLogTransferSubjectId": analytics.transfer_subject_id}
