"""BigQuery analytics: application logs, audit logs and usage data, read by BI (Redash), fed from AWS keylessly.

The pipeline from AWS has no stored credential at either hop:
1. Storage Transfer Service copies new objects from the AWS log-export bucket (`kanna-<env>-log-export-<account>`,
   prefixes `app/` and `audit/`, newline-delimited JSON written by components/gcp/log_export.py) into a staging bucket.
   It authenticates to AWS with `role_arn`: Google's transfer service agent calls
   AssumeRoleWithWebIdentity with its own Google-signed identity token, so the AWS role
   `<env>-bigquery-log-export` trusts `accounts.google.com` for that agent's subject id only (exported
   as `gcpLogTransferSubjectId`) and may read only those prefixes.
2. BigQuery Data Transfer Service loads new staging files into the day-partitioned `events` tables,
   running as a loader service account that may write only the two log datasets.
The BigQuery Data Transfer Service's own `amazon_s3` source was not used: it takes an AWS access key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.lib.context import InContext
from components.lib.contracts import LOG_EXPORT_PREFIXES, log_export_bucket, log_export_role_arn
from settings import GcpSettings

DAY_MS = 24 * 60 * 60 * 1000
# Read-only grants of the BI identity; the bi-identity-read-only policy holds it to these.
BI_DATASET_ROLE = "roles/bigquery.dataViewer"
BI_PROJECT_ROLE = "roles/bigquery.jobUser"

_TIMESTAMP = {"name": "timestamp", "type": "TIMESTAMP", "mode": "REQUIRED", "description": "When the event happened (UTC)."}
SCHEMAS: dict[str, list[dict[str, str]]] = {
    "app_logs": [
        _TIMESTAMP,
        {"name": "service", "type": "STRING", "mode": "REQUIRED"},
        {"name": "level", "type": "STRING", "mode": "NULLABLE"},
        {"name": "message", "type": "STRING", "mode": "NULLABLE"},
        {"name": "trace_id", "type": "STRING", "mode": "NULLABLE"},
        {"name": "attributes", "type": "JSON", "mode": "NULLABLE"},
    ],
    "audit_logs": [
        _TIMESTAMP,
        {"name": "tenant_id", "type": "STRING", "mode": "NULLABLE"},
        {"name": "actor", "type": "STRING", "mode": "REQUIRED"},
        {"name": "action", "type": "STRING", "mode": "REQUIRED"},
        {"name": "target", "type": "STRING", "mode": "NULLABLE"},
        {"name": "outcome", "type": "STRING", "mode": "NULLABLE"},
        {"name": "details", "type": "JSON", "mode": "NULLABLE"},
    ],
    "usage": [
        _TIMESTAMP,
        {"name": "tenant_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "user_id", "type": "STRING", "mode": "NULLABLE"},
        {"name": "feature", "type": "STRING", "mode": "REQUIRED"},
        {"name": "count", "type": "INTEGER", "mode": "NULLABLE"},
    ],
}
# Datasets fed from the AWS log export, and the export prefix of each (components/gcp/log_export.py writes them).
FROM_AWS = LOG_EXPORT_PREFIXES


@dataclass(frozen=True, kw_only=True)
class AnalyticsArgs(InContext):
    settings: GcpSettings
    backend_member: pulumi.Input[str]  # writes usage events
    apis: Sequence[pulumi.Resource]


class Analytics(pulumi.ComponentResource):
    datasets: dict[str, gcp.bigquery.Dataset]
    tables: dict[str, gcp.bigquery.Table]
    redash: gcp.serviceaccount.Account
    loader: gcp.serviceaccount.Account
    staging: gcp.storage.Bucket
    transfer_subject_id: pulumi.Output[str]

    def __init__(self, name: str, args: AnalyticsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:gcp:Analytics", name, None, opts)
        self._args = args
        env, s = args.env, args.settings
        project = s.project_id
        child = pulumi.ResourceOptions(parent=self)
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=list(args.apis))
        days = {
            "app_logs": s.table_expiration_days.app_logs,
            "audit_logs": s.table_expiration_days.audit_logs,
            "usage": s.table_expiration_days.usage,
        }

        self.datasets, self.tables = {}, {}
        for dataset_id, schema in SCHEMAS.items():
            expiration_ms = days[dataset_id] * DAY_MS
            dataset = gcp.bigquery.Dataset(
                f"{env}-{dataset_id.replace('_', '-')}",
                project=project,
                dataset_id=dataset_id,
                location=s.region,
                description=f"kanna {env} {dataset_id.replace('_', ' ')}",
                default_partition_expiration_ms=expiration_ms,
                delete_contents_on_destroy=False,
                max_time_travel_hours="168",
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.apis), protect=args.protect),
            )
            self.datasets[dataset_id] = dataset
            self.tables[dataset_id] = gcp.bigquery.Table(
                f"{env}-{dataset_id.replace('_', '-')}-events",
                project=project,
                dataset_id=dataset.dataset_id,
                table_id="events",
                schema=json.dumps(schema),
                time_partitioning=gcp.bigquery.TableTimePartitioningArgs(type="DAY", field="timestamp", expiration_ms=expiration_ms),
                require_partition_filter=True,  # a BI query without a date range would scan every partition
                deletion_protection=args.protect,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )

        # BI: read the datasets and run query jobs, nothing else.
        self.redash = gcp.serviceaccount.Account(
            f"{env}-redash-sa",
            project=project,
            account_id=f"{env}-redash",
            display_name=f"kanna {env} Redash (BI, read-only)",
            opts=after_apis,
        )
        for dataset_id, dataset in self.datasets.items():
            gcp.bigquery.DatasetIamMember(
                f"{env}-redash-reads-{dataset_id.replace('_', '-')}",
                project=project,
                dataset_id=dataset.dataset_id,
                role=BI_DATASET_ROLE,
                member=self.redash.member,
                opts=child,
            )
        gcp.projects.IAMMember(f"{env}-redash-jobs", project=project, role=BI_PROJECT_ROLE, member=self.redash.member, opts=child)

        # The backend streams usage events: write on that dataset only.
        gcp.bigquery.DatasetIamMember(
            f"{env}-backend-writes-usage",
            project=project,
            dataset_id=self.datasets["usage"].dataset_id,
            role="roles/bigquery.dataEditor",
            member=args.backend_member,
            opts=child,
        )
        gcp.projects.IAMMember(
            f"{env}-backend-jobs", project=project, role="roles/bigquery.jobUser", member=args.backend_member, opts=child
        )

        self._pipeline()
        self.register_outputs(
            {
                "datasets": {k: d.dataset_id for k, d in self.datasets.items()},
                "redashServiceAccount": self.redash.email,
                "stagingBucket": self.staging.name,
                "transferSubjectId": self.transfer_subject_id,
            }
        )

    def _pipeline(self) -> None:
        env, s = self._args.env, self._args.settings
        project = s.project_id
        child = pulumi.ResourceOptions(parent=self)
        self.staging = gcp.storage.Bucket(
            f"{env}-log-staging",
            project=project,
            name=f"{project}-log-staging",
            location=s.region,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            # Staging only: BigQuery holds the data; a week covers a stalled load being retried.
            lifecycle_rules=[
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=7),
                )
            ],
            force_destroy=not self._args.protect,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self._args.apis)),
        )

        # The project's transfer agent exists only once storagetransfer.googleapis.com is enabled: the output form
        # with depends_on makes the engine wait for the APIs (a fresh project would answer SERVICE_DISABLED).
        agent = gcp.storage.get_transfer_project_service_account_output(
            project=project, opts=pulumi.InvokeOutputOptions(parent=self, depends_on=list(self._args.apis))
        )
        self.transfer_subject_id = agent.subject_id
        # The sink permissions Storage Transfer needs: list and create objects, read them to compare.
        for role in ("roles/storage.legacyBucketWriter", "roles/storage.objectViewer"):
            gcp.storage.BucketIAMMember(
                f"{env}-transfer-agent-{role.rsplit('.', 1)[-1].lower()}",
                bucket=self.staging.name,
                role=role,
                member=agent.member,
                opts=child,
            )

        self.loader = gcp.serviceaccount.Account(
            f"{env}-log-loader-sa",
            project=project,
            account_id=f"{env}-log-loader",
            display_name=f"kanna {env} log loader (BigQuery Data Transfer Service)",
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self._args.apis)),
        )
        reads_staging = gcp.storage.BucketIAMMember(
            f"{env}-log-loader-reads-staging",
            bucket=self.staging.name,
            role="roles/storage.objectViewer",
            member=self.loader.member,
            opts=child,
        )
        jobs = gcp.projects.IAMMember(
            f"{env}-log-loader-jobs", project=project, role="roles/bigquery.jobUser", member=self.loader.member, opts=child
        )
        # The Data Transfer service agent mints the loader's tokens for each run.
        dts_agent = gcp.projects.ServiceIdentity(
            f"{env}-dts-agent",
            project=project,
            service="bigquerydatatransfer.googleapis.com",
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self._args.apis)),
        )
        mints = gcp.serviceaccount.IAMMember(
            f"{env}-dts-agent-acts-as-log-loader",
            service_account_id=self.loader.name,
            role="roles/iam.serviceAccountTokenCreator",
            member=dts_agent.member,
            opts=child,
        )

        for dataset_id, prefix in FROM_AWS.items():
            slug = dataset_id.replace("_", "-")
            transfer = gcp.storage.TransferJob(
                f"{env}-{slug}-from-s3",
                project=project,
                description=f"kanna {env}: {prefix}/ logs from S3 to the staging bucket",
                transfer_spec=gcp.storage.TransferJobTransferSpecArgs(
                    aws_s3_data_source=gcp.storage.TransferJobTransferSpecAwsS3DataSourceArgs(
                        bucket_name=log_export_bucket(env, self._args.account_id),
                        path=f"{prefix}/",
                        role_arn=log_export_role_arn(env, self._args.account_id),  # keyless: no aws_access_key
                    ),
                    gcs_data_sink=gcp.storage.TransferJobTransferSpecGcsDataSinkArgs(bucket_name=self.staging.name, path=f"{prefix}/"),
                ),
                schedule=gcp.storage.TransferJobScheduleArgs(
                    schedule_start_date=gcp.storage.TransferJobScheduleScheduleStartDateArgs(year=2025, month=1, day=1),
                    repeat_interval="3600s",
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(self._args.apis)),
            )
            writes = gcp.bigquery.DatasetIamMember(
                f"{env}-log-loader-writes-{slug}",
                project=project,
                dataset_id=self.datasets[dataset_id].dataset_id,
                role="roles/bigquery.dataEditor",
                member=self.loader.member,
                opts=child,
            )
            gcp.bigquery.DataTransferConfig(
                f"{env}-{slug}-load",
                project=project,
                location=s.region,
                display_name=f"kanna {env} {prefix} logs from staging",
                data_source_id="google_cloud_storage",
                destination_dataset_id=self.datasets[dataset_id].dataset_id,
                schedule="every 1 hours",
                service_account_name=self.loader.email,
                params={
                    "data_path_template": self.staging.name.apply(lambda bucket, p=prefix: f"gs://{bucket}/{p}/*"),
                    "destination_table_name_template": "events",
                    "file_format": "JSON",
                    # Appends only the files new since the last run; the table's partitions expire by themselves.
                    "write_disposition": "APPEND",
                    "max_bad_records": "0",
                    "ignore_unknown_values": "true",
                },
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[transfer, writes, reads_staging, jobs, mints, self.tables[dataset_id]]
                ),
            )
