"""GCP: Firestore recoverable, BigQuery never public, federation always conditioned, no keys, BI read-only.

The BI identity is found through property dependencies: an IAM grant whose `member` flows from a BI
service account (by default the account ids `redash` and `<env>-redash`, the `biAccountIds` property) is
a BI grant, even in a first preview when the account's email is not known yet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, StackIndex, defer, each, get, items, json_value, resource_policy, stack_policy, sure

FIRESTORE = "gcp:firestore/database:Database"
DATASET = "gcp:bigquery/dataset:Dataset"
DATASET_ACCESS = "gcp:bigquery/datasetAccess:DatasetAccess"
DATASET_MEMBER = "gcp:bigquery/datasetIamMember:DatasetIamMember"
DATASET_BINDING = "gcp:bigquery/datasetIamBinding:DatasetIamBinding"
DATASET_POLICY = "gcp:bigquery/datasetIamPolicy:DatasetIamPolicy"
TABLE_MEMBER = "gcp:bigquery/iamMember:IamMember"
TABLE_BINDING = "gcp:bigquery/iamBinding:IamBinding"
TABLE_POLICY = "gcp:bigquery/iamPolicy:IamPolicy"
WIF_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
SA_KEY = "gcp:serviceaccount/key:Key"
SERVICE_ACCOUNT = "gcp:serviceaccount/account:Account"

PUBLIC = ("allUsers", "allAuthenticatedUsers")
# Everything the BI identity may hold: read data and metadata, run query jobs. Anything else can write.
BI_READ_ROLES = (
    "roles/bigquery.dataViewer",
    "roles/bigquery.metadataViewer",
    "roles/bigquery.filteredDataViewer",
    "roles/bigquery.jobUser",
    "roles/bigquery.readSessionUser",
    "READER",  # the legacy dataset access role
)
# IAM grant types by where they name the grantee(s): (property, holds a list).
GRANTS: dict[str, tuple[str, bool]] = {
    DATASET_MEMBER: ("member", False),
    DATASET_BINDING: ("members", True),
    TABLE_MEMBER: ("member", False),
    TABLE_BINDING: ("members", True),
    DATASET_ACCESS: ("iamMember", False),
    "gcp:projects/iAMMember:IAMMember": ("member", False),
    "gcp:projects/iAMBinding:IAMBinding": ("members", True),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("member", False),
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": ("members", True),
    "gcp:serviceaccount/iAMMember:IAMMember": ("member", False),
    "gcp:serviceaccount/iAMBinding:IAMBinding": ("members", True),
}


def _firestore_recoverable(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    found = []
    pitr = get(args.props, "pointInTimeRecoveryEnablement", default="POINT_IN_TIME_RECOVERY_DISABLED")
    protection = get(args.props, "deleteProtectionState", default="DELETE_PROTECTION_DISABLED")
    if UNKNOWN in (pitr, protection):
        defer("pointInTimeRecoveryEnablement / deleteProtectionState")
    if pitr != "POINT_IN_TIME_RECOVERY_ENABLED":
        found.append(f"has point-in-time recovery {pitr}")
    if protection != "DELETE_PROTECTION_ENABLED":
        found.append(f"has delete protection {protection}")
    return found


def _public_grantees(values: list[Any]) -> tuple[list[str], bool]:
    """The public principals among `values`, and whether some value is not known yet."""
    return [v for v in values if v in PUBLIC], any(v is UNKNOWN for v in values)


def _bigquery_not_public(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    props, type_ = args.props, args.resource_type
    values: list[Any]
    if type_ in (DATASET_MEMBER, TABLE_MEMBER):
        values = [get(props, "member")]
    elif type_ in (DATASET_BINDING, TABLE_BINDING):
        values = items(props, "members")
    elif type_ in (DATASET_POLICY, TABLE_POLICY):
        policy = json_value(props, "policyData")
        if policy is UNKNOWN:
            defer("policyData")
        values = [m for binding in (policy or {}).get("bindings", []) for m in binding.get("members", [])]
    else:  # a dataset's inline accesses, or one DatasetAccess
        entries = items(props, "accesses") if type_ == DATASET else [props]
        values = []
        for entry in entries:
            if entry is UNKNOWN:
                values.append(UNKNOWN)
                continue
            values += [get(entry, "iamMember"), get(entry, "specialGroup")]
    public, unknown = _public_grantees(values)
    if public:
        return [f"grants access to {' and '.join(sorted(set(public)))}, that is to anyone on the internet"]
    if unknown:
        defer("the granted members")
    return []


# A subject that names one repository and one ref, environment, or its pull requests (GitHub's `sub` claim).
_PINNED_SUBJECT = re.compile(r"/subject/repo:[^/:]+/[^/:]+:(ref:refs/(heads|tags)/[^:]+|environment:[^:]+|pull_request)$")
IMPERSONATION_ROLES = ("roles/iam.workloadIdentityUser", "roles/iam.serviceAccountTokenCreator")


def _pool_grants(index: StackIndex, pool: str) -> list[tuple[PolicyResource, str]]:
    """(grant, member) for every grant in the stack to a principal of workload identity pool `pool`."""
    found = []
    for type_, (prop, many) in GRANTS.items():
        for grant in index.of_type(type_):
            for member in items(grant.props, prop) if many else [get(grant.props, prop)]:
                member = sure(member, f"{grant.name}.{prop}")
                if isinstance(member, str) and f"/workloadIdentityPools/{pool}/" in member:
                    found.append((grant, member))
    return found


def _providers_conditioned(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    """A GitHub provider pins the repository, and the ref or environment: in its condition, or, when the condition
    pins the repository only, in every grant to the pool's principals (`principal://.../subject/<sub>`)."""

    def check(provider: PolicyResource) -> list[str]:
        condition = sure(get(provider.props, "attributeCondition"), "attributeCondition")
        if not isinstance(condition, str) or not condition.strip():
            return ["has no attribute condition, so any identity of its issuer (any AWS account role, any GitHub repository) can federate"]
        issuer = sure(get(provider.props, "oidc", "issuerUri"), "oidc.issuerUri")
        if not (isinstance(issuer, str) and GITHUB_ISSUER in issuer):
            return []
        pins = cel_pins(condition)
        if "repository" in pins and "ref or environment" in pins:
            return []
        loose_condition = f"lets GitHub tokens federate with a condition that pins no {' and no '.join(w for w in ('repository', 'ref or environment') if w not in pins)} in every branch ({condition})"
        if "repository" not in pins:
            return [loose_condition]
        grants = _pool_grants(index, sure(get(provider.props, "workloadIdentityPoolId"), "workloadIdentityPoolId"))
        loose = [f"'{g.name}' grants {m}" for g, m in grants if not _PINNED_SUBJECT.search(m)]
        if not grants or loose:
            return [f"{loose_condition}{', and ' + '; '.join(loose) if loose else ''}"]
        return []  # every grant names one exact subject: ref or environment pinned where access is given

    return each(index.of_type(WIF_PROVIDER), check)


