"""The platform layer: the shared ECS cluster, each environment, its web routes and blue/green deployments."""

from components.platform.platform import Platform, PlatformArgs

__all__ = ["Platform", "PlatformArgs"]
