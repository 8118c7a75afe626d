"""The kanna-infra CrossGuard pack. Only this file builds the PolicyPack, because building it starts a server."""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# The CLI (and the preflight) run this file as a script from the pack directory.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.catalog import POLICIES

PolicyPack(name="kanna-infra-policies", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
