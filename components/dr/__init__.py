"""Disaster recovery: what a primary (prod) and its pilot-light standby (prod-dr) share, and the standby's replication."""

from components.dr.recovery import Recovery, global_cluster_id, stack_reference

__all__ = ["Recovery", "global_cluster_id", "stack_reference"]
