"""The data stores of one stack: Aurora MySQL, Aurora PostgreSQL and Valkey, with what services need to connect.

- Aurora MySQL for the catalog's MySQL clients, with an analytics reader for BI (Redash).
- Aurora PostgreSQL for its PostgreSQL clients: a database and a user per service.
- Application users: every client of a cluster connects as its own user, never as the RDS-managed master
  user (RDS rotates that secret every 7 days, and ECS injects secrets only at task start). Pulumi can't
  create a database user without a network path into the isolated subnets, so this component generates
  each service's credentials and stores them in Secrets Manager (`kanna/<env>/<engine>/<svc>`: engine,
  username, password, host, port, `masterarn`, and PostgreSQL's dbname), and the service's migration job,
  running with the RDS-managed master secret, creates the user (and PostgreSQL's database) from that
  secret, idempotently, before the service starts. MySQL's users are the catalog's MySQL clients.
- Rotation (components/data/rotation.py): every user secret rotates with the alternating-users strategy, so the
  credentials a running task started with stay valid through a rotation; the master user is for
  administration (migration jobs, the rotation functions) only.
- Valkey for Sidekiq and caching.
- One cluster set per stack: dev's verification environments share dev's clusters, each with its own
  database or schema that the application's migrations create. Nothing here is per environment.
- Disaster recovery (`dr`, docs/disaster-recovery.md): a primary's clusters are the primaries of Aurora global
  databases, and its secrets (master and users) replicate to the standby's region once the standby is up. A
  standby's clusters are read-only secondaries: it creates no users and rotates nothing (both happen on the
  primary and replicate), and its services read the replicas of the primary's secrets.

Clients are admitted explicitly (`admit`: a client name -> its task security group id); each one gets
one ingress rule on its store's port, and nothing else can reach the stores. The platform admits its
services after creating them, because their task definitions need `connection()` from here first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.lib.context import Context, InContext
from components.lib.contracts import Connection
from components.lib.iam import trust_policy
from components.network.network import Network
from settings import Settings
from settings.data import DataSettings

from .aurora import AuroraArgs, AuroraCluster, GlobalDatabase
from .cache import Cache, CacheArgs
from .rotation import Rotation, RotationArgs, initial_version, user_name, user_secret_string

MYSQL_PARAMETERS = {
    "character_set_server": "utf8mb4",
    "character_set_client": "utf8mb4",
    "character_set_connection": "utf8mb4",
    "character_set_database": "utf8mb4",
    "character_set_results": "utf8mb4",
    "collation_server": "utf8mb4_0900_ai_ci",
    "collation_connection": "utf8mb4_0900_ai_ci",
    "slow_query_log": "1",
    "long_query_time": "1",
    "log_output": "FILE",  # the slow query log goes to CloudWatch only from FILE
    "server_audit_logging": "1",
    "server_audit_events": "CONNECT,QUERY_DCL,QUERY_DDL",
    "require_secure_transport": "ON",
}
POSTGRES_PARAMETERS = {
    "shared_preload_libraries": "pg_stat_statements,pgaudit",
    "pgaudit.log": "ddl,role",
    "log_min_duration_statement": "1000",  # the slow query log: statements over 1 s
    "rds.force_ssl": "1",
}


def database_name(service: str) -> str:
    """A service's own PostgreSQL database: named like its user, an identifier (`CREATE DATABASE` needs no
    quoting). The secret's `dbname`, which the migration job creates, and the service's JDBC URL both use it."""
    return user_name(service)


@dataclass(frozen=True, kw_only=True)
class DataArgs(InContext):
    settings: DataSettings
    network: Network  # the stores in its isolated subnets; the rotation functions in its private ones, by its endpoints
    availability_zones: Sequence[str]
    # "mysql" and "postgres" -> the catalog's clients of that store: each gets its own user (and database, on PostgreSQL)
    users: Mapping[str, Sequence[str]]
    # service name -> the service's task security group id; the platform passes these in.
    mysql_clients: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    postgres_clients: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    redis_clients: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    dr: DataRecovery | None = None

    @staticmethod
    def of(context: Context, settings: Settings, network: Network, dr: DataRecovery | None) -> DataArgs:
        """The stack's stores, in its network's AZs, with a user per catalog client of each database."""
        return DataArgs(
            context=context,
            settings=settings.data,
            network=network,
            availability_zones=settings.network.availability_zones,
            users={store: settings.platform.clients_of(store) for store in ("mysql", "postgres")},
            dr=dr,
        )


@dataclass(frozen=True, kw_only=True)
class DataRecovery:
    """This stack's side of its global databases (components/dr makes the ids, both sides call it)."""

    global_ids: Mapping[str, str]  # engine -> global cluster id
    primary: bool
    secret_replicas: Sequence[aws.secretsmanager.SecretReplicaArgs] = ()  # a primary's, once its standby is up
    # A standby: the replicas of the primary's secrets in this region, {engine: {service or "master": ARN}}.
    secrets: pulumi.Output[dict[str, dict[str, str]]] | None = None


