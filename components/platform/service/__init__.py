"""One ECS service (ContainerService) and the modules that build its parts."""
