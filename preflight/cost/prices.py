"""The committed price table: ap-northeast-1 (Tokyo) list prices in USD, each with its source page and date.

Global services (CloudFront, WAF, Route 53) carry their own rates; CloudFront's are its Japan edge rates,
where KANNA's viewers are. Datadog and GCP are their own vendors' list prices.

`checked` says how far a figure was confirmed when it was committed: "confirmed" means the figure was read
on a stored copy of the page named in `source` (or the page named in `note`); "not re-verified here" means
it is the published price as last known, which could not be re-read offline. Re-check those first when the
estimate matters. A price change is a reviewed diff of this file.
"""

from __future__ import annotations

from dataclasses import dataclass

AS_OF = "2025-06"  # the price list the figures below were taken from, unless a row says otherwise
NOT_VERIFIED = "not re-verified here"
CONFIRMED = "confirmed"


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    as_of: str = AS_OF
    checked: str = NOT_VERIFIED
    note: str = ""


_FARGATE = "https://aws.amazon.com/fargate/pricing/"
_VPC = "https://aws.amazon.com/vpc/pricing/"
_PRIVATELINK = "https://aws.amazon.com/privatelink/pricing/"
_ELB = "https://aws.amazon.com/elasticloadbalancing/pricing/"
_AURORA = "https://aws.amazon.com/rds/aurora/pricing/"
_ELASTICACHE = "https://aws.amazon.com/elasticache/pricing/"
_CLOUDFRONT = "https://aws.amazon.com/cloudfront/pricing/"
_WAF = "https://aws.amazon.com/waf/pricing/"
_GUARDDUTY = "https://aws.amazon.com/guardduty/pricing/"
_SECURITYHUB = "https://aws.amazon.com/security-hub/pricing/"
_CONFIG = "https://aws.amazon.com/config/pricing/"
_CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/"
_SECRETS = "https://aws.amazon.com/secrets-manager/pricing/"
_KMS = "https://aws.amazon.com/kms/pricing/"
_ROUTE53 = "https://aws.amazon.com/route53/pricing/"
_CLOUDMAP = "https://aws.amazon.com/cloud-map/pricing/"
_ECR = "https://aws.amazon.com/ecr/pricing/"
_SAVINGS = "https://aws.amazon.com/savingsplans/compute-pricing/"
_DATADOG = "https://www.datadoghq.com/pricing/"
_FIRESTORE = "https://cloud.google.com/firestore/pricing"
_BIGQUERY = "https://cloud.google.com/bigquery/pricing"
_IDENTITY = "https://cloud.google.com/identity-platform/pricing"

_SPOT = "Fargate Spot moves with spare capacity; AWS advertises up to 70% off on-demand, and 70% off is assumed"
_TOKYO_UNSEEN = "us-east-1 rate; the Tokyo rate may be higher"