class Data(pulumi.ComponentResource):
    mysql: AuroraCluster
    postgres: AuroraCluster
    redis: Cache
    mysql_writer_endpoint: pulumi.Output[str]
    mysql_reader_endpoint: pulumi.Output[str]
    mysql_analytics_endpoint: pulumi.Output[str]  # BI only
    mysql_master_secret_arn: pulumi.Output[str]  # administration only: migration jobs and rotation
    mysql_secret_arns: dict[str, pulumi.Output[str]]  # service -> its own credentials
    postgres_writer_endpoint: pulumi.Output[str]
    postgres_reader_endpoint: pulumi.Output[str]
    postgres_master_secret_arn: pulumi.Output[str]  # migration jobs only
    postgres_secret_arns: dict[str, pulumi.Output[str]]  # service -> its own credentials
    redis_endpoint: pulumi.Output[str]
    redis_auth_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DataArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:data:Data", name, None, opts)
        env, s = args.env, args.settings
        child = pulumi.ResourceOptions(parent=self)
        # Default providers are disabled per stack: random needs its own, explicitly.
        random_provider = random.Provider(f"{env}-random", opts=child)

        monitoring_role = aws.iam.Role(
            f"{env}-rds-monitoring-role",
            assume_role_policy=trust_policy("monitoring.rds.amazonaws.com"),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{env}-rds-monitoring",
            role=monitoring_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
            opts=child,
        )

        dr = args.dr

        def aurora(engine: str, clients: Mapping[str, pulumi.Input[str]]) -> AuroraCluster:
            mysql = engine == "mysql"
            global_database = None
            if dr is not None:
                global_database = GlobalDatabase(
                    identifier=dr.global_ids[engine],
                    primary=dr.primary,
                    random_provider=random_provider,
                    secret_replicas=dr.secret_replicas,
                    master_secret_arn=None if dr.secrets is None else dr.secrets.apply(lambda s: s[engine]["master"]),
                )
            return AuroraCluster(
                f"{env}-{engine}",
                AuroraArgs(
                    context=args.context,
                    engine="mysql" if mysql else "postgres",
                    settings=s.mysql if mysql else s.postgres,
                    vpc_id=args.network.vpc.id,
                    isolated_subnet_ids=args.network.isolated_subnet_ids,
                    availability_zones=args.availability_zones,
                    monitoring_role_arn=monitoring_role.arn,
                    parameters=MYSQL_PARAMETERS if mysql else POSTGRES_PARAMETERS,
                    log_exports=["audit", "error", "slowquery"] if mysql else ["postgresql"],
                    clients=clients,
                    analytics_reader=mysql,
                    global_database=global_database,
                ),
                child,
            )

        self.mysql = aurora("mysql", args.mysql_clients)
        self.postgres = aurora("postgres", args.postgres_clients)
        self.redis = Cache(
            f"{env}-redis",
            CacheArgs(
                context=args.context,
                settings=s.redis,
                vpc_id=args.network.vpc.id,
                isolated_subnet_ids=args.network.isolated_subnet_ids,
                availability_zones=args.availability_zones,
                random_provider=random_provider,
                clients=args.redis_clients,
            ),
            child,
        )

        engines: tuple[tuple[Literal["mysql", "postgres"], AuroraCluster], ...] = (("mysql", self.mysql), ("postgres", self.postgres))
        if dr is not None and not dr.primary:
            # A read-only secondary: the users, their secrets and their rotation are the primary's, replicated here.
            assert dr.secrets is not None
            replicas = dr.secrets
            self.rotations = {}
            self.mysql_secret_arns = {svc: replicas.apply(lambda r, svc=svc: r["mysql"][svc]) for svc in args.users["mysql"]}
            self.postgres_secret_arns = {svc: replicas.apply(lambda r, svc=svc: r["postgres"][svc]) for svc in args.users["postgres"]}
            self._outputs()
            return
        secrets = {
            engine: {service: self._user(engine, service, random_provider, args) for service in args.users[engine]} for engine, _ in engines
        }
        self.rotations = {
            engine: Rotation(
                f"{env}-{engine}-rotation",
                RotationArgs(
                    context=args.context,
                    engine=engine,
                    vpc_id=args.network.vpc.id,
                    subnet_ids=args.network.private_subnet_ids,
                    endpoint_security_group_id=args.network.endpoint_security_group_id,
                    store_security_group_id=cluster.security_group.id,
                    port=cluster.port,
                    master_secret_arn=cluster.master_secret_arn,
                    secrets=secrets[engine],
                ),
                child,
            )
            for engine, cluster in engines
        }
        for engine, rotation in self.rotations.items():
            self.admit(engine, {f"{engine}-rotation": rotation.security_group.id})
        self.mysql_secret_arns = {service: secret.arn for service, secret in secrets["mysql"].items()}
        self.postgres_secret_arns = {service: secret.arn for service, secret in secrets["postgres"].items()}
        self._outputs()

    def _outputs(self) -> None:
        assert self.mysql.analytics_endpoint is not None
        self.mysql_writer_endpoint = self.mysql.writer_endpoint
        self.mysql_reader_endpoint = self.mysql.reader_endpoint
        self.mysql_analytics_endpoint = self.mysql.analytics_endpoint
        self.mysql_master_secret_arn = self.mysql.master_secret_arn
        self.postgres_writer_endpoint = self.postgres.writer_endpoint
        self.postgres_reader_endpoint = self.postgres.reader_endpoint
        self.postgres_master_secret_arn = self.postgres.master_secret_arn
        self.redis_endpoint = self.redis.endpoint
        self.redis_auth_secret_arn = self.redis.auth_secret_arn
        self.register_outputs(
            {
                "mysqlWriterEndpoint": self.mysql_writer_endpoint,
                "mysqlReaderEndpoint": self.mysql_reader_endpoint,
                "mysqlAnalyticsEndpoint": self.mysql_analytics_endpoint,
                "mysqlMasterSecretArn": self.mysql_master_secret_arn,
                "mysqlSecretArns": self.mysql_secret_arns,
                "postgresWriterEndpoint": self.postgres_writer_endpoint,
                "postgresReaderEndpoint": self.postgres_reader_endpoint,
                "postgresMasterSecretArn": self.postgres_master_secret_arn,
                "postgresSecretArns": self.postgres_secret_arns,
                "redisEndpoint": self.redis_endpoint,
                "redisAuthSecretArn": self.redis_auth_secret_arn,
            }
        )

    def outputs(self) -> dict[str, object]:
        """The stack outputs of the data stores: their endpoints (credentials stay in Secrets Manager)."""
        return {
            "mysqlWriterEndpoint": self.mysql_writer_endpoint,
            "mysqlReaderEndpoint": self.mysql_reader_endpoint,
            "mysqlAnalyticsEndpoint": self.mysql_analytics_endpoint,
            "postgresWriterEndpoint": self.postgres_writer_endpoint,
            "redisEndpoint": self.redis_endpoint,
        }

    def admit(self, store: str, clients: Mapping[str, pulumi.Input[str]]) -> None:
        """Opens `store` ('mysql', 'postgres' or 'redis') to these clients' task security groups."""
        {"mysql": self.mysql, "postgres": self.postgres, "redis": self.redis}[store].admit(clients)

    def connection(self, store: str, service: str) -> Connection:
        """What `service` needs to reach `store`: endpoints as plain settings, credentials as secrets.

        MySQL: the writer and the application readers (never the analytics reader, which is for BI), as the
        service's own user. PostgreSQL: the service's own database and user. Redis: TLS endpoint and the AUTH token."""
        if store == "mysql":
            arn = self.mysql_secret_arns[service]
            return Connection(
                {"DATABASE_HOST": self.mysql_writer_endpoint, "DATABASE_READER_HOST": self.mysql_reader_endpoint, "DATABASE_PORT": "3306"},
                {
                    "DATABASE_USERNAME": pulumi.Output.concat(arn, ":username::"),
                    "DATABASE_PASSWORD": pulumi.Output.concat(arn, ":password::"),
                },
                [arn],
            )
        if store == "postgres":
            arn = self.postgres_secret_arns[service]
            database = database_name(service)
            url = pulumi.Output.concat("jdbc:postgresql://", self.postgres_writer_endpoint, ":5432/", database, "?sslmode=require")
            return Connection(
                {"SPRING_DATASOURCE_URL": url},
                {
                    "SPRING_DATASOURCE_USERNAME": pulumi.Output.concat(arn, ":username::"),
                    "SPRING_DATASOURCE_PASSWORD": pulumi.Output.concat(arn, ":password::"),
                },
                [arn],
            )
        arn = self.redis_auth_secret_arn
        return Connection({"REDIS_URL": pulumi.Output.concat("rediss://", self.redis_endpoint, ":6379")}, {"REDIS_AUTH_TOKEN": arn}, [arn])

    def _user(self, engine: str, service: str, provider: pulumi.ProviderResource, args: DataArgs) -> aws.secretsmanager.Secret:
        """`service`'s own user of `engine`'s cluster: a generated password, kept in its own secret."""
        name, cluster = f"{args.env}-{engine}-{service}", self.mysql if engine == "mysql" else self.postgres
        password = random.RandomPassword(
            f"{name}-password",
            length=40,
            special=False,  # no quoting surprises in JDBC URLs or CREATE USER statements
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=args.protect),
        )
        what = "PostgreSQL database and user" if engine == "postgres" else "MySQL user"
        secret = aws.secretsmanager.Secret(
            name,
            name=f"kanna/{args.env}/{engine}/{service}",
            description=f"{service}'s own {what}; its migration job creates it, rotation alternates it with a clone",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=30 if args.protect else 7,
            replicas=list(args.dr.secret_replicas) if args.dr is not None else None,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        username = user_name(service)
        extra = {"dbname": database_name(service)} if engine == "postgres" else {}
        value = user_secret_string(
            engine, username, password.result, cluster.writer_endpoint, cluster.port, cluster.master_secret_arn, **extra
        )
        initial_version(name, secret, value, self)
        return secret
