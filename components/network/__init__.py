"""The network layer: the VPC, its subnets by tier, NAT, endpoints and flow logs."""

from components.network.network import Network, NetworkArgs

__all__ = ["Network", "NetworkArgs"]
