"""The security layer: the KMS keys, the account baseline (threat detection, audit trail), the internal user pool, operator access."""
