"""Scope is explicit: what AWS keeps once per account lives in the account baseline (account/), what it keeps once
per region in each workload stack's regional baseline, and each workload stack holds only its own resources.

The tables say, per resource type, why (the AWS documentation the components cite next to the resources).
"""

from __future__ import annotations

import json

import pytest

from account.settings import load
from policies.governance import ACCOUNT_WIDE
from preflight import ACCOUNT, STACKS
from preflight.program import Recording, stack_config
from settings import SettingsError, regions
from tests.conftest import recorded, recording, variant
from tests.kit import RecordedStack

# Once per AWS account: two stacks of one account (prod and prod-dr) must not both own one of these. The pack's
# list (KANNA-GOV-002 account-scope), so that the tests and the policy can't disagree.
# Once per account and region: each workload stack holds its region's, in its RegionalBaseline.
REGIONAL = {
    "aws:guardduty/detector:Detector": "one detector per account per region",
    "aws:cfg/recorder:Recorder": "a configuration recorder per region",
    "aws:cfg/deliveryChannel:DeliveryChannel": "the recorder's channel, per region",
    "aws:cfg/recorderStatus:RecorderStatus": "the recorder's status, per region",
    "aws:securityhub/account:Account": "Security Hub's settings apply to one region",
    "aws:ebs/encryptionByDefault:EncryptionByDefault": "for the account in the current region",
    "aws:ebs/defaultKmsKey:DefaultKmsKey": "the default key of the current region",
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": "the registry of the region",
    "aws:inspector2/enabler:Enabler": "Inspector is enabled per region",
}
WORKLOADS = [(stack, mode) for stack in STACKS for mode in ("update", "first")]


def _types(recorded: Recording) -> list[str]:
    return [r.type for r in recorded.registrations]


@pytest.mark.parametrize(("stack", "mode"), WORKLOADS, ids=[f"{s}-{m}" for s, m in WORKLOADS])
def test_a_workload_stack_registers_no_account_wide_resource(stack: str, mode: str) -> None:
    assert {t for t in _types(recording(stack, mode)) if t in ACCOUNT_WIDE} == set()


@pytest.mark.parametrize(("stack", "mode"), WORKLOADS, ids=[f"{s}-{m}" for s, m in WORKLOADS])
def test_a_workload_stack_registers_each_regional_resource_once_in_its_regional_baseline(stack: str, mode: str) -> None:
    recorded = RecordedStack(recording(stack, mode))
    for type_ in REGIONAL:
        (found,) = recorded.of_type(type_)
        assert recorded.component_of(found) == f"{stack}-regional-baseline", type_


def test_each_account_stack_holds_every_account_wide_resource_once_and_nothing_regional(each_account: RecordedStack) -> None:
    types = _types(each_account.recording)
    assert {t: types.count(t) for t in ACCOUNT_WIDE} == dict.fromkeys(ACCOUNT_WIDE, 1)
    assert {t for t in types if t in REGIONAL} == set()


def test_every_workload_stack_has_the_baseline_of_its_account() -> None:
    # One baseline per account, pinned to it (the provider refuses others), naming each stack of the account and
    # its region: the integration collects those regions.
    baselines, homes = {}, {}
    for stack in ACCOUNT.stacks:
        config, _ = stack_config(stack, project=ACCOUNT)
        account = config["kanna-account:awsAccountId"]
        baselines[account] = json.loads(config["kanna-account:workloads"])
        homes[account] = config.get("kanna-account:homeRegion", regions.DEFAULT_REGION)
    for stack in STACKS:
        config, _ = stack_config(stack)
        account = config["kanna-infra:awsAccountId"]
        assert baselines[account][stack] == config.get("kanna-infra:region", regions.DEFAULT_REGION)
        # The stack agrees with its account on the home region: one recorder of the account records IAM.
        assert config.get("kanna-infra:homeRegion", regions.DEFAULT_REGION) == homes[account], stack


# dev as a second region of its account would run it (its home elsewhere): recorded in a forked child.
_DEV_CONFIG, _DEV_SECRETS = stack_config("dev")
DEV_AWAY_FROM_HOME = variant("dev", "update", {**_DEV_CONFIG, "kanna-infra:homeRegion": "ap-northeast-3"}, _DEV_SECRETS)


@pytest.mark.records(DEV_AWAY_FROM_HOME)
def test_config_records_global_resource_types_in_the_home_region_only() -> None:
    recorder = RecordedStack(recording("dev")).of_type("aws:cfg/recorder:Recorder")[0]
    assert recorder.inputs["recordingGroup"] == {"allSupported": True, "includeGlobalResourceTypes": True}
    # A second region of the account (Osaka, as prod-dr is) records its regional types and no IAM.
    (recorder,) = RecordedStack(recorded(DEV_AWAY_FROM_HOME)).of_type("aws:cfg/recorder:Recorder")
    assert recorder.inputs["recordingGroup"] == {"allSupported": True, "includeGlobalResourceTypes": False}


ACCOUNT_ID = {"kanna-account:awsAccountId": "111111111111"}


@pytest.mark.parametrize(
    ("stack", "config", "expected"),
    [
        ("prod", {**ACCOUNT_ID, "kanna-account:workloads": '{"prod": "ap-northeast-1"}'}, 'kanna-account:stack = "prod": not an account'),
        ("prod-account", ACCOUNT_ID, "kanna-account:workloads = (not set)"),
        (
            "prod-account",
            {**ACCOUNT_ID, "kanna-account:workloads": '{"prod": "eu-west-1"}'},
            'kanna-account:workloads.prod = "eu-west-1": not a region this code supports',
        ),
        (
            "prod-account",
            {**ACCOUNT_ID, "kanna-account:workloads": '{"prod": "ap-northeast-1"}', "kanna-account:homeRegion": "us-east-1"},
            'kanna-account:homeRegion = "us-east-1": not a region this code supports',
        ),
    ],
    ids=["not-an-account-stack", "no-workloads", "unsupported-region", "unsupported-home"],
)
def test_bad_account_settings_are_one_clear_line(stack: str, config: dict, expected: str) -> None:
    with pytest.raises(SettingsError) as error:
        load(stack, config)
    assert str(error.value).startswith(f"stack '{stack}': ") and expected in str(error.value) and "\n" not in str(error.value)


def test_the_regions_of_an_account_are_those_of_its_workloads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(regions.REGIONS, "ap-northeast-3", regions.REGIONS["ap-northeast-1"])
    workloads = '{"prod": "ap-northeast-1", "prod-dr": "ap-northeast-3"}'
    assert load("prod-account", {**ACCOUNT_ID, "kanna-account:workloads": workloads}).regions == ["ap-northeast-1", "ap-northeast-3"]
    forwarder = '{"logForwarderArn": "arn:aws:lambda:ap-northeast-1:111111111111:function:DatadogForwarder"}'
    with pytest.raises(SettingsError) as error:
        load("prod-account", {**ACCOUNT_ID, "kanna-account:workloads": workloads, "kanna-account:observability": forwarder})
    assert "kanna-account:observability.logForwarderArn" in str(error.value) and "one function can't forward" in str(error.value)
    with pytest.raises(SettingsError) as error:
        load(
            "prod-account",
            {**ACCOUNT_ID, "kanna-account:workloads": '{"prod": "ap-northeast-1"}', "kanna-account:homeRegion": "ap-northeast-3"},
        )
    assert 'kanna-account:homeRegion = "ap-northeast-3": no workload runs there; allowed: ap-northeast-1' in str(error.value)
