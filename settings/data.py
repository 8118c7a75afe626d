"""Data settings: the Aurora MySQL and PostgreSQL clusters and the Redis (Valkey) replication group.

One cluster set per stack. dev's verification environments share dev's clusters (one database or schema
per environment, created by the application's migrations), so nothing here is per environment.
"""

from __future__ import annotations

from pydantic import Field

from .base import Problem, Section

SERVERLESS = "db.serverless"
# Backups this short can't cover a long weekend plus the time to notice a bad migration.
PROD_MIN_BACKUP_DAYS = 14


class ClusterSettings(Section):
    """One Aurora cluster. Defaults suit prod: Graviton instances, a writer and one application reader."""

    engine_version: str = Field(description="The Aurora engine version, e.g. 8.0.mysql_aurora.3.08.2 or 16.6.")
    instance_class: str = Field(
        default="db.r7g.large",
        pattern=r"^db\.(serverless|[a-z0-9]+\.[a-z0-9]+)$",
        description="db.<family>.<size>, or db.serverless for Aurora Serverless v2 (dev).",
    )
    serverless_min_acu: float = Field(default=0.5, description="Serverless v2 minimum capacity (0 pauses when idle).")
    serverless_max_acu: float = Field(default=8, description="Serverless v2 maximum capacity.")
    app_readers: int = Field(default=1, ge=0, le=5, description="Readers behind the application reader endpoint, 0 to 5.")
    backup_retention_days: int = Field(
        default=PROD_MIN_BACKUP_DAYS, ge=1, le=35, description="Automated backups and point-in-time restore window, 1 to 35 days."
    )

    @property
    def serverless(self) -> bool:
        return self.instance_class == SERVERLESS

    def problems(self, prod: bool) -> list[Problem]:
        found: list[Problem] = []
        if prod and self.backup_retention_days < PROD_MIN_BACKUP_DAYS:
            found.append(
                Problem(
                    ("backupRetentionDays",),
                    self.backup_retention_days,
                    f"prod keeps backups at least {PROD_MIN_BACKUP_DAYS} days; allowed: {PROD_MIN_BACKUP_DAYS} to 35",
                )
            )
        if prod and self.app_readers < 1:
            found.append(Problem(("appReaders",), self.app_readers, "prod needs a reader in another AZ; allowed: 1 to 5"))
        if self.serverless and not 0 <= self.serverless_min_acu <= self.serverless_max_acu <= 256:
            found.append(
                Problem(
                    ("serverlessMaxAcu",),
                    self.serverless_max_acu,
                    f"must be at least serverlessMinAcu ({self.serverless_min_acu}); allowed: 0 <= min <= max <= 256",
                )
            )
        return found


class MysqlSettings(ClusterSettings):
    """Aurora MySQL for the catalog's MySQL clients, each as its own user, plus a dedicated analytics reader for BI."""

    engine_version: str = Field(default="8.0.mysql_aurora.3.08.2", pattern=r"^8\.0\.mysql_aurora\.3\.\d+\.\d+$")


class PostgresSettings(ClusterSettings):
    """Aurora PostgreSQL with a database and a user per service: the catalog's PostgreSQL clients."""

    engine_version: str = Field(default="16.6", pattern=r"^16\.\d+$", description="Aurora PostgreSQL 16.x.")


class RedisSettings(Section):
    """The Valkey replication group for Sidekiq and caching."""

    engine_version: str = Field(default="8.0", pattern=r"^8\.\d+$", description="Valkey 8.x.")
    node_type: str = Field(default="cache.r7g.large", pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$", description="cache.<family>.<size>.")
    nodes: int = Field(default=2, ge=1, le=6, description="Primary plus replicas, 1 to 6; prod needs 2+ for automatic failover.")
    snapshot_retention_days: int = Field(default=7, ge=0, le=35, description="Daily snapshots kept, 0 to 35 days.")

    def problems(self, prod: bool) -> list[Problem]:
        found: list[Problem] = []
        if prod and self.nodes < 2:
            found.append(Problem(("nodes",), self.nodes, "prod fails over to a replica in another AZ; allowed: 2 to 6"))
        if prod and self.snapshot_retention_days < 1:
            found.append(Problem(("snapshotRetentionDays",), self.snapshot_retention_days, "prod keeps snapshots; allowed: 1 to 35"))
        return found


class DataSettings(Section):
    mysql: MysqlSettings = Field(default_factory=MysqlSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)

    def problems(self, prod: bool) -> list[Problem]:
        return [
            *(Problem(("mysql", *p.path), p.value, p.message) for p in self.mysql.problems(prod)),
            *(Problem(("postgres", *p.path), p.value, p.message) for p in self.postgres.problems(prod)),
            *(Problem(("redis", *p.path), p.value, p.message) for p in self.redis.problems(prod)),
        ]
