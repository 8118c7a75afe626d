"""kanna-bootstrap: the management account's program. What must exist before kanna-infra can run.

Run by an administrator (Identity Center, `administrator` permission set) from the management account;
the pipeline never runs it. See docs/state.md for its first run, before the state bucket exists.
"""

import sys
from pathlib import Path

# The repository root first: this program imports `bootstrap.*` and the shared settings base from there.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402
import pulumi_gcp as gcp  # noqa: E402

from bootstrap.ci import CiAccess, CiAccessArgs, standbys_in_use  # noqa: E402
from bootstrap.dns import PublicZones, PublicZonesArgs  # noqa: E402
from bootstrap.gcp_ci import GithubFederation, GithubFederationArgs  # noqa: E402
from bootstrap.identity import Identity, IdentityArgs  # noqa: E402
from bootstrap.organization import Organization, OrganizationArgs  # noqa: E402
from bootstrap.settings import BootstrapSettingsError, from_pulumi  # noqa: E402
from bootstrap.state import StateBackend, StateBackendArgs, StateGrant, admin_arns  # noqa: E402
from settings import regions_in_use  # noqa: E402

# 1. Settings, validated before any resource.
try:
    settings = from_pulumi()
except BootstrapSettingsError as error:
    raise pulumi.RunError(str(error)) from None
tags = {"Project": "kanna-bootstrap", "ManagedBy": "pulumi"}


def provider(name: str, account_id: str, assume: bool, region: str | None = None) -> aws.Provider:
    # Member accounts are reached through the role Organizations creates in each of them.
    return aws.Provider(
        name,
        region=region or settings.region,
        allowed_account_ids=[account_id],
        assume_roles=[
            aws.ProviderAssumeRoleArgs(
                role_arn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", session_name="kanna-bootstrap"
            )
        ]
        if assume
        else None,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )


management = pulumi.ResourceOptions(provider=provider("management-aws", settings.management_account_id, assume=False))

# The management account is the most powerful one: GuardDuty watches it too (the workload stacks
# enable their own detectors in their security component; the SCPs stop anyone turning them off).
aws.guardduty.Detector(
    "management-guardduty",
    enable=True,
    finding_publishing_frequency="FIFTEEN_MINUTES",
    opts=pulumi.ResourceOptions.merge(management, pulumi.ResourceOptions(protect=True)),
)

# 2. The organization: OUs, accounts, SCPs.
# The SCP allows exactly the regions in use: bootstrap's home and the main program's stacks' (their stack files).
organization = Organization("organization", OrganizationArgs(sorted({settings.region, *regions_in_use()}), settings.accounts), management)

# 3. The state backend, then each stack's CI access in its workload account, then who may use the bucket.
# The state is replicated to the standbys' region (prod-dr's Osaka, from its stack file), so a standby can be
# operated when the home region is lost (docs/disaster-recovery.md).
standbys = {primary: found for primary, found in standbys_in_use().items() if primary in settings.stacks}
replica_regions = sorted({region for found in standbys.values() for region in found.values()} - {settings.region})
if len(replica_regions) > 1:
    raise pulumi.RunError(f"stack 'management': the standbys are in {', '.join(replica_regions)}; allowed: one region, the state replica's")
replica_region = replica_regions[0] if replica_regions else None
workload_ids = sorted({settings.account_of(stack).id for stack in settings.stacks})
state = StateBackend(
    "state",
    StateBackendArgs(
        settings.management_account_id,
        settings.region,
        workload_ids,
        settings.state_version_retention_days,
        replica_region=replica_region,
        replica_provider=provider(f"management-aws-{replica_region}", settings.management_account_id, False, replica_region)
        if replica_region
        else None,
    ),
    management,
)
workload = {stack: provider(f"{stack}-aws", settings.account_of(stack).id, assume=True) for stack in settings.stacks}
ci = {
    stack: CiAccess(
        f"{stack}-ci",
        CiAccessArgs(
            stack,
            settings.account_of(stack).id,
            settings.github.repository,
            state.bucket_arn,
            state.bucket_key.arn,
            standbys={
                standby: provider(f"{standby}-aws", settings.account_of(stack).id, True, region)
                for standby, region in standbys.get(stack, {}).items()
            },
        ),
        pulumi.ResourceOptions(provider=workload[stack]),
    )
    for stack in settings.stacks
}
state.restrict_to(
    [StateGrant(access.stacks, kind, role.arn, writes=kind != "preview") for access in ci.values() for kind, role in access.roles.items()],
    admins=admin_arns(settings.management_account_id),
)

# 4. The same three CI identities in GCP, through Workload Identity Federation.
federation = GithubFederation(
    "github-federation",
    GithubFederationArgs(
        settings.github.repository,
        settings.gcp.pool_project,
        settings.gcp.pool_project_number,
        {stack: settings.gcp.projects[stack] for stack in settings.stacks},
    ),
    pulumi.ResourceOptions(provider=gcp.Provider("gcp", project=settings.gcp.pool_project, region="asia-northeast1")),
)

# 5. Each stack's public hosted zone, in its workload account, to delegate before the stack's first deploy.
dns = PublicZones(
    "dns", PublicZonesArgs({stack: settings.zones[stack] for stack in settings.stacks}, workload, settings.adopt_zone_ids), management
)

# 6. People: Identity Center permission sets and group assignments.
Identity(
    "identity",
    IdentityArgs(
        settings.identity_center.instance_arn,
        settings.identity_center.groups,
        settings.identity_center.assignments,
        {key: account.id for key, account in settings.accounts.items()},
    ),
    management,
)

pulumi.export("backendUrl", state.url)
pulumi.export("stateBucket", state.bucket.bucket)
pulumi.export("replicaBackendUrl", state.replica_url)
pulumi.export("gcpWorkloadIdentityProvider", federation.provider_name)
pulumi.export(
    "gcpServiceAccounts",
    {stack: {kind: sa.email for kind, sa in accounts.items()} for stack, accounts in federation.service_accounts.items()},
)
# What each kanna-infra stack's settings name (platform.zoneId), and what the parent domain delegates to.
pulumi.export("zones", {stack: {"zoneId": z.zone_id, "nameServers": z.name_servers} for stack, z in dns.zones.items()})
pulumi.export("ciRoles", {stack: {kind: role.arn for kind, role in access.roles.items()} for stack, access in ci.items()})
