"""The network layer: the VPC, its subnets by tier, NAT, endpoints and flow logs."""
