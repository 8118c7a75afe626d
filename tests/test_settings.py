"""Bad stack settings stop the program before any resource, with one line naming stack, key, value and what is allowed."""

from __future__ import annotations

import json

import pytest

from preflight.program import record, stack_config
from settings import SettingsError, load
from tests.conftest import BAD_VPC_CIDR, cli_result

ACCOUNT = {"kanna-infra:awsAccountId": "111111111111"}


def network(**keys: object) -> dict[str, str]:
    return {**ACCOUNT, "kanna-infra:network": json.dumps(keys)}


BAD = {
    "unknown key": ({**ACCOUNT, "kanna-infra:vpcCidr": "10.0.0.0/16"}, "kanna-infra:vpcCidr", "unknown key; allowed keys:"),
    "unknown nested key": (network(natGateway="single"), "kanna-infra:network.natGateway", "allowed keys: availabilityZones"),
    "wrong type": (network(flowLogRetentionDays="a year"), "network.flowLogRetentionDays", "valid integer"),
    "bad retention": (network(flowLogRetentionDays=42), "network.flowLogRetentionDays", "allowed: 1, 3, 5"),
    "invalid CIDR": (network(vpcCidr="10.0.0.0/33"), 'network.vpcCidr = "10.0.0.0/33"', "allowed: an IPv4 network"),
    "host bits set": (network(vpcCidr="10.0.0.1/16"), "network.vpcCidr", "has host bits set"),
    "subnet outside VPC": (
        network(isolatedSubnets=["10.0.8.0/24", "10.0.9.0/24", "10.9.10.0/24"]),
        'network.isolatedSubnets[2] = "10.9.10.0/24"',
        "does not fit the VPC 10.0.0.0/16",
    ),
    "overlapping subnets": (
        network(publicSubnets=["10.0.0.0/24", "10.0.1.0/24", "10.0.16.0/24"]),
        'network.privateSubnets[0] = "10.0.16.0/20"',
        "overlaps publicSubnets[2] (10.0.16.0/24)",
    ),
    "application subnet too small": (
        network(privateSubnets=["10.0.16.0/27", "10.0.32.0/20", "10.0.48.0/20"]),
        "network.privateSubnets",
        "allowed: /16 to /20",
    ),
    "two AZs in prod": (
        network(
            availabilityZones=["ap-northeast-1a", "ap-northeast-1c"],
            publicSubnets=["10.0.0.0/24", "10.0.1.0/24"],
            privateSubnets=["10.0.16.0/20", "10.0.32.0/20"],
            isolatedSubnets=["10.0.8.0/24", "10.0.9.0/24"],
        ),
        "network.availabilityZones",
        "prod needs 3 AZs",
    ),
    "unknown AZ": (
        network(availabilityZones=["ap-northeast-1a", "ap-northeast-1b", "ap-northeast-1c"]),
        'network.availabilityZones[1] = "ap-northeast-1b"',
        "not an AZ of ap-northeast-1; allowed: ap-northeast-1a, ap-northeast-1c, ap-northeast-1d",
    ),
    # Disaster recovery (settings/dr.py): a primary names its standby, a standby its primary, never both.
    "standby of a standby": (
        {**ACCOUNT, "kanna-infra:dr": json.dumps({"primaryStack": "prod", "standbyStack": "prod-dr2"})},
        'kanna-infra:dr.standbyStack = "prod-dr2"',
        "a standby has no standby of its own; allowed: primaryStack or standbyStack",
    ),
    "fail over before the standby is up": (
        {**ACCOUNT, "kanna-infra:dr": json.dumps({"standbyStack": "prod-dr", "active": "standby"})},
        'kanna-infra:dr.active = "standby"',
        "the standby is not up yet; allowed: primary, or set standbyUp",
    ),
    "disaster recovery on dev": (
        {**ACCOUNT, "kanna-infra:tier": "dev", "kanna-infra:dr": json.dumps({"primaryStack": "prod"})},
        'kanna-infra:dr.primaryStack = "prod"',
        "disaster recovery is for prod; allowed: tier prod",
    ),
    # The region is data, checked against what the code supports (settings/regions.py), and so are its AZs.
    "unsupported region": (
        {**ACCOUNT, "kanna-infra:region": "eu-west-1"},
        'kanna-infra:region = "eu-west-1"',
        "not a region this code supports (settings/regions.py); allowed: ap-northeast-1, ap-northeast-3",
    ),
    "forwarder in another region": (
        {**ACCOUNT, "kanna-infra:observability": json.dumps({"logForwarderArn": "arn:aws:lambda:us-east-1:111111111111:function:F"})},
        "observability.logForwarderArn",
        "allowed: a function in ap-northeast-1",
    ),
    "single NAT in prod": (network(natGateways="single"), 'network.natGateways = "single"', "allowed: perAz"),
    "bad enum": (network(natGateways="two"), "network.natGateways", "allowed: 'perAz' or 'single'"),
    "missing account": ({}, "kanna-infra:awsAccountId = (not set)", "required"),
    "bad account": ({"kanna-infra:awsAccountId": "1234"}, 'kanna-infra:awsAccountId = "1234"', "text matching ^\\d{12}$"),
    "bad tier": ({**ACCOUNT, "kanna-infra:tier": "staging"}, 'kanna-infra:tier = "staging"', "'dev' or 'prod'"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_setting_gives_one_line_naming_stack_key_value_and_allowed(case: str) -> None:
    config, where, allowed = BAD[case]
    with pytest.raises(SettingsError) as caught:
        load("prod", config)
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith("stack 'prod': kanna-infra:"), message
    assert where in message and allowed in message, message


def test_dev_may_use_two_azs_and_one_nat() -> None:
    settings = load(
        "dev",
        {
            **network(
                availabilityZones=["ap-northeast-1a", "ap-northeast-1c"],
                natGateways="single",
                publicSubnets=["10.0.0.0/24", "10.0.1.0/24"],
                privateSubnets=["10.0.16.0/20", "10.0.32.0/20"],
                isolatedSubnets=["10.0.8.0/24", "10.0.9.0/24"],
            ),
            "kanna-infra:tier": "dev",
        },
    )
    assert settings.network.nat_gateways == "single" and not settings.protect


def test_defaults_suit_prod() -> None:
    settings = load("prod", ACCOUNT)
    assert settings.prod and settings.protect
    assert settings.network.nat_gateways == "perAz"
    assert len(settings.network.availability_zones) == 3
    assert all(net.prefixlen <= 20 for net in settings.network.private_subnets)


def test_committed_stack_files_are_valid_and_use_example_accounts() -> None:
    for stack in ("dev", "prod"):
        config, secrets = stack_config(stack)
        settings = load(stack, config)
        assert settings.aws_account_id in ("111111111111", "222222222222")
        assert secrets == [], "secrets belong in `pulumi config set --secret` or Secrets Manager, not plain text"


def test_bad_settings_register_no_resource() -> None:
    config, _ = stack_config("prod")
    config["kanna-infra:network"] = json.dumps({"natGateways": "single"})
    recording = record("prod", "update", config, [])
    assert recording.error is not None and "kanna-infra:network.natGateways" in recording.error
    assert "Traceback" not in recording.error
    # Only the engine's own stack resource exists: not a provider, not a component.
    assert [r.type for r in recording.registrations] == ["pulumi:pulumi:Stack"]


@pytest.mark.cli("bad-settings")
def test_preflight_cli_exits_2_with_one_line_and_no_traceback() -> None:
    # `python -m preflight prod --mode update --stack-file <Pulumi.prod.yaml + vpcCidr 10.0.0.0/8>`
    result = cli_result("bad-settings")
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("stack 'prod'")]
    assert errors == [
        f"stack 'prod': kanna-infra:network.vpcCidr = \"{BAD_VPC_CIDR}\": a VPC must be /16 to /20; allowed: a prefix length from 16 to 20"
    ]
    assert "Traceback" not in result.stdout + result.stderr
