"""The preflight's violations as SARIF 2.1.0, for GitHub code scanning (`--sarif FILE`).

One run holds every stack and mode checked: GitHub rejects an upload with several runs of the same tool
and category (https://github.blog/changelog/2024-05-06-code-scanning-will-stop-combining-runs-from-a-single-upload).
A violation found in both previews is one result, listing both. A result's location is the line that made
its resource (preflight/source.py); a stack-wide finding with no resource points at the stack's file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format

from . import PROJECTS, ROOT, source
from .analyzer import PolicyPack
from .report import Outcome

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"mandatory": "error", "advisory": "warning"}


_POLICY_ID = re.compile(r"\[(KANNA-[A-Z]+-\d{3})[;\]]")


def rule_id(policy: str, info: dict[str, Any] | None = None) -> str:
    """The rule id of a policy: the one place that says how a policy is named in code scanning.

    The policy's stable id (KANNA-EDGE-003), as the running pack states it at the end of each description
    (policies/_lib.py); the policy's name for a policy that states none.
    """
    found = _POLICY_ID.search(str((info or {}).get("description", "")))
    return found.group(1) if found else policy


def policy_info(pack: PolicyPack) -> dict[str, dict[str, Any]]:
    """Each policy of the running pack as the engine describes it (GetAnalyzerInfo), as JSON."""
    return {name: json_format.MessageToDict(info) for name, info in pack.policies.items()}


def _stack_file(outcome: Outcome) -> str:
    project = next(p for p in PROJECTS.values() if p.name == outcome.recording.project)
    return (project.directory / f"Pulumi.{outcome.stack}.yaml").relative_to(ROOT).as_posix()


def _location(position: str) -> dict[str, Any]:
    path, line = source.split(position)
    return {"physicalLocation": {"artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"}, "region": {"startLine": line}}}


def sarif(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The SARIF log of these outcomes: one result per distinct violation, rules for every policy."""
    policies: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        for name in outcome.levels:
            policies.setdefault(name, outcome.policy_info.get(name, {}))
    results: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for outcome in outcomes:
        for diagnostic in outcome.violations:
            key = (diagnostic.policy, diagnostic.level, diagnostic.urn, diagnostic.message)
            if key in results:
                results[key]["properties"]["modes"].append(outcome.mode)
                continue
            policies.setdefault(diagnostic.policy, {})
            results[key] = {
                "ruleId": rule_id(diagnostic.policy, policies[diagnostic.policy]),
                "level": LEVELS.get(diagnostic.level, "note"),
                "message": {"text": diagnostic.message},
                "locations": [_location(outcome.source_of(diagnostic) or f"{_stack_file(outcome)}:1")],
                "properties": {"stack": outcome.recording.label, "modes": [outcome.mode], "urn": diagnostic.urn},
            }
    rules = [
        {
            "id": rule_id(name, info),
            "name": name,
            "shortDescription": {"text": info.get("description") or name},
            **({"fullDescription": {"text": info["message"]}} if info.get("message") else {}),
        }
        for name, info in sorted(policies.items())
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kanna-preflight",
                        "informationUri": "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the repository root"}}},
                "results": list(results.values()),
            }
        ],
    }
