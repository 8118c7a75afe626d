"""kanna-infra: one program per stack, composed in dependency order like the architecture diagram."""

import pulumi

from components.data import Data, DataArgs
from components.dr import Recovery
from components.gcp import gcp_side
from components.lib.context import Scope
from components.lib.providers import aws_providers, datadog_provider
from components.network import Network, NetworkArgs
from components.observability import Observability, ObservabilityArgs
from components.platform import Platform, PlatformArgs
from components.security import Keys, RegionalBaseline, RegionalBaselineArgs, Security, SecurityArgs
from settings import SettingsError, from_pulumi

# 1. Settings: validated before any resource exists; a bad stack file stops here with one clear message.
stack = pulumi.get_stack()
try:
    settings = from_pulumi()
except SettingsError as error:
    raise pulumi.RunError(str(error)) from None
aws = aws_providers(settings)
regional = pulumi.ResourceOptions(providers=[aws.regional])

# 2. Keys, then the context every component gets (stack, account, region, protect, the keys); then the network.
scope = Scope.of(stack, settings)
context = scope.with_keys(Keys(f"{stack}-keys", scope, regional).arns)
recovery = Recovery.of(context, settings)  # disaster recovery: a primary (prod), its standby (prod-dr), or neither
network = Network(f"{stack}-network", NetworkArgs(context=context, settings=settings.network), regional)

# 3. Security: user pool, SSM-only operator access; the region's baseline (GuardDuty, Config, Security Hub); per account: account/.
security_args = SecurityArgs(context=context, settings=settings.security, callback_urls=settings.platform.callback_urls())
security = Security(f"{stack}-security", security_args, regional)
baseline = RegionalBaseline(f"{stack}-regional-baseline", RegionalBaselineArgs.of(context, settings, security), regional)

# 4. Data stores. The platform admits its services to them once they exist; each catalog client gets its own user.
data = Data(f"{stack}-data", DataArgs.of(context, settings, network, recovery.data), regional)

# 5. Platform: the shared cluster and edge (WAF -> CloudFront -> ALB), then each environment's services,
#    deployed blue/green through CodeDeploy (6).
platform_args = PlatformArgs(context=context, settings=settings, providers=aws, network=network, security=security, data=data)
platform = Platform(f"{stack}-platform", platform_args, regional)

# 7. Observability: monitors, SLOs, dashboard and synthetics for what the stack runs (the integration is account/'s).
observability_args = ObservabilityArgs.of(context, settings, platform.cluster.cluster.name, data)
with_datadog = pulumi.ResourceOptions(providers=[aws.regional, datadog_provider(settings.observability)])
observability = Observability(f"{stack}-observability", observability_args, with_datadog)

# 8. GCP: Firebase Auth, Firestore, FCM and BigQuery, reached from AWS and CI without keys; the log export to BigQuery.
#    Disaster recovery: a standby replicates its primary's images and buckets (docs/disaster-recovery.md).
sides = {**gcp_side(context, settings, security, platform, regional), **recovery.side(platform, data, regional)}

# 9. Exports: what operators and CI read (`deploy`: what CI needs to ship an image, read by deploy/render.py), and a standby.
for part in (network.outputs(), platform.outputs(), data.outputs(), security.outputs(), baseline.outputs(), observability.outputs(), sides):
    for key, value in part.items():
        pulumi.export(key, value)
