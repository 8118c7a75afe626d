"""The security layer by scope: the account's (account defaults, the audit trail: account/), the region's (threat
detection, Config, Security Hub, EBS defaults), the stack's (the KMS keys, the internal user pool, operator access)."""

from components.security.keys import Keys
from components.security.regional import RegionalBaseline, RegionalBaselineArgs
from components.security.security import Security, SecurityArgs

__all__ = ["Keys", "RegionalBaseline", "RegionalBaselineArgs", "Security", "SecurityArgs"]
