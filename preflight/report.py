"""The preflight's outcome for one stack and mode: a plan summary and the policy verdict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from . import source
from .analyzer import Diagnostic
from .program import Recording, Registration

# Resources that hold data or keys: `protect`ed in prod, and listed in the plan summary.
STATEFUL_TYPES = {
    "aws:kms/key:Key",
    "aws:rds/cluster:Cluster",
    "aws:rds/clusterInstance:ClusterInstance",
    "aws:rds/instance:Instance",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:secretsmanager/secret:Secret",
    "random:index/randomPassword:RandomPassword",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:ecr/repository:Repository",
    "aws:cognito/userPool:UserPool",
    "aws:cloudwatch/logGroup:LogGroup",
    "gcp:firestore/database:Database",
    "gcp:bigquery/dataset:Dataset",
    "gcp:bigquery/table:Table",
}


@dataclass
class Outcome:
    stack: str
    mode: str
    recording: Recording
    diagnostics: list[Diagnostic] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)
    policy_info: dict[str, dict[str, Any]] = field(default_factory=dict)  # the pack's PolicyInfo of each policy, as JSON

    @property
    def violations(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.deferred]

    @property
    def mandatory(self) -> list[Diagnostic]:
        return [d for d in self.violations if d.level == "mandatory"]

    @property
    def deferred(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.deferred]

    @property
    def passed(self) -> bool:
        return self.recording.error is None and not self.mandatory

    def source_of(self, diagnostic: Diagnostic) -> str | None:
        """The line in this repository that made the resource a diagnostic is about (None for the stack as a whole)."""
        registration = self.recording.by_urn().get(diagnostic.urn)
        return registration.source if registration is not None else None

    def sources(self) -> dict[tuple[str, str], list[str]]:
        """(top-level component, resource type) -> the distinct lines that made them, in file and line order."""
        found: dict[tuple[str, str], set[str]] = {}
        for registration, component in self._by_component():
            if registration.source is not None:
                found.setdefault((component, registration.type), set()).add(registration.source)
        return {key: sorted(lines, key=source.split) for key, lines in found.items()}

    def _by_component(self) -> list[tuple[Registration, str]]:
        """Each custom resource with the top-level component that owns it."""
        by_urn = self.recording.by_urn()
        owned = []
        for registration in self.recording.registrations:
            if not registration.custom:
                continue
            top, parent = registration, by_urn.get(registration.parent)
            while parent is not None and parent.type != "pulumi:pulumi:Stack":
                top, parent = parent, by_urn.get(parent.parent)
            owned.append((registration, top.name if top is not registration else "(stack)"))
        return owned

    def components(self) -> Counter[tuple[str, str]]:
        """(top-level component, resource type) -> count, for the plan summary."""
        return Counter((component, registration.type) for registration, component in self._by_component())

    def stateful(self) -> list[dict[str, Any]]:
        return [
            {"type": r.type, "name": r.name, "protect": r.protect, "source": r.source}
            for r in self.recording.registrations
            if r.type in STATEFUL_TYPES
        ]

    def finding(self, diagnostic: Diagnostic) -> dict[str, Any]:
        """A diagnostic as JSON, with the source position of its resource."""
        return {**diagnostic.to_json(), "source": self.source_of(diagnostic)}

    def to_json(self) -> dict[str, Any]:
        sources = self.sources()
        return {
            "project": self.recording.project,
            "stack": self.stack,
            "mode": self.mode,
            "error": self.recording.error,
            "resources": sum(1 for r in self.recording.registrations if r.custom),
            "plan": [
                {"component": c, "type": t, "count": n, "sources": sources.get((c, t), [])}
                for (c, t), n in sorted(self.components().items())
            ],
            "stateful": self.stateful(),
            "policies": self.levels,
            "violations": [self.finding(d) for d in self.violations],
            "deferred": [self.finding(d) for d in self.deferred],
            "warnings": self.recording.warnings,
            "passed": self.passed,
        }

    def render(self) -> str:
        title = f"== {self.recording.label} ({'first preview: ids unknown' if self.mode == 'first' else 'update preview'}) =="
        if self.recording.error is not None:
            return f"{title}\nprogram failed:\n{self.recording.error}"
        lines = [
            title,
            *(f"warning: {w}" for w in self.recording.warnings),
            f"{sum(1 for r in self.recording.registrations if r.custom)} resources",
        ]
        sources, component = self.sources(), None
        for (owner, type_), count in sorted(self.components().items()):
            if owner != component:
                lines.append(f"  {owner}")
                component = owner
            entry = f"{type_.rsplit(':', 1)[-1]} x{count}"
            lines.append(f"    {entry:<34} {_positions(sources.get((owner, type_), []))}".rstrip())
        stateful = self.stateful()
        protected = [s for s in stateful if s["protect"]]
        lines.append(f"stateful resources: {len(stateful)}, protected: {len(protected)}")
        lines += [
            f"  {'protected  ' if s['protect'] else 'unprotected'} {s['type'].rsplit(':', 1)[-1]} {s['name']}{_at(s['source'])}"
            for s in stateful
        ]
        by_policy: dict[str, list[Diagnostic]] = {}
        for diagnostic in self.violations:
            by_policy.setdefault(diagnostic.policy, []).append(diagnostic)
        lines.append(
            f"policies: {len(self.levels)} checked, {len(self.mandatory)} mandatory violations, "
            f"{len(self.violations) - len(self.mandatory)} advisory, {len(self.deferred)} deferred to the update"
        )
        for policy, found in sorted(by_policy.items()):
            lines.append(f"  [{found[0].level}] {policy}")
            lines += [f"    - {d.message}{_at(self.source_of(d))}" for d in found]
        return "\n".join(lines)


def _at(position: str | None) -> str:
    return f" ({position})" if position else ""


def _positions(sources: list[str], shown: int = 3) -> str:
    """The lines that made a plan entry: the first few, then how many more."""
    more = f", +{len(sources) - shown} more" if len(sources) > shown else ""
    return ", ".join(sources[:shown]) + more
