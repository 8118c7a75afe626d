"""kanna-infra: one program per stack, composed in dependency order like the architecture diagram."""

import pulumi

from components.keys import Keys, KeysArgs
from components.network import Network, NetworkArgs
from components.providers import aws_providers
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
security_args = SecurityArgs(
    stack, settings.aws_account_id, settings.region, settings.security, keys.data.arn, keys.logs.arn, settings.protect
)
security = Security(f"{stack}-security", security_args, regional)

pulumi.export("vpcId", network.vpc.id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("isolatedSubnetIds", network.isolated_subnet_ids)
pulumi.export("securityFindingsTopicArn", security.findings_topic.arn)
pulumi.export("operatorPolicyArn", security.operator_access.operator_policy.arn)
