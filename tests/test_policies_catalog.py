"""The pack's shape: stable ids with their controls, a written reason for every stack setting and exception, and
docs/policies.md generated from the pack."""

from __future__ import annotations

import json

from policies import docs
from policies._lib import CATALOG
from policies.catalog import POLICIES, infos
from preflight.analyzer import PolicyPack
from tests.kit import CONFIG_DIR, judge, res, violations

# Released ids never change: a policy keeps its id for life, and a new policy takes a new one.
RELEASED = {
    "ecs-service-no-public-ip": "KANNA-NET-001",
    "ecs-service-private-subnets": "KANNA-NET-002",
    "public-ip-only-in-public-tier": "KANNA-NET-003",
    "data-store-isolated-subnets": "KANNA-NET-004",
    "no-world-ingress": "KANNA-NET-005",
    "no-admin-ports-open": "KANNA-NET-006",
    "private-route-tables-no-internet": "KANNA-NET-007",
    "vpc-flow-logs": "KANNA-NET-008",
    "default-security-group-closed": "KANNA-NET-009",
    "alb-web-acl": "KANNA-EDGE-001",
    "cloudfront-web-acl": "KANNA-EDGE-002",
    "waf-blocks-sqli": "KANNA-EDGE-003",
    "waf-blocks-xss": "KANNA-EDGE-004",
    "waf-rate-limit": "KANNA-EDGE-005",
    "waf-logging": "KANNA-EDGE-006",
    "alb-http-redirects-only": "KANNA-EDGE-007",
    "alb-https-tls-policy": "KANNA-EDGE-008",
    "internal-routes-authenticated": "KANNA-EDGE-009",
    "waf-blocks-known-bad-inputs": "KANNA-EDGE-010",
    "waf-blocks-ip-reputation": "KANNA-EDGE-011",
    "alb-ingress-only-from-cloudfront": "KANNA-EDGE-012",
    "cloudfront-viewer-https": "KANNA-EDGE-013",
    "cloudfront-origin-https": "KANNA-EDGE-014",
    "ecs-task-definition-arm64": "KANNA-COMP-001",
    "ecs-service-capacity-providers": "KANNA-COMP-002",
    "ecs-service-spot-share": "KANNA-COMP-003",
    "ecs-web-service-on-demand-base": "KANNA-COMP-004",
    "ecs-exec-logged": "KANNA-COMP-005",
    "container-secrets-not-in-environment": "KANNA-COMP-006",
    "ecs-task-roles-least-privilege": "KANNA-COMP-007",
    "ecs-web-service-blue-green": "KANNA-DEPLOY-001",
    "codedeploy-rollback-on-alarms": "KANNA-DEPLOY-002",
    "ecs-code-deploy-ignore-changes": "KANNA-DEPLOY-003",
    "ecs-rolling-circuit-breaker": "KANNA-DEPLOY-004",
    "codedeploy-gradual-traffic": "KANNA-DEPLOY-005",
    "data-store-not-public": "KANNA-DATA-001",
    "data-storage-encrypted": "KANNA-DATA-002",
    "cache-encrypted": "KANNA-DATA-003",
    "data-backup-retention": "KANNA-DATA-004",
    "data-prod-deletion-protection": "KANNA-DATA-005",
    "data-prod-protect": "KANNA-DATA-006",
    "data-prod-multi-az": "KANNA-DATA-007",
    "data-port-no-public-ingress": "KANNA-DATA-008",
    "performance-insights-encrypted": "KANNA-DATA-009",
    "s3-bucket-public-access-blocked": "KANNA-SEC-001",
    "s3-bucket-encrypted": "KANNA-SEC-002",
    "s3-bucket-tls-only": "KANNA-SEC-003",
    "kms-key-rotation": "KANNA-SEC-004",
    "cloudtrail-log-file-validation": "KANNA-SEC-005",
    "cloudtrail-encrypted": "KANNA-SEC-006",
    "guardduty-enabled": "KANNA-SEC-007",
    "cognito-mfa-required": "KANNA-SEC-008",
    "cloudtrail-logging": "KANNA-SEC-009",
    "securityhub-standards": "KANNA-SEC-010",
    "guardduty-features": "KANNA-SEC-011",
    "resource-policy-no-public-principal": "KANNA-SEC-012",
    "iam-no-star-on-star": "KANNA-IAM-001",
    "github-oidc-trust-pinned": "KANNA-IAM-002",
    "datadog-trust-external-id": "KANNA-IAM-003",
    "workload-identity-provider-condition": "KANNA-IAM-004",
    "gcp-no-basic-roles": "KANNA-IAM-005",
    "web-service-monitored": "KANNA-OBS-001",
    "log-group-retention": "KANNA-OBS-002",
    "task-definition-telemetry": "KANNA-OBS-003",
    "datadog-dashboard-layout": "KANNA-OBS-004",
    "secrets-rotate": "KANNA-SEC-013",
    "cost-within-budget": "KANNA-COST-001",
    "firestore-pitr-and-delete-protection": "KANNA-GCP-001",
    "bigquery-not-public": "KANNA-GCP-002",
    "no-service-account-keys": "KANNA-GCP-003",
    "bi-identity-read-only": "KANNA-GCP-004",
    "scp-guardrails-attached": "KANNA-GOV-001",
    "account-scope": "KANNA-GOV-002",
}


