"""The explicit cloud providers. Every resource gets one of these through its component's `providers`.

Default providers are disabled in the stack files, so a resource that forgot its provider fails
instead of using whatever region and credentials the shell happens to have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_aws as aws
import pulumi_datadog as datadog
import pulumi_gcp as gcp

from settings import PROJECT, ObservabilitySettings, Settings


@dataclass(frozen=True)
class AwsProviders:
    regional: aws.Provider  # ap-northeast-1: everything but what AWS only serves from us-east-1
    global_: aws.Provider  # us-east-1: CloudFront certificates and the CLOUDFRONT-scope WAF


class Tagged(Protocol):
    """What tags come from: the workload settings (Settings) and the account baseline's (AccountSettings) alike."""

    @property
    def tier(self) -> str: ...
    @property
    def tags(self) -> dict[str, str]: ...
    @property
    def aws_account_id(self) -> str: ...


def default_tags(settings: Tagged, stack: str) -> dict[str, str]:
    """The one place tags come from: every AWS resource carries these through the provider."""
    return {**settings.tags, "Project": PROJECT, "Stack": stack, "Tier": settings.tier, "ManagedBy": "pulumi"}


def aws_provider(settings: Tagged, stack: str, name: str, region: str) -> aws.Provider:
    return aws.Provider(
        name,
        region=region,
        # A stack can only ever touch its own account: prod credentials can't modify dev, and back.
        allowed_account_ids=[settings.aws_account_id],
        default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(settings, stack)),
    )


def aws_providers(settings: Settings) -> AwsProviders:
    stack = pulumi.get_stack()
    return AwsProviders(
        regional=aws_provider(settings, stack, f"{stack}-aws", settings.region),
        global_=aws_provider(settings, stack, f"{stack}-aws-us-east-1", "us-east-1"),
    )


def gcp_provider(settings: Settings) -> gcp.Provider:
    """The stack's one GCP project and region. Labels come from here, like AWS tags from `default_tags`."""
    stack = pulumi.get_stack()
    if settings.gcp is None:
        raise ValueError(f"stack '{stack}' has no gcp settings")
    return gcp.Provider(
        f"{stack}-gcp",
        project=settings.gcp.project_id,
        region=settings.gcp.region,
        # Firebase and Identity Platform APIs bill and quota the caller's project: with user credentials
        # (a developer's ADC) they would otherwise charge a Google-owned project and fail.
        user_project_override=True,
        billing_project=settings.gcp.project_id,
        default_labels={"project": PROJECT, "stack": stack, "tier": settings.tier, "managed-by": "pulumi"},
    )


def datadog_provider(settings: ObservabilitySettings, name: str | None = None) -> datadog.Provider:
    """The one Datadog provider (`<stack>-datadog` unless named). Keys come from the `datadog:apiKey`/`datadog:appKey`
    config secrets (or the DD_API_KEY/DD_APP_KEY environment of the deploy job), never from plain text."""
    config = pulumi.Config("datadog")
    return datadog.Provider(
        name or f"{pulumi.get_stack()}-datadog",
        api_key=config.get_secret("apiKey"),
        app_key=config.get_secret("appKey"),
        api_url=f"https://api.{settings.datadog_site}/",
    )
