"""What the engine answers the program, offline.

`update` mode plays a stack whose resources exist: deterministic ids, ARNs and the computed outputs the
program reads. `first` mode plays the first preview: the engine returns the inputs and nothing else, so
every id, ARN and computed output stays unknown, exactly what a policy sees before the first `up`.
Outputs the table below does not list stay unknown in both modes, rather than being invented as None.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi

ACCOUNT_FALLBACK = "111111111111"

# Computed outputs (beyond id and arn) that the program reads from other resources, per type.
COMPUTED: dict[str, dict[str, Any]] = {
    "aws:kms/key:Key": {"keyId": "{hash}"},
    # The URL ends with the repository's name (its `name` input), not the logical name.
    "aws:ecr/repository:Repository": {"repositoryUrl": "{account}.dkr.ecr.{region}.amazonaws.com/{physical}"},
    "aws:lb/loadBalancer:LoadBalancer": {
        "dnsName": "{name}-{hash}.{region}.elb.amazonaws.com",
        "zoneId": "Z14GRHDCWA56QT",
        "arnSuffix": "app/{name}/{hash}",
    },
    "aws:lb/targetGroup:TargetGroup": {"arnSuffix": "targetgroup/{name}/{hash}", "name": "tg-{hash}"},
    "aws:lb/listener:Listener": {},
    "aws:cloudfront/distribution:Distribution": {"domainName": "d{hash}.cloudfront.net", "hostedZoneId": "Z2FDTNDATAQYW2"},
    "aws:rds/cluster:Cluster": {
        "endpoint": "{name}.cluster-{hash}.{region}.rds.amazonaws.com",
        "readerEndpoint": "{name}.cluster-ro-{hash}.{region}.rds.amazonaws.com",
        # manage_master_user_password: RDS creates the master secret and reports its ARN.
        "masterUserSecrets": [
            {"secretArn": "arn:aws:secretsmanager:{region}:{account}:secret:rds!cluster-{hash}-AbCdEf", "secretStatus": "active"}
        ],
    },
    "aws:rds/clusterEndpoint:ClusterEndpoint": {"endpoint": "{name}.cluster-custom-{hash}.{region}.rds.amazonaws.com"},
    "aws:elasticache/replicationGroup:ReplicationGroup": {
        "primaryEndpointAddress": "master.{name}.{hash}.apne1.cache.amazonaws.com",
        "readerEndpointAddress": "replica.{name}.{hash}.apne1.cache.amazonaws.com",
    },
    "aws:cognito/userPool:UserPool": {"endpoint": "cognito-idp.{region}.amazonaws.com/{region}_{hash}"},
    "aws:route53/zone:Zone": {
        "zoneId": "Z{hash}",
        "nameServers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"],
    },
    "aws:ecs/cluster:Cluster": {"name": "{name}"},
    "aws:iam/role:Role": {"name": "{name}"},
    "gcp:serviceaccount/account:Account": {
        "email": "{name}@example-project.iam.gserviceaccount.com",
        "member": "serviceAccount:{name}@example-project.iam.gserviceaccount.com",
        "name": "projects/example-project/serviceAccounts/{name}@example-project.iam.gserviceaccount.com",
    },
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": {
        "name": "projects/123456789012/locations/global/workloadIdentityPools/{name}",
    },
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": {
        "name": "projects/123456789012/locations/global/workloadIdentityPools/pool/providers/{name}",
    },
    "gcp:projects/iAMCustomRole:IAMCustomRole": {"name": "projects/example-project/roles/{name}"},
    "gcp:projects/serviceIdentity:ServiceIdentity": {
        "email": "service-123456789012@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com",
        "member": "serviceAccount:service-123456789012@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com",
    },
    "gcp:firebaserules/ruleset:Ruleset": {"name": "projects/example-project/rulesets/{hash}"},
    "random:index/randomPassword:RandomPassword": {"result": "preflight-{hash}"},
}

# Answers to data-source invokes, by token, templates as in COMPUTED ({name} is the invoke's `name` argument).
# An invoke the table doesn't know fails the run loudly.
INVOKES: dict[str, dict[str, Any]] = {
    # The stack's public hosted zone, which bootstrap/ creates (bootstrap/dns.py) and the edge looks up.
    "aws:route53/getZone:getZone": {
        "id": "Z{hash}",
        "zoneId": "Z{hash}",
        "name": "{name}",
        "arn": "arn:aws:route53:::hostedzone/Z{hash}",
        "privateZone": False,
        "nameServers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"],
    },
    # The CloudFront origin-facing managed prefix list (its real id in ap-northeast-1).
    "aws:ec2/getManagedPrefixList:getManagedPrefixList": {
        "id": "pl-58a04531",
        "name": "com.amazonaws.global.cloudfront.origin-facing",
        "entries": [],
    },
    # The project's Storage Transfer service agent (its subject id goes into the AWS role's trust policy).
    "gcp:storage/getTransferProjectServiceAccount:getTransferProjectServiceAccount": {
        "email": "project-123456789012@storage-transfer-service.iam.gserviceaccount.com",
        "member": "serviceAccount:project-123456789012@storage-transfer-service.iam.gserviceaccount.com",
        "subjectId": "100000000000000000001",
        "id": "project-123456789012@storage-transfer-service.iam.gserviceaccount.com",
    },
    # A secret read at deploy time (the company IdP's OIDC client secret): a placeholder, never a real value.
    "aws:secretsmanager/getSecretVersion:getSecretVersion": {
        "arn": "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:preflight-AbCdEf",
        "secretString": "preflight-placeholder-secret",
        "versionId": "preflight",
    },
}


# Other stacks' outputs, as a StackReference (components/dr/recovery.py) reads them: in the shape __main__.py exports them
# (tests/test_dr.py keeps the keys equal to the recorded stack's exports). A reference reads a stack that
# exists (a standby is deployed after its primary; a primary reads its standby only once `dr.standbyUp`
# says it is up), so its outputs are known in the first preview as well.
STACK_OUTPUTS: dict[str, dict[str, Any]] = {
    "prod": {
        "replicatedBuckets": {
            "edge-logs": {
                "name": "kanna-prod-edge-logs-preflight",
                "arn": "arn:aws:s3:::kanna-prod-edge-logs-preflight",
                "kmsKeyArn": None,
            },
        },
    },
    "prod-dr": {"vpcOriginId": "vo_prod-dr-preflight"},
    # The prod account's baseline (account/): its trail's bucket and key.
    "prod-account": {
        "auditBucket": "kanna-prod-cloudtrail-preflight",
        "auditBucketArn": "arn:aws:s3:::kanna-prod-cloudtrail-preflight",
        "auditKeyArn": "arn:aws:kms:ap-northeast-1:{account}:key/prod-audit-key-preflight",
    },
}


def _stack_secrets(stack: str, account: str, users: dict[str, list[str]] | None = None) -> dict[str, dict[str, str]]:
    """A primary's `replicatedSecrets`: the secrets components/data/data.py names, for the clients of the catalog (the
    recorded stack's, when the recording says: a primary and its standby run the same catalog)."""
    from settings import of_stack

    settings = of_stack(stack)
    users = users or {store: settings.platform.clients_of(store) for store in ("mysql", "postgres")}
    arn = f"arn:aws:secretsmanager:{settings.region}:{account}:secret:kanna/{stack}"
    return {engine: {name: f"{arn}/{engine}/{name}-AbCdEf" for name in ["master", *users[engine]]} for engine in users}