def test_every_policy_keeps_its_released_id_and_ids_are_unique() -> None:
    assert {p.name: CATALOG[p.name].id for p in POLICIES} == RELEASED
    assert len(set(RELEASED.values())) == len(RELEASED)


def test_the_running_pack_names_id_and_controls_in_each_description(pack: PolicyPack) -> None:
    assert set(pack.policies) == set(RELEASED)
    for info in infos():
        assert pack.policies[info.name].description.endswith(f"[{'; '.join((info.id, *info.controls))}]"), info.name


def test_messages_start_with_the_policy_id(pack: PolicyPack) -> None:
    key = res("aws:kms/key:Key", "k", {"enableKeyRotation": False})
    (found,) = violations(judge(pack, [key]), "kms-key-rotation")
    assert (
        found.message.split("\n")[1].startswith("KANNA-SEC-004 Key 'k': does not rotate")
        and "Fix: set enable_key_rotation" in found.message
    )


def test_every_stack_setting_downgrade_and_exception_has_a_written_reason() -> None:
    for path in sorted(CONFIG_DIR.glob("*.json")):
        config = json.loads(path.read_text())
        assert config.get("all", "mandatory") == "mandatory", path.name
        for name, entry in config.items():
            if name == "all":
                continue
            assert isinstance(entry, dict), f"{path.name}: {name}: write the level as an object with its reason"
            assert len(str(entry.get("reason", "")).strip()) >= 20, f"{path.name}: {name} has no written reason"
            for exception in entry.get("exceptions", []):
                assert len(exception.get("reason", "").strip()) >= 20, f"{path.name}: {name}: exception without reason"


def test_dev_is_as_strict_as_prod_except_where_written_down() -> None:
    dev = json.loads((CONFIG_DIR / "dev.json").read_text())
    downgraded = {name for name, entry in dev.items() if name != "all" and docs.level(dev, name) != "mandatory"}
    # Rolling deploys of many verification environments (settings/deploy.py): the only security-neutral downgrade.
    assert downgraded == {"ecs-web-service-blue-green"}


def test_a_config_with_an_exception_lacking_its_reason_is_refused(pack: PolicyPack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from preflight.analyzer import PolicyPackError

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"all": "mandatory", "kms-key-rotation": {"exceptions": [{"resource": "k"}]}}))
    try:
        pack.configure(bad)
    except PolicyPackError as exc:
        assert "reason" in str(exc)
    else:
        raise AssertionError("an exception without a reason was accepted")
    finally:
        pack.configure(CONFIG_DIR / "prod.json")


def test_docs_are_generated_from_the_pack_and_current() -> None:
    text = docs.render(docs.stack_configs())
    assert docs.DOC.read_text() == text, "docs/policies.md is stale: run python -m policies.docs"
    for info in infos():
        assert f"| {info.id} | `{info.name}` |" in text
    assert "Exception for `kanna-bootstrap-management`" in text  # the exceptions and their reasons are on the page
