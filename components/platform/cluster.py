"""The shared ECS cluster and the image repositories: one of each per stack, for every environment.

- The cluster has Container Insights, and FARGATE and FARGATE_SPOT as capacity providers with Spot in
  the default strategy, so a task started by hand (a one-off migration) lands on Spot too.
- ECS Exec sessions are logged (command and output) to the security baseline's encrypted log group and
  bucket: operators get a shell through SSM, never SSH, and every session leaves a record.
- One ECR repository per image (sidekiq runs core-api's image): tags are immutable, so a deployed tag
  always means the same bits; images are scanned on push, encrypted with KMS, and old ones expire.
  Every environment deploys from the same repositories: CI builds an image once per commit, tags it with
  the commit, and every environment deploys that digest (.github/workflows/deploy-service.yml).
- Services are created with each repository's `bootstrap` image (BOOTSTRAP_TAG), pushed once when the
  repository is new (docs/first-deploy.md, "first images"); CI deploys real images afterwards. A lifecycle
  rule of its own keeps it: a new environment's services start from it, however many images came since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.context import InContext
from components.lib.contracts import ExecLogging

BOOTSTRAP_TAG = "bootstrap"
# Untagged layers go after a day; of tagged images the newest 100 stay (rollbacks need a few, audits more).
# The bootstrap image stays: "an image that matches the tagging requirements of a higher priority rule cannot
# be expired by a rule with a lower priority", and its rule never finds more than the one image it keeps.
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html
LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep the bootstrap image, which new services start from",
            "selection": {"tagStatus": "tagged", "tagPrefixList": [BOOTSTRAP_TAG], "countType": "imageCountMoreThan", "countNumber": 1},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "Untagged layers expire after a day",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 3,
            "description": "Keep the newest 100 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 100},
            "action": {"type": "expire"},
        },
    ]
}


@dataclass(frozen=True, kw_only=True)
class ClusterArgs(InContext):
    images: list[str]  # ECR repository names, one per distinct image of the catalog
    exec_logging: ExecLogging


class Cluster(pulumi.ComponentResource):
    cluster: aws.ecs.Cluster
    repositories: dict[str, aws.ecr.Repository]  # by repository name

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:platform:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        env = args.env
        self.cluster = aws.ecs.Cluster(
            f"{env}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            configuration=aws.ecs.ClusterConfigurationArgs(
                execute_command_configuration=aws.ecs.ClusterConfigurationExecuteCommandConfigurationArgs(
                    kms_key_id=args.exec_logging.kms_key_arn,
                    logging="OVERRIDE",
                    log_configuration=aws.ecs.ClusterConfigurationExecuteCommandConfigurationLogConfigurationArgs(
                        cloud_watch_encryption_enabled=True,
                        cloud_watch_log_group_name=args.exec_logging.log_group_name,
                        s3_bucket_name=args.exec_logging.bucket_name,
                        s3_bucket_encryption_enabled=True,
                        s3_key_prefix=args.exec_logging.s3_key_prefix,
                    ),
                )
            ),
            opts=child,
        )
        self.capacity = aws.ecs.ClusterCapacityProviders(
            f"{env}-cluster-capacity",
            cluster_name=self.cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(capacity_provider="FARGATE_SPOT", weight=1)
            ],
            opts=child,
        )
        self.repositories = {}
        for image in args.images:
            short = image.rsplit("/", 1)[-1]
            repo = aws.ecr.Repository(
                f"{env}-{short}-repo",
                name=image,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=args.data_key_arn)],
                # An image deleted with its repository can't be redeployed: prod keeps its repositories.
                force_delete=not args.protect,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            aws.ecr.LifecyclePolicy(f"{env}-{short}-repo-lifecycle", repository=repo.name, policy=json.dumps(LIFECYCLE), opts=child)
            self.repositories[image] = repo
        self.register_outputs(
            {"clusterArn": self.cluster.arn, "repositoryUrls": {image: repo.repository_url for image, repo in self.repositories.items()}}
        )
