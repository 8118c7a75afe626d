"""Helpers every layer shares: providers, the names two components agree on (contracts), IAM, buckets, firewall rules."""
