"""The preflight's outcome for one stack and mode: a plan summary and the policy verdict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .analyzer import Diagnostic
from .program import Recording

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

    def components(self) -> Counter[tuple[str, str]]:
        """(top-level component, resource type) -> count, for the plan summary."""
        by_urn = self.recording.by_urn()
        counts: Counter[tuple[str, str]] = Counter()
        for registration in self.recording.registrations:
            if not registration.custom:
                continue
            top, parent = registration, by_urn.get(registration.parent)
            while parent is not None and parent.type != "pulumi:pulumi:Stack":
                top, parent = parent, by_urn.get(parent.parent)
            component = top.name if top is not registration else "(stack)"
            counts[(component, registration.type)] += 1
        return counts

    def stateful(self) -> list[dict[str, Any]]:
        return [{"type": r.type, "name": r.name, "protect": r.protect} for r in self.recording.registrations if r.type in STATEFUL_TYPES]

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.recording.project,
            "stack": self.stack,
            "mode": self.mode,
            "error": self.recording.error,
            "resources": sum(1 for r in self.recording.registrations if r.custom),
            "plan": [{"component": c, "type": t, "count": n} for (c, t), n in sorted(self.components().items())],
            "stateful": self.stateful(),
            "policies": self.levels,
            "violations": [d.to_json() for d in self.violations],
            "deferred": [d.to_json() for d in self.deferred],
            "passed": self.passed,
        }

    def render(self) -> str:
        title = f"== {self.recording.label} ({'first preview: ids unknown' if self.mode == 'first' else 'update preview'}) =="
        if self.recording.error is not None:
            return f"{title}\nprogram failed:\n{self.recording.error}"
        lines = [title, f"{sum(1 for r in self.recording.registrations if r.custom)} resources"]
        by_component: dict[str, list[str]] = {}
        for (component, type_), count in sorted(self.components().items()):
            by_component.setdefault(component, []).append(f"{type_.rsplit(':', 1)[-1]} x{count}")
        lines += [f"  {component}: {', '.join(types)}" for component, types in by_component.items()]
        stateful = self.stateful()
        protected = [s for s in stateful if s["protect"]]
        lines.append(f"stateful resources: {len(stateful)}, protected: {len(protected)}")
        lines += [f"  {'protected  ' if s['protect'] else 'unprotected'} {s['type'].rsplit(':', 1)[-1]} {s['name']}" for s in stateful]
        by_policy: dict[str, list[Diagnostic]] = {}
        for diagnostic in self.violations:
            by_policy.setdefault(diagnostic.policy, []).append(diagnostic)
        lines.append(
            f"policies: {len(self.levels)} checked, {len(self.mandatory)} mandatory violations, "
            f"{len(self.violations) - len(self.mandatory)} advisory, {len(self.deferred)} deferred to the update"
        )
        for policy, found in sorted(by_policy.items()):
            lines.append(f"  [{found[0].level}] {policy}")
            lines += [f"    - {d.message}" for d in found]
        return "\n".join(lines)
