"""kanna-infra: one program per stack, composed in dependency order like the architecture diagram."""

import pulumi

from components.cluster import Cluster, ClusterArgs
from components.contracts import Telemetry
from components.data import Data, DataArgs
from components.edge import Edge, EdgeArgs
from components.environment import Environment, EnvironmentArgs
from components.gcp_analytics import Analytics, AnalyticsArgs
from components.gcp_apis import GcpApis, GcpApisArgs
from components.gcp_firebase import Firebase, FirebaseArgs
from components.gcp_identity import KeylessIdentity, KeylessIdentityArgs
from components.keys import Keys, KeysArgs
from components.network import Network, NetworkArgs
from components.observability import Observability, ObservabilityArgs, observed
from components.providers import aws_providers, datadog_provider, gcp_provider
from components.security import Security, SecurityArgs
from components.waf import Waf, WafArgs
from settings import SettingsError, from_pulumi

# 1. Settings: validated before any resource exists; a bad stack file stops here with one clear message.
stack = pulumi.get_stack()
try:
    settings = from_pulumi()
except SettingsError as error:
    raise pulumi.RunError(str(error)) from None

aws = aws_providers(settings)
regional = pulumi.ResourceOptions(providers=[aws.regional])
platform = settings.platform

# 2. Keys, then the network (flow logs are encrypted with the logs key).
keys = Keys(f"{stack}-keys", KeysArgs(stack, settings.aws_account_id, settings.region, settings.protect), regional)
network = Network(f"{stack}-network", NetworkArgs(stack, settings.region, settings.network, keys.logs.arn, settings.protect), regional)

# 3. Security baseline: threat detection, audit trail, the internal user pool, SSM-only operator access.
security_args = SecurityArgs(
    stack, settings.aws_account_id, settings.region, settings.security, keys.data.arn, keys.logs.arn, settings.protect
)
security = Security(f"{stack}-security", security_args, regional)

# 4. Data stores. The platform's services are admitted to them once they exist (below).
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
    ),
    regional,
)
# 5. Platform: the shared cluster and edge (WAF -> CloudFront -> ALB), then each environment's services.
cluster = Cluster(
    f"{stack}-cluster",
    ClusterArgs(stack, sorted({s.image for s in platform.services.values()}), keys.data.arn, settings.protect, security.exec_logging),
    regional,
)
telemetry = Telemetry(
    stack,
    settings.observability.datadog_site,
    settings.observability.api_key_secret_arn(settings.aws_account_id, settings.region, stack),
    "bootstrap",
)
waf = Waf(
    f"{stack}-waf", WafArgs(stack, platform.rate_limit, platform.log_retention_days, keys.logs.arn, aws.global_, settings.protect), regional
)
edge = Edge(
    f"{stack}-edge",
    EdgeArgs(
        stack,
        platform.domain,
        platform.public_hosts(),
        platform.public_hosts(internal=True),
        network.vpc.id,
        str(settings.network.vpc_cidr),
        network.public_subnet_ids,
        keys.secrets.arn,
        waf.regional_acl.arn,
        waf.cloudfront_acl.arn,
        aws.global_,
        settings.prod,
        settings.protect,
        internal_auth=security.internal_auth,
        test_listener_port=settings.deploy.test_listener_port if settings.deploy.web_strategy == "blueGreen" else None,
    ),
    regional,
)
environments = [
    Environment(
        f"{stack}-{env}",
        EnvironmentArgs(
            env,
            index,
            settings,
            cluster,
            network.vpc.id,
            network.private_subnet_ids,
            edge.https_listener.arn,
            edge.alb.arn_suffix,
            edge.alb_security_group.id,
            edge.origin_secret,
            edge.internal_auth,
            keys.logs.arn,
            keys.secrets.arn,
            telemetry,
            security.exec_logging.task_policy_arn,
            data.connection,
            edge.test_listener.arn if edge.test_listener else None,
        ),
        regional,
    )
    for index, env in enumerate(platform.environments)
]
for store in ("mysql", "postgres", "redis"):
    data.admit(store, {client: group for e in environments for client, group in e.store_clients[store].items()})

# 7. Observability: Datadog integration, monitors, SLOs, dashboard and synthetics for what the stack runs.
web, workers, stores = observed(platform, cluster.cluster.name, data)
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
    KeylessIdentity(f"{stack}-gcp-identity", KeylessIdentityArgs(stack, g, settings.aws_account_id, firebase.backend.name, apis), on_gcp)
    pulumi.export("gcpBackendServiceAccount", firebase.backend.email)
    pulumi.export("gcpLogTransferSubjectId", analytics.transfer_subject_id)

pulumi.export("vpcId", network.vpc.id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("isolatedSubnetIds", network.isolated_subnet_ids)
pulumi.export("clusterArn", cluster.cluster.arn)
pulumi.export("cdnDomainName", edge.distribution.domain_name)
pulumi.export("nameServers", edge.zone.name_servers)
pulumi.export("taskSecurityGroupIds", {env: e.security_group_ids for env, e in zip(platform.environments, environments, strict=True)})
pulumi.export("mysqlWriterEndpoint", data.mysql_writer_endpoint)
pulumi.export("mysqlReaderEndpoint", data.mysql_reader_endpoint)
pulumi.export("mysqlAnalyticsEndpoint", data.mysql_analytics_endpoint)
pulumi.export("postgresWriterEndpoint", data.postgres_writer_endpoint)
pulumi.export("redisEndpoint", data.redis_endpoint)
pulumi.export("securityFindingsTopicArn", security.findings_topic.arn)
pulumi.export("operatorPolicyArn", security.operator_access.operator_policy.arn)
# What CI needs to ship an image to a web service, by environment and service (deploy/render.py reads it).
pulumi.export("deploy", {env: e.deploy for env, e in zip(platform.environments, environments, strict=True)})
pulumi.export("datadogDashboardUrl", observability.dashboard.url)
