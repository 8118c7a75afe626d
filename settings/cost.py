"""Cost settings: the usage the monthly estimate assumes, the commitments that discount it, and the budgets.

The recording says what exists (task sizes, counts, instance classes, node types); it cannot say how much
traffic, log volume or data there will be. Those are assumptions, typed here with prod's defaults, and the
estimate is only as good as they are: `python -m preflight cost` prints them next to the figures.
"""

from __future__ import annotations

from pydantic import Field

from .base import Problem, Section

HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates (24 x 365 / 12)


class CostSettings(Section):
    """Defaults are prod's: steady traffic, always on, a Savings Plan and reserved nodes under part of the load."""

    requests_per_month: float = Field(default=300e6, ge=0, le=1e12, description="HTTPS requests the edge serves per month.")
    egress_gb: float = Field(default=3000, ge=0, le=1e7, description="GB per month CloudFront sends to viewers.")
    log_gb_per_day: float = Field(default=20, ge=0, le=1e5, description="Application logs per day (FireLens to Datadog), GB.")
    cloudwatch_log_gb_per_day: float = Field(
        default=5, ge=0, le=1e5, description="Logs per day into CloudWatch (flow logs, WAF, CloudTrail, sessions), GB."
    )
    nat_gb: float = Field(default=500, ge=0, le=1e7, description="GB per month through the NAT gateways (internet-bound).")
    endpoint_gb: float = Field(
        default=400, ge=0, le=1e7, description="GB per month of AWS API traffic through interface endpoints (ECR pulls, logs, secrets)."
    )
    schedule_share: float = Field(
        default=1.0, gt=0, le=1, description="Share of the month's hours the schedule keeps scheduled services up (0 < share <= 1)."
    )
    savings_plan_coverage: float = Field(
        default=0.6, ge=0, le=1, description="Share of on-demand Fargate hours under a Compute Savings Plan (0 to 1)."
    )
    reserved_coverage: float = Field(
        default=0.8, ge=0, le=1, description="Share of provisioned Aurora and ElastiCache node hours on reserved instances (0 to 1)."
    )
    serverless_average_acu: float = Field(
        default=1.0, ge=0, le=256, description="Average ACUs of a Serverless v2 instance while it runs (clamped to its min and max)."
    )
    database_storage_gb: float = Field(default=200, ge=0, le=131072, description="GB stored per Aurora cluster.")
    database_io_millions: float = Field(default=500, ge=0, le=1e7, description="Million I/O requests per Aurora cluster per month.")
    image_gb: float = Field(default=20, ge=0, le=1e5, description="GB of container images kept in ECR (all repositories).")
    alb_lcu: float = Field(default=10, ge=0, le=1e5, description="Average LCUs the ALB consumes.")
    cloudtrail_events_millions: float = Field(default=20, ge=0, le=1e6, description="Management events per month (GuardDuty reads them).")
    flow_log_gb: float = Field(default=150, ge=0, le=1e7, description="VPC flow and DNS log GB per month GuardDuty analyses.")
    s3_data_events_millions: float = Field(default=5, ge=0, le=1e6, description="S3 data events per month GuardDuty analyses.")
    security_hub_checks: float = Field(default=20000, ge=0, le=1e8, description="Security Hub security checks per month.")
    config_items: float = Field(default=5000, ge=0, le=1e8, description="AWS Config configuration items recorded per month.")
    firestore_gb: float = Field(default=20, ge=0, le=1e6, description="GB stored in Firestore.")
    firestore_reads_millions: float = Field(default=300, ge=0, le=1e6, description="Firestore document reads per month, millions.")
    firestore_writes_millions: float = Field(default=60, ge=0, le=1e6, description="Firestore document writes per month, millions.")
    bigquery_storage_gb: float = Field(default=500, ge=0, le=1e8, description="GB of active logical storage in BigQuery (all datasets).")
    bigquery_query_tib: float = Field(default=5, ge=0, le=1e6, description="TiB BigQuery on-demand queries scan per month.")
    monthly_active_users: float = Field(default=80000, ge=0, le=1e9, description="Identity Platform monthly active users.")
    monthly_budget_usd: float | None = Field(
        default=None, gt=0, description="The stack's monthly budget; the cost-within-budget policy fails above it. None: no budget."
    )
    environment_budget_usd: float | None = Field(
        default=None, gt=0, description="The monthly budget of each verification environment's own resources. None: no budget."
    )

    def problems(self, scheduled: bool) -> list[Problem]:
        if not scheduled and self.schedule_share < 1:
            return [
                Problem(
                    ("scheduleShare",),
                    self.schedule_share,
                    "no platform.schedule stops the services, so they run every hour; allowed: 1 (or set platform.schedule)",
                )
            ]
        return []

    def usage(self) -> dict[str, float]:
        """The usage assumptions (everything but the budgets), camelCase as in the stack file."""
        return self.model_dump(by_alias=True, exclude={"monthly_budget_usd", "environment_budget_usd"})
