"""kanna-infra: one program per stack, composed in dependency order like the architecture diagram."""

import pulumi

from components.data import Data, DataArgs
from components.gcp_analytics import Analytics, AnalyticsArgs
from components.gcp_apis import GcpApis, GcpApisArgs
from components.gcp_firebase import Firebase, FirebaseArgs
from components.gcp_identity import KeylessIdentity, KeylessIdentityArgs
from components.keys import Keys, KeysArgs
from components.log_export import LogExport, LogExportArgs
from components.network import Network, NetworkArgs
from components.observability import Observability, ObservabilityArgs, observed
from components.platform import Platform, PlatformArgs
from components.providers import aws_providers, datadog_provider, gcp_provider
from components.security import Security, SecurityArgs
from settings import SettingsError, from_pulumi

# 1. Settings: validated before any resource exists; a bad stack file stops here with one clear message.
stack = pulumi.get_stack()
try:
    settings = from_pulumi()
except SettingsError as error:
    raise pulumi.RunError(str(error)) from None

aws = aws_providers(settings)
regional = pulumi.ResourceOptions(providers=[aws.regional])

# 2. Keys, then the network (flow logs are encrypted with the logs key).
keys = Keys(f"{stack}-keys", KeysArgs(stack, settings.aws_account_id, settings.region, settings.protect), regional)
network = Network(f"{stack}-network", NetworkArgs(stack, settings.region, settings.network, keys.logs.arn, settings.protect), regional)

# 3. Security baseline: threat detection, audit trail, the internal user pool, SSM-only operator access.
callbacks = settings.platform.callback_urls()  # the ALB's Cognito client: one per internal host of every environment
security_args = SecurityArgs(
    stack, settings.aws_account_id, settings.region, settings.security, keys.data.arn, keys.logs.arn, settings.protect, callbacks
)
security = Security(f"{stack}-security", security_args, regional)

# 4. Data stores. The platform admits its services to them once they exist.
data = Data(
    f"{stack}-data",
    DataArgs(
        env=stack,
        settings=settings.data,
        vpc_id=network.vpc.id,
        isolated_subnet_ids=network.isolated_subnet_ids,
        availability_zones=settings.network.availability_zones,
        data_key_arn=keys.data.arn,
        secrets_key_arn=keys.secrets.arn,
        protect=settings.protect,
        account_id=settings.aws_account_id,
        region=settings.region,
        private_subnet_ids=network.private_subnet_ids,
        endpoint_security_group_id=network.endpoint_security_group_id,
        mysql_services=settings.platform.clients_of("mysql"),
        postgres_services=settings.platform.clients_of("postgres"),
    ),
    regional,
)

# 5. Platform: the shared cluster and edge (WAF -> CloudFront -> ALB), then each environment's services,
#    deployed blue/green through CodeDeploy (6).
platform = Platform(f"{stack}-platform", PlatformArgs(stack, settings, aws, keys, network, security, data), regional)

# 7. Observability: Datadog integration, monitors, SLOs, dashboard and synthetics for what the stack runs.
web, workers, stores = observed(settings.platform, platform.cluster.cluster.name, data)
observability = Observability(
    f"{stack}-observability",
    ObservabilityArgs(
        stack, settings.aws_account_id, settings.region, settings.observability, web, workers, stores, keys.secrets.arn, settings.protect
    ),
    pulumi.ResourceOptions(providers=[aws.regional, datadog_provider(settings)]),
)

# 8. GCP: Firebase Auth, Firestore, FCM and BigQuery, reached from AWS and CI without keys.
if settings.gcp is not None:
    g, on_gcp = settings.gcp, pulumi.ResourceOptions(providers=[gcp_provider(settings)])
    apis = GcpApis(f"{stack}-gcp-apis", GcpApisArgs(stack, g.project_id), on_gcp).services
    firebase = Firebase(f"{stack}-firebase", FirebaseArgs(stack, g, apis, settings.protect), on_gcp)
    analytics = Analytics(
        f"{stack}-analytics", AnalyticsArgs(stack, g, settings.aws_account_id, firebase.backend.member, apis, settings.protect), on_gcp
    )
    identity_args = KeylessIdentityArgs(
        stack, g, settings.aws_account_id, firebase.backend.name, apis, settings.platform.environments, settings.platform.gcp_backends()
    )
    KeylessIdentity(f"{stack}-gcp-identity", identity_args, on_gcp)
    # The pipeline's AWS side: the export bucket and the role Google's transfer agent assumes (it trusts that agent).
    export_args = LogExportArgs(
        stack,
        settings.aws_account_id,
        settings.region,
        keys.logs.arn,
        analytics.transfer_subject_id,
        settings.platform.log_retention_days,
        settings.protect,
        security.access_log_bucket.id,
        {f"{env}-{name}": s.task_role.name for env, e in platform.environments.items() for name, s in e.services.items()},
    )
    LogExport(f"{stack}-log-export", export_args, regional)
    pulumi.export("gcpBackendServiceAccount", firebase.backend.email)
    pulumi.export("gcpLogTransferSubjectId", analytics.transfer_subject_id)

pulumi.export("vpcId", network.vpc.id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("isolatedSubnetIds", network.isolated_subnet_ids)
pulumi.export("clusterArn", platform.cluster.cluster.arn)
pulumi.export("cdnDomainName", platform.edge.distribution.domain_name)
pulumi.export("taskSecurityGroupIds", {env: e.security_group_ids for env, e in platform.environments.items()})
pulumi.export("mysqlWriterEndpoint", data.mysql_writer_endpoint)
pulumi.export("mysqlReaderEndpoint", data.mysql_reader_endpoint)
pulumi.export("mysqlAnalyticsEndpoint", data.mysql_analytics_endpoint)
pulumi.export("postgresWriterEndpoint", data.postgres_writer_endpoint)
pulumi.export("redisEndpoint", data.redis_endpoint)
pulumi.export("securityFindingsTopicArn", security.findings_topic.arn)
pulumi.export("operatorPolicyArn", security.operator_access.operator_policy.arn)
# What CI needs to ship an image to a web service, by environment and service (deploy/render.py reads it).
pulumi.export("deploy", {env: e.deploy for env, e in platform.environments.items()})
pulumi.export("datadogDashboardUrl", observability.dashboard.url)