PRICES: dict[str, Price] = {
    # Fargate, Linux. ARM64 is 20% below x86_64 on the pricing page.
    "fargate.x86.vcpu-hour": Price(0.05056, "vCPU-hour", _FARGATE, note="the stored JA page found still shows the pre-2019 0.0632"),
    "fargate.x86.gb-hour": Price(0.00553, "GB-hour", _FARGATE),
    "fargate.arm64.vcpu-hour": Price(0.04045, "vCPU-hour", _FARGATE),
    "fargate.arm64.gb-hour": Price(0.00442, "GB-hour", _FARGATE),
    "fargate-spot.x86.vcpu-hour": Price(0.015168, "vCPU-hour", _FARGATE, note=_SPOT),
    "fargate-spot.x86.gb-hour": Price(0.001659, "GB-hour", _FARGATE, note=_SPOT),
    "fargate-spot.arm64.vcpu-hour": Price(0.012135, "vCPU-hour", _FARGATE, note=_SPOT),
    "fargate-spot.arm64.gb-hour": Price(0.001326, "GB-hour", _FARGATE, note=_SPOT),
    "savings-plan.fargate-discount": Price(0.20, "share off on-demand", _SAVINGS, note="Compute Savings Plan, 1 year, no upfront"),
    # Networking.
    "nat.hour": Price(
        0.062, "NAT gateway-hour", _VPC, checked=CONFIRMED, note="awsi.click/en/articles/nat-gateway-cost-structure-avoidance"
    ),
    "nat.gb": Price(0.062, "GB processed", _VPC, checked=CONFIRMED, note="same page"),
    "public-ipv4.hour": Price(0.005, "public IPv4 address-hour", _VPC, as_of="2024-02", note="every public IPv4, attached or not"),
    "endpoint.interface.az-hour": Price(0.014, "endpoint-AZ-hour", _PRIVATELINK),
    "endpoint.interface.gb": Price(
        0.01, "GB processed (first PB)", _PRIVATELINK, checked=CONFIRMED, note="aws.amazon.com/jp/privatelink/pricing"
    ),
    "alb.hour": Price(0.0243, "ALB-hour", _ELB, checked=CONFIRMED, note="aws.darcy-it.com ELB cost page"),
    "alb.lcu-hour": Price(0.008, "LCU-hour", _ELB, checked=CONFIRMED, note="same page"),
    # Aurora (Standard configuration, on-demand).
    "aurora.db.r7g.large": Price(0.336, "instance-hour", _AURORA),
    "aurora.db.r7g.xlarge": Price(0.672, "instance-hour", _AURORA),
    "aurora.db.r7g.2xlarge": Price(1.344, "instance-hour", _AURORA),
    "aurora.db.r6g.large": Price(0.313, "instance-hour", _AURORA),
    "aurora.db.r6g.xlarge": Price(0.626, "instance-hour", _AURORA),
    "aurora.db.t4g.medium": Price(0.113, "instance-hour", _AURORA),
    "aurora.db.t4g.large": Price(0.226, "instance-hour", _AURORA),
    "aurora.serverless-v2.acu-hour": Price(0.20, "ACU-hour", _AURORA),
    "aurora.storage.gb-month": Price(0.12, "GB-month", _AURORA),
    "aurora.io.million": Price(0.24, "million I/O requests", _AURORA),
    "reserved.discount": Price(0.30, "share off on-demand", _AURORA, note="1-year no-upfront reserved DB instances and cache nodes"),
    # ElastiCache node-based, Redis OSS rates; Valkey nodes are priced 20% lower.
    "elasticache.cache.t4g.small": Price(0.041, "node-hour", _ELASTICACHE),
    "elasticache.cache.t4g.medium": Price(0.082, "node-hour", _ELASTICACHE),
    "elasticache.cache.r7g.large": Price(0.262, "node-hour", _ELASTICACHE),
    "elasticache.cache.r7g.xlarge": Price(0.524, "node-hour", _ELASTICACHE),
    "elasticache.valkey-discount": Price(0.20, "share off Redis OSS", _ELASTICACHE, as_of="2024-10"),
    # Edge (global services, their own rates).
    "cloudfront.japan.gb": Price(0.114, "GB to viewers in Japan (first 10 TB)", _CLOUDFRONT, checked=CONFIRMED),
    "cloudfront.japan.https-10k": Price(0.0120, "10,000 HTTPS requests", _CLOUDFRONT),
    "cloudfront.free-gb": Price(1024, "GB free per month (always-free tier)", _CLOUDFRONT, checked=CONFIRMED),
    "cloudfront.free-requests": Price(10e6, "requests free per month (always-free tier)", _CLOUDFRONT, checked=CONFIRMED),
    "waf.web-acl-month": Price(5.00, "web ACL-month", _WAF),
    "waf.rule-month": Price(1.00, "rule-month (a managed rule group counts as one)", _WAF),
    "waf.million-requests": Price(0.60, "million requests inspected", _WAF),
    "route53.zone-month": Price(0.50, "hosted zone-month (first 25)", _ROUTE53),
    # Security baseline.
    "guardduty.cloudtrail-million": Price(4.00, "million management events analysed", _GUARDDUTY, note=_TOKYO_UNSEEN),
    "guardduty.flow-gb": Price(1.00, "GB of VPC flow and DNS logs analysed (first 500 GB)", _GUARDDUTY, note=_TOKYO_UNSEEN),
    "guardduty.s3-million": Price(0.80, "million S3 data events analysed", _GUARDDUTY, note=_TOKYO_UNSEEN),
    "guardduty.runtime-vcpu-month": Price(1.50, "Fargate vCPU-month monitored (first 500)", _GUARDDUTY, note=_TOKYO_UNSEEN),
    "guardduty.rds-vcpu-month": Price(0.96, "Aurora vCPU-month (or 2 ACUs) monitored", _GUARDDUTY, note=_TOKYO_UNSEEN),
    "securityhub.check": Price(0.0010, "security check (first 100,000)", _SECURITYHUB, note=_TOKYO_UNSEEN),
    "config.item": Price(0.003, "configuration item recorded", _CONFIG, note=_TOKYO_UNSEEN),
    "cloudwatch.logs.ingest-gb": Price(0.76, "GB ingested", _CLOUDWATCH, checked=CONFIRMED, note="awsi.click CloudWatch Logs cost page"),
    "cloudwatch.logs.storage-gb-month": Price(0.033, "GB-month stored", _CLOUDWATCH, checked=CONFIRMED, note="same page"),
    "cloudwatch.alarm-metric-month": Price(0.10, "standard-resolution alarm metric-month", _CLOUDWATCH),
    "secretsmanager.secret-month": Price(0.40, "secret-month", _SECRETS),
    "kms.key-month": Price(1.00, "customer managed key-month (first year; each rotation adds $1, up to 2)", _KMS),
    "cloudmap.namespace-month": Price(0.50, "private DNS namespace-month (its hosted zone)", _CLOUDMAP),
    "cloudmap.instance-month": Price(0.10, "registered instance-month", _CLOUDMAP),
    "ecr.storage-gb-month": Price(0.10, "GB-month stored", _ECR),
    # Datadog (US list prices, billed annually).
    "datadog.fargate-task-month": Price(1.00, "Infrastructure Pro Fargate task-month", _DATADOG, note="$1.20 monthly (zenn.dev/horitomo)"),
    "datadog.apm-fargate-task-month": Price(
        2.00, "APM Fargate task-month", _DATADOG, checked=CONFIRMED, note="docs.datadoghq.com/ja/account_management/billing"
    ),
    "datadog.logs.ingest-gb": Price(0.10, "GB ingested", _DATADOG, checked=CONFIRMED, note="zenn.dev/horitomo"),
    "datadog.logs.index-million": Price(1.70, "million log events indexed (15 days)", _DATADOG),
    "datadog.synthetics.api-10k": Price(5.00, "10,000 API test runs", _DATADOG),
    # GCP, asia-northeast1.
    "firestore.storage-gb-month": Price(0.18, "GiB-month stored", _FIRESTORE),
    "firestore.reads-100k": Price(0.038, "100,000 document reads", _FIRESTORE),
    "firestore.writes-100k": Price(0.115, "100,000 document writes", _FIRESTORE),
    "bigquery.storage-gb-month": Price(0.023, "GiB-month active logical storage", _BIGQUERY),
    "bigquery.query-tib": Price(7.50, "TiB scanned on demand (first TiB free)", _BIGQUERY),
    "identityplatform.mau": Price(0.0055, "MAU above the first 49,999 (tier 1 providers)", _IDENTITY),
}

# Assumed when the figure is not a price but a fact of the product.
LOG_EVENTS_PER_GB = 1e6  # an average application log event of about 1 KB


def rate(key: str) -> float:
    return PRICES[key].usd
