"""kanna-infra: one program per stack, composed in dependency order like the architecture diagram."""

import pulumi

from components.keys import Keys, KeysArgs
from components.network import Network, NetworkArgs
from components.observability import Observability, ObservabilityArgs, observed_services
from components.providers import aws_providers, datadog_provider
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

# 8. Observability: Datadog integration, monitors, SLOs, dashboard and synthetics for what the stack runs.
web, workers, data = observed_services(stack, settings.prod)  # replaced by the platform's and data stores' outputs
observability = Observability(
    f"{stack}-observability",
    ObservabilityArgs(stack, settings.aws_account_id, settings.region, settings.observability, web, workers, data),
    pulumi.ResourceOptions(providers=[aws.regional, datadog_provider(settings)]),
)

pulumi.export("vpcId", network.vpc.id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("isolatedSubnetIds", network.isolated_subnet_ids)
pulumi.export("datadogDashboardUrl", observability.dashboard.url)
