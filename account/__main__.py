"""kanna-account: what exists once per workload account, whatever region or stack of the account runs.

A workload stack runs in one region; a second region of the same account (prod-dr) is a second stack. What AWS
keeps once per account would have two owners there, so it lives here, one stack per account:
- the IAM password policy and S3's account-level public access block (account defaults);
- the multi-region CloudTrail trail, its bucket, key and log group (it records every region);
- the Datadog AWS integration and its role (Datadog holds one integration per AWS account).
What AWS keeps per region (GuardDuty, Config, Security Hub, EBS defaults, ECR scanning) is each workload stack's
regional baseline (components/security/regional.py). Applied by an administrator, like bootstrap/ (docs/state.md).
"""

import sys
from pathlib import Path

# The repository root first: this program imports `account.*`, `components.*` and the settings from there.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import pulumi  # noqa: E402

from account.settings import SettingsError, account_key, from_pulumi  # noqa: E402
from components.lib.context import Scope  # noqa: E402
from components.lib.providers import aws_provider, datadog_provider  # noqa: E402
from components.observability import DatadogIntegration, DatadogIntegrationArgs  # noqa: E402
from components.security.account import AccountDefaults, AccountDefaultsArgs  # noqa: E402
from components.security.audit import Audit, AuditArgs  # noqa: E402

try:
    settings = from_pulumi()
except SettingsError as error:
    raise pulumi.RunError(str(error)) from None
stack = pulumi.get_stack()
key = account_key(stack)  # the workload stack the resources came from: their names and the providers' keep it

# Named like the workload stack's providers, which `pulumi state move` copies here under the same names
# (preflight/moves.py): the moved resources keep their provider.
aws = aws_provider(settings, stack, f"{key}-aws", settings.home_region)
on_aws = pulumi.ResourceOptions(provider=aws)

# The account's scope: named by its key (the names the moved resources keep), in its home region.
scope = Scope(stack=key, account_id=settings.aws_account_id, region=settings.home_region, protect=settings.protect)
AccountDefaults(f"{key}-account-defaults", AccountDefaultsArgs(scope=scope), on_aws)
audit = Audit(f"{key}-audit", AuditArgs(scope=scope, settings=settings.security), on_aws)
with_datadog = pulumi.ResourceOptions(providers=[aws, datadog_provider(settings.observability, f"{key}-datadog")])
integration_args = DatadogIntegrationArgs(scope=scope, regions=settings.regions, settings=settings.observability)
integration = DatadogIntegration(f"{key}-datadog-integration", integration_args, with_datadog)

pulumi.export("trailArn", audit.trail.arn)
pulumi.export("auditBucket", audit.bucket.id)
# prod's standby (prod-dr) replicates the trail's bucket to its region, decrypting with the audit key (docs/disaster-recovery.md).
pulumi.export("auditBucketArn", audit.bucket.arn)
pulumi.export("auditKeyArn", audit.key.arn)
pulumi.export("datadogIntegrationRoleArn", integration.role.arn)
