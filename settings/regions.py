"""The regions this code supports, and what differs from one region to the next: one entry per region.

The region of a stack is data (`kanna-infra:region`), checked against this table. Adding a region is one entry
here, with each fact looked up in the AWS documentation cited beside its field, plus what the new region's
stack file says; nothing else in the code names a region's facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator


@dataclass(frozen=True)
class Region:
    city: str
    # The AZs a VPC may span (by name: the AZ-to-id mapping differs per account, and the names are what the
    # subnets take). Tokyo has no ap-northeast-1b for new accounts.
    availability_zones: tuple[str, ...]
    # Elastic Load Balancing's account that writes ALB access logs to S3 in regions that predate August 2022
    # (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
    elb_log_account: str
    # GuardDuty's ECR account for the Runtime Monitoring Fargate agent
    # (https://docs.aws.amazon.com/guardduty/latest/ug/ecs-runtime-agent-ecr-image-uri.html).
    guardduty_agent_account: str


REGIONS: dict[str, Region] = {
    "ap-northeast-1": Region(
        city="Tokyo",
        availability_zones=("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
        elb_log_account="582318560864",
        guardduty_agent_account="533107202818",
    ),
    # The pilot-light standby of prod (docs/disaster-recovery.md). Three AZs (a, b, c), like every region opened
    # before 2023 (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-regions-availability-zones.html).
    # Osaka predates August 2022, so ALB access logs are written by its ELB account
    # (enable-access-logging.html above); GuardDuty's Fargate agent lives in 273192626886 there
    # (ecs-runtime-agent-ecr-image-uri.html above). CloudFront VPC origins are offered in ap-northeast-3
    # (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html#vpc-origins-supported-regions).
    "ap-northeast-3": Region(
        city="Osaka",
        availability_zones=("ap-northeast-3a", "ap-northeast-3b", "ap-northeast-3c"),
        elb_log_account="383597477331",
        guardduty_agent_account="273192626886",
    ),
}
DEFAULT_REGION = "ap-northeast-1"


def _supported(value: str) -> str:
    if value not in REGIONS:
        raise ValueError(f"not a region this code supports (settings/regions.py); allowed: {', '.join(REGIONS)}")
    return value


SupportedRegion = Annotated[str, AfterValidator(_supported)]
"""A region name of the table: what a stack's `region` setting takes."""


def region(name: str) -> Region:
    """The facts of a supported region; settings have checked the name already (a KeyError here is a bug)."""
    return REGIONS[name]
