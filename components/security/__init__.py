"""The security layer: the KMS keys, the account baseline (threat detection, audit trail), the internal user pool, operator access."""

from components.security.keys import Keys
from components.security.security import Security, SecurityArgs

__all__ = ["Keys", "Security", "SecurityArgs"]
