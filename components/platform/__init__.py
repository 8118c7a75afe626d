"""The platform layer: the shared ECS cluster, each environment, its web routes and blue/green deployments."""