GITHUB_ISSUER = "token.actions.githubusercontent.com"
_PINS = {
    "repository": re.compile(r"^(assertion|attribute)\.repository\s*(==\s*'[^'*/]+/[^'*]+'|in\s*\[\s*'[^'*/]+/[^'*]+')"),
    "ref or environment": re.compile(r"^(assertion|attribute)\.(ref|environment)\s*(==|in\s*\[)\s*'[^'*]+'"),
    "both": re.compile(r"^(assertion\.sub|google\.subject)\s*==\s*'repo:[^'*/:]+/[^'*:]+:(ref:|environment:)[^'*]+'"),
}


def _split(expression: str, operator: str) -> list[str]:
    """`expression` split at `operator` outside parentheses, brackets and quotes."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(expression):
        c = expression[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and expression.startswith(operator, i):
            parts.append(expression[start:i])
            start = i + len(operator)
            i += len(operator) - 1
        i += 1
    return [*parts, expression[start:]]


def cel_pins(expression: str) -> set[str]:
    """What a CEL attribute condition pins on every path that admits a token: 'repository', 'ref or environment'."""
    expression = expression.strip()
    if (alternatives := _split(expression, "||")) and len(alternatives) > 1:
        return set.intersection(*(cel_pins(a) for a in alternatives))
    if (conjuncts := _split(expression, "&&")) and len(conjuncts) > 1:
        return set().union(*(cel_pins(c) for c in conjuncts))
    if expression.startswith("(") and expression.endswith(")") and len(_split(expression[1:-1], "||")) >= 1:
        inner = expression[1:-1]
        if inner.count("(") == inner.count(")"):
            return cel_pins(inner)
    if _PINS["both"].match(expression):
        return {"repository", "ref or environment"}
    return {what for what in ("repository", "ref or environment") if _PINS[what].match(expression)}


def _no_key(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    return ["is a long-lived service account key, which can leak and never expires"]


def _is_bi(account: PolicyResource, ids: list[str]) -> bool:
    account_id = get(account.props, "accountId")
    return isinstance(account_id, str) and any(account_id == i or account_id.endswith(f"-{i}") for i in ids)


def _bi_read_only(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    ids = list(config.get("biAccountIds") or ["redash"])
    bi = [a for a in index.of_type(SERVICE_ACCOUNT) if _is_bi(a, ids)]
    bi_urns = {a.urn for a in bi}
    literal = tuple(f"serviceAccount:{a.props['accountId']}@" for a in bi)
    found: list[Finding] = []
    for type_, (prop, many) in GRANTS.items():
        for grant in index.of_type(type_):
            grantees = index.deps(grant, prop, SERVICE_ACCOUNT)
            values = items(grant.props, prop) if many else [get(grant.props, prop)]
            if not any(dep.urn in bi_urns for dep in grantees) and not any(
                isinstance(v, str) and v.startswith(literal) for v in values if literal
            ):
                continue
            role = get(grant.props, "role")
            if role is UNKNOWN:
                defer(f"{grant.name}.role")
            if role not in BI_READ_ROLES:
                found.append((grant, f"gives the BI identity the role {role}, which is not read-only"))
    for dataset in index.of_type(DATASET):
        if any(dep.urn in bi_urns for dep in index.deps(dataset, "accesses", SERVICE_ACCOUNT)):
            roles = {get(entry, "role") for entry in items(dataset.props, "accesses") if entry is not UNKNOWN}
            if writes := sorted(str(r) for r in roles - {*BI_READ_ROLES, None, UNKNOWN}):
                found.append(
                    (dataset, f"lists the BI identity among accesses that hold {', '.join(writes)}; BI needs its own READER entry")
                )
    return found


POLICIES = [
    resource_policy(
        "firestore-pitr-and-delete-protection",
        "Firestore databases keep point-in-time recovery and delete protection on.",
        [FIRESTORE],
        _firestore_recoverable,
        "set point_in_time_recovery_enablement='POINT_IN_TIME_RECOVERY_ENABLED' and delete_protection_state='DELETE_PROTECTION_ENABLED'",
        id="KANNA-GCP-001",
    ),
    resource_policy(
        "bigquery-not-public",
        "No BigQuery dataset or table is granted to allUsers or allAuthenticatedUsers.",
        [DATASET, DATASET_ACCESS, DATASET_MEMBER, DATASET_BINDING, DATASET_POLICY, TABLE_MEMBER, TABLE_BINDING, TABLE_POLICY],
        _bigquery_not_public,
        "grant a named service account or group instead (BI reads through the Redash service account)",
        id="KANNA-GCP-002",
        controls=("CIS GCP 7.1",),
    ),
    stack_policy(
        "workload-identity-provider-condition",
        "Every workload identity pool provider has an attribute condition naming who may federate; for GitHub, the repository,"
        " and the ref or environment (in the condition, or in every grant to one exact subject).",
        _providers_conditioned,
        "set attribute_condition to assertion.repository == '<owner>/<repo>' && assertion.ref/environment in [...],"
        " or grant only principal://.../subject/repo:<owner>/<repo>:environment:<env>",
        id="KANNA-IAM-004",
    ),
    resource_policy(
        "no-service-account-keys",
        "No service account key exists: AWS tasks and CI federate through workload identity pools.",
        [SA_KEY],
        _no_key,
        "remove the key and grant roles/iam.workloadIdentityUser on the service account to a workload identity principalSet",
        id="KANNA-GCP-003",
        controls=("CIS GCP 1.4",),
    ),
    stack_policy(
        "bi-identity-read-only",
        "The BI (Redash) service account holds only read roles: viewers on datasets and jobUser to query.",
        _bi_read_only,
        f"grant the BI service account only {', '.join(BI_READ_ROLES[:-1])}",
        PolicyConfigSchema(
            properties={
                "biAccountIds": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": ["redash"],
                    "description": "Account ids of BI service accounts: exact, or as the <env>- suffix.",
                }
            }
        ),
        id="KANNA-GCP-004",
    ),
]
