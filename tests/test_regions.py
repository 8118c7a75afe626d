"""The region is data: one table of what differs per region (settings/regions.py), and the code reads it there."""

from __future__ import annotations

import json
import re

import pytest

from preflight import ROOT
from settings.regions import REGIONS
from tests.kit import RecordedStack

# The facts of a region that the table holds; no other file of the program may spell them.
FACTS = sorted({fact for r in REGIONS.values() for fact in (*r.availability_zones, r.elb_log_account, r.guardduty_agent_account)})


def test_the_table_is_the_only_place_that_names_a_regions_facts() -> None:
    sources = [p for folder in ("components", "settings", "bootstrap") for p in (ROOT / folder).rglob("*.py")] + [ROOT / "__main__.py"]
    found = [f"{p.relative_to(ROOT)}: {fact}" for p in sources if p.name != "regions.py" for fact in FACTS if fact in p.read_text()]
    assert found == []


@pytest.mark.parametrize("name", REGIONS)
def test_each_region_entry_is_well_formed(name: str) -> None:
    entry = REGIONS[name]
    assert entry.availability_zones and all(re.fullmatch(rf"{name}[a-z]", az) for az in entry.availability_zones)
    assert re.fullmatch(r"\d{12}", entry.elb_log_account) and re.fullmatch(r"\d{12}", entry.guardduty_agent_account)


def test_the_alb_log_writer_and_the_guardduty_agent_come_from_the_stacks_region(dev: RecordedStack) -> None:
    region = REGIONS[dev.one("pulumi:providers:aws", "dev-aws").inputs["region"]]
    statements = [
        s
        for policy in dev.of_type("aws:s3/bucketPolicy:BucketPolicy")
        for s in json.loads(policy.inputs["policy"])["Statement"]
        if s.get("Sid") == "AlbAccessLogs"
    ]
    assert [s["Principal"] for s in statements] == [{"AWS": f"arn:aws:iam::{region.elb_log_account}:root"}]
    policies = " ".join(str(p.inputs.get("policy", "")) for p in dev.of_type("aws:iam/rolePolicy:RolePolicy"))
    assert f":{region.guardduty_agent_account}:repository/aws-guardduty-agent-fargate" in policies
