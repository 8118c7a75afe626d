"""Observability settings: the Datadog site, who gets notified, alert thresholds, SLO targets and synthetics.

Defaults are prod's: a 99.9% availability SLO and pages to the on-call rotation. The thresholds here are the
one source for both the Datadog monitors and the CloudWatch alarms CodeDeploy rolls back on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import Problem, Section

# Where a Datadog organisation lives. Tokyo is ap1: data stays in Japan and the API is close.
DatadogSite = Literal[
    "ap1.datadoghq.com", "ap2.datadoghq.com", "datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu", "ddog-gov.com"
]

# The AWS account each site's AWS integration assumes roles from: the integration role trusts exactly this one.
# docs.datadoghq.com/integrations/guide/aws-manual-setup/ ("Create a Datadog integration IAM role", per site).
# Datadog for Government uses 392588925713 for commercial-partition accounts (065115117704 only for GovCloud
# ones); the stacks' accounts are commercial (ap-northeast-1).
DATADOG_AWS_ACCOUNTS: dict[str, str] = {
    "datadoghq.com": "464622532012",
    "us3.datadoghq.com": "464622532012",
    "us5.datadoghq.com": "464622532012",
    "datadoghq.eu": "464622532012",
    "ap1.datadoghq.com": "417141415827",
    "ap2.datadoghq.com": "412381753143",
    "ddog-gov.com": "392588925713",
}

# Handles that reach a human at any hour; prod must page one of them.
PAGING_PREFIXES = ("@pagerduty-", "@opsgenie-", "@oncall-")

# Datadog's managed synthetics locations in Asia-Pacific; the product's users are in Japan.
SYNTHETIC_LOCATIONS = ("aws:ap-northeast-1", "aws:ap-northeast-2", "aws:ap-southeast-1", "aws:ap-southeast-2", "aws:ap-south-1")

# Services Datadog's log forwarder can be auto-subscribed to (the ids of the AWS logs integration API).
LOG_SOURCES = ("elbv2", "elb", "cloudfront", "s3", "lambda", "redshift", "states", "apigw-access-logs", "apigw-execution-logs")


class WebThresholds(Section):
    """Per web service; the CodeDeploy rollback alarms and the Datadog monitors read the same numbers."""

    error_rate_percent: float = Field(default=5.0, gt=0, le=100, description="Target 5xx / requests, percent, over 5 minutes.")
    latency_p95_ms: int = Field(default=1000, gt=0, description="p95 request latency (APM), milliseconds.")
    latency_p99_ms: int = Field(default=3000, gt=0, description="p99 TargetResponseTime of a target group, milliseconds.")
    unhealthy_hosts: int = Field(default=0, ge=0, description="Alarm when more unhealthy targets than this.")
    cpu_percent: float = Field(default=85.0, gt=0, le=100, description="Task CPU utilisation, percent.")
    memory_percent: float = Field(default=90.0, gt=0, le=100, description="Task memory utilisation, percent.")


class DataThresholds(Section):
    aurora_cpu_percent: float = Field(default=80.0, gt=0, le=100, description="Aurora instance CPU, percent.")
    aurora_replica_lag_seconds: float = Field(default=5.0, gt=0, description="Aurora replica lag of the serving readers, seconds.")
    analytics_replica_lag_seconds: float = Field(
        default=300.0, gt=0, description="Replica lag of the analytics reader, seconds (batch queries tolerate more)."
    )
    aurora_connections: int = Field(default=1000, gt=0, description="Database connections per instance.")
    aurora_freeable_memory_mib: int = Field(default=512, gt=0, description="Alarm below this freeable memory, MiB.")
    redis_memory_percent: float = Field(default=80.0, gt=0, le=100, description="Redis DatabaseMemoryUsagePercentage.")
    redis_evictions: int = Field(default=0, ge=0, description="Alarm when more evictions than this per 5 minutes.")
    sidekiq_queue_latency_seconds: float = Field(default=60.0, gt=0, description="Age of the oldest Sidekiq job, seconds.")


class SloSettings(Section):
    availability_target: float = Field(default=99.9, description="Availability SLO target, percent (0-100, exclusive). Prod: >= 99.9.")
    latency_target: float = Field(default=99.0, description="Share of 5-minute slices with p95 under the latency threshold, percent.")
    latency_threshold_ms: int = Field(default=1000, gt=0, description="The p95 latency a good slice stays under, milliseconds.")
    timeframe: Literal["7d", "30d", "90d"] = Field(default="30d", description="The SLO's rolling window.")

    @field_validator("availability_target", "latency_target")
    @classmethod
    def _percent(cls, value: float) -> float:
        if not 0 < value < 100:
            raise ValueError("an SLO target is a percentage; allowed: a number greater than 0 and less than 100, such as 99.9")
        return value


API_KEY_SECRET = "kanna/{stack}/datadog/api-key"


class ObservabilitySettings(Section):
    """Datadog for one stack. Defaults suit prod."""

    datadog_site: DatadogSite = Field(default="ap1.datadoghq.com", description="The Datadog site of the organisation (ap1 is Tokyo).")
    notify: list[str] = Field(
        default=["@pagerduty-kanna-prod"],
        description="Datadog handles every alert mentions, such as @pagerduty-kanna-prod or @slack-kanna-dev.",
    )
    log_forwarder_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws:lambda:[a-z]{2}(-[a-z]+)+-\d:\d{12}:function:[\w-]+$",  # in the stack's region (Settings)
        description=(
            "ARN of the Datadog Forwarder Lambda, which ships ALB, CloudFront and WAF logs from S3. "
            "Default: the DatadogForwarder function that Datadog's CloudFormation template installs in this account."
        ),
    )
    log_sources: list[str] = Field(
        default=["elbv2", "cloudfront", "s3"],
        description=f"Log sources Datadog subscribes the forwarder to; allowed: {', '.join(LOG_SOURCES)}.",
    )
    synthetic_locations: list[str] = Field(
        default=["aws:ap-northeast-1"], description=f"Where synthetic checks run from; allowed: {', '.join(SYNTHETIC_LOCATIONS)}."
    )
    synthetic_interval_seconds: int = Field(default=60, ge=60, le=604800, description="How often each synthetic check runs, seconds.")
    web: WebThresholds = Field(default_factory=WebThresholds)
    data: DataThresholds = Field(default_factory=DataThresholds)
    slo: SloSettings = Field(default_factory=SloSettings)

    @field_validator("notify")
    @classmethod
    def _handles(cls, value: list[str]) -> list[str]:
        for handle in value:
            if not handle.startswith("@") or " " in handle:
                raise ValueError(f"{handle!r} is not a Datadog handle; allowed: @-handles such as @slack-kanna-dev")
        if not value:
            raise ValueError("nobody would be notified; allowed: at least one @-handle")
        return value

    @field_validator("log_sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        for source in value:
            if source not in LOG_SOURCES:
                raise ValueError(f"{source!r} is not a Datadog AWS log source; allowed: {', '.join(LOG_SOURCES)}")
        return value

    @field_validator("synthetic_locations")
    @classmethod
    def _locations(cls, value: list[str]) -> list[str]:
        for location in value:
            if location not in SYNTHETIC_LOCATIONS:
                raise ValueError(f"{location!r} is not a synthetics location; allowed: {', '.join(SYNTHETIC_LOCATIONS)}")
        if "aws:ap-northeast-1" not in value:
            raise ValueError("users are in Japan; allowed: a list that includes aws:ap-northeast-1 (Tokyo)")
        return value

    def problems(self, prod: bool) -> list[Problem]:
        found: list[Problem] = []
        if prod and self.slo.availability_target < 99.9:
            found.append(Problem(("slo", "availabilityTarget"), self.slo.availability_target, "prod promises 99.9%; allowed: 99.9 to <100"))
        if prod and not any(h.startswith(PAGING_PREFIXES) for h in self.notify):
            found.append(
                Problem(
                    ("notify",), self.notify, f"prod alerts must page on-call; allowed: a list with a {'/'.join(PAGING_PREFIXES)} handle"
                )
            )
        return found

    def api_key_secret_arn(self, account_id: str, region: str, stack: str) -> str:
        """The Secrets Manager secret that holds the Datadog API key tasks send with (a partial ARN: no suffix).
        The observability component creates it empty; an operator puts the key in once, never in git."""
        return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{API_KEY_SECRET.format(stack=stack)}"

    @property
    def datadog_aws_account(self) -> str:
        """The Datadog AWS account the integration role must trust, for this stack's site."""
        return DATADOG_AWS_ACCOUNTS[self.datadog_site]

    def forwarder_arn(self, account_id: str, region: str) -> str:
        return self.log_forwarder_arn or f"arn:aws:lambda:{region}:{account_id}:function:DatadogForwarder"