def _fill(template: Any, values: dict[str, str]) -> Any:
    """A COMPUTED template with {name}, {physical} (the `name` input), {hash}, {account} and {region} filled in, at any depth."""
    if isinstance(template, str):
        return template.format(**values)
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    if isinstance(template, dict):
        return {key: _fill(item, values) for key, item in template.items()}
    return template


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _arn(type_: str, name: str, account: str, region: str) -> str:
    package, _, rest = type_.partition(":")
    module, _, kind = rest.partition("/")[0], None, rest.partition(":")[2]
    service = module if package == "aws" else package
    if service in ("iam", "route53", "cloudfront", "organizations"):
        return f"arn:aws:{service}::{account}:{kind.lower()}/{name}"
    return f"arn:aws:{service}:{region}:{account}:{kind.lower()}/{name}"


def stack_outputs(stack: str, account: str, users: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """What a StackReference to `stack` reads in the preflight (a primary's secrets by the names its settings give them)."""
    if stack not in STACK_OUTPUTS:
        raise KeyError(f"the preflight has no outputs of stack {stack}; add them to preflight/mocks.py STACK_OUTPUTS")
    outputs = _fill(STACK_OUTPUTS[stack], {"account": account})
    if "replicatedBuckets" in outputs:
        outputs["replicatedSecrets"] = _stack_secrets(stack, account, users)
    return outputs


class EngineMocks(pulumi.runtime.Mocks):
    def __init__(
        self, mode: str, account: str = ACCOUNT_FALLBACK, region: str = "ap-northeast-1", users: dict[str, list[str]] | None = None
    ) -> None:
        self.mode = mode
        self.account = account
        self.region = region
        self.users = users  # the recorded stack's database clients, which its primary's secrets are named for

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == "pulumi:pulumi:StackReference":
            outputs = stack_outputs(str(args.inputs["name"]).rsplit("/", 1)[-1], self.account, self.users)
            return str(args.inputs["name"]), {"name": args.inputs["name"], "outputs": outputs, "secretOutputNames": []}
        if self.mode == "first":
            # A create in preview: the engine echoes the inputs; id and all computed outputs are unknown.
            return "", dict(args.inputs)
        if args.resource_id:
            resource_id = args.resource_id
        else:
            resource_id = f"{args.name}-{_hash(args.typ + args.name)}"
        fill = {"name": args.name, "hash": _hash(args.typ + args.name), "account": self.account, "region": self.region}
        fill["physical"] = str(args.inputs.get("name") or args.name)
        # AWS builds an ARN from the physical name (a repository's ARN ends in `kanna/frontend`, as its URL does).
        state = {"arn": _arn(args.typ, fill["physical"], self.account, self.region)}
        state.update({key: _fill(template, fill) for key, template in COMPUTED.get(args.typ, {}).items()})
        state.update(args.inputs)
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        if args.token not in INVOKES:
            raise KeyError(f"the preflight has no answer for invoke {args.token}; add one to preflight/mocks.py INVOKES")
        name = str(args.args.get("name") or "")
        fill = {"name": name, "hash": _hash(args.token + name).upper(), "account": self.account, "region": self.region}
        return _fill(INVOKES[args.token], fill), []  # pulumi's MockMonitor iterates the failures: [] not None
