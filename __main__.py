"""kanna-infra: one program per stack, composed in dependency order like the architecture diagram."""

import pulumi

from components.cluster import Cluster, ClusterArgs
from components.edge import Edge, EdgeArgs
from components.environment import Environment, EnvironmentArgs
from components.keys import Keys, KeysArgs
from components.network import Network, NetworkArgs
from components.providers import aws_providers
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

# 3. Platform: the shared cluster and edge (WAF -> CloudFront -> ALB), then each environment's services.
cluster = Cluster(
    f"{stack}-cluster", ClusterArgs(stack, sorted({s.image for s in platform.services.values()}), keys.data.arn, settings.protect), regional
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
        internal_auth=None,  # the security baseline's Cognito pool goes here once it exists
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
        ),
        regional,
    )
    for index, env in enumerate(platform.environments)
]

pulumi.export("vpcId", network.vpc.id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("isolatedSubnetIds", network.isolated_subnet_ids)
pulumi.export("clusterArn", cluster.cluster.arn)
pulumi.export("cdnDomainName", edge.distribution.domain_name)
pulumi.export("nameServers", edge.zone.name_servers)
pulumi.export("taskSecurityGroupIds", {env: e.security_group_ids for env, e in zip(platform.environments, environments, strict=True)})
