"""The architecture, drawn from a recording: one Mermaid flowchart per stack (`docs/architecture/<stack>.md`).

`python -m preflight.diagram --write` records every stack (update preview) and rewrites the files;
`--check` fails when one is stale (tests/test_diagram.py runs the same comparison).

What is drawn:
- each top-level component is a subgraph, and a component inside it with two or more things worth
  drawing is a subgraph of its own (an environment, the edge, the WAF);
- only the resources a reader cares about (SHOWN); resources of one type in one subgraph are one box
  with a count, so an environment's services are one box naming them;
- edges are who reaches whom, from the property dependencies the engine sees: DNS records, the WAF
  on CloudFront and the ALB, CloudFront's origin, listener rules to target groups to services,
  security group rules between the groups' users, routes from subnets to gateways, and the
  remaining direct dependencies between drawn resources. Placement in subnets is dotted.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import PROJECTS, ROOT, Project, source
from .program import Recording, Registration, record

DOCS = ROOT / "docs" / "architecture"

Label = Callable[[list[Registration]], str]
TIMES = "\N{MULTIPLICATION SIGN}"


def _count(noun: str, plural: str | None = None) -> Label:
    return lambda members: noun if len(members) == 1 else f"{plural or noun + 's'} {TIMES}{len(members)}"


def _short_names(members: list[Registration], suffix: str) -> str:
    """`alpha-core-api-service` -> `core-api`: the part that differs, for a box listing its members."""
    words = [m.name.removesuffix(suffix).split("-") for m in members]
    shared = 0  # the leading words all names share (`alpha`), never a whole name
    while len(words) > 1 and all(len(w) > shared + 1 and w[shared] == words[0][shared] for w in words):
        shared += 1
    return ", ".join("-".join(w[shared:]) for w in words)


def _services(members: list[Registration]) -> str:
    return f"ECS services {TIMES}{len(members)}<br/><small>{_wrap(_short_names(members, '-service'))}</small>"


def _endpoints(members: list[Registration]) -> str:
    names = [str(m.inputs.get("serviceName", m.name)).split(".", 3)[-1] for m in members]  # com.amazonaws.<region>.<service>
    return f"VPC endpoints {TIMES}{len(members)}<br/><small>{_wrap(', '.join(names))}</small>"


def _wrap(text: str, width: int = 36) -> str:
    """Breaks a long list of names into lines, so that a box stays narrow."""
    lines, line = [], ""
    for word in text.split(", "):
        if line and len(line) + len(word) > width:
            lines.append(line + ",")
            line = word
        else:
            line = f"{line}, {word}" if line else word
    return "<br/>".join([*lines, line])


# type -> (label of the box, what splits one type in one subgraph into several boxes)
SHOWN: dict[str, tuple[Label, Callable[[Registration], str]]] = {}


def _show(type_: str, label: Label, split: Callable[[Registration], str] = lambda r: "") -> None:
    SHOWN[type_] = (label, split)


_show("aws:ec2/vpc:Vpc", lambda ms: f"VPC {ms[0].inputs.get('cidrBlock', '')}")
_show(
    "aws:ec2/subnet:Subnet",
    lambda ms: f"{ms[0].inputs.get('tags', {}).get('Tier', '')} subnets {TIMES}{len(ms)}",
    lambda r: str(r.inputs.get("tags", {}).get("Tier", "")),
)
_show("aws:ec2/internetGateway:InternetGateway", _count("internet gateway"))
_show("aws:ec2/natGateway:NatGateway", _count("NAT gateway"))
_show("aws:ec2/vpcEndpoint:VpcEndpoint", _endpoints)
_show("aws:lb/loadBalancer:LoadBalancer", _count("ALB"))
_show("aws:cloudfront/distribution:Distribution", _count("CloudFront"))
_show("aws:wafv2/webAcl:WebAcl", lambda ms: f"WAF {ms[0].inputs.get('scope', '')}", lambda r: str(r.inputs.get("scope", "")))
_show("aws:route53/zone:Zone", lambda ms: f"Route 53 {ms[0].inputs.get('name', '')}")
_show("aws:cognito/userPool:UserPool", _count("Cognito user pool"))
_show("aws:ecs/cluster:Cluster", _count("ECS cluster"))
_show("aws:ecr/repository:Repository", _count("ECR repository", "ECR repositories"))
_show("aws:ecs/service:Service", _services)
_show("aws:codedeploy/deploymentGroup:DeploymentGroup", _count("CodeDeploy blue/green"))
ENGINES = {
    "aurora-mysql": "Aurora MySQL",
    "aurora-postgresql": "Aurora PostgreSQL",
    "redis": "ElastiCache Redis",
    "valkey": "ElastiCache Valkey",
}
_show("aws:rds/cluster:Cluster", lambda ms: ENGINES.get(str(ms[0].inputs.get("engine")), str(ms[0].inputs.get("engine"))), lambda r: r.name)
_show(
    "aws:elasticache/replicationGroup:ReplicationGroup",
    lambda ms: ENGINES.get(str(ms[0].inputs.get("engine", "redis")), "ElastiCache"),
    lambda r: r.name,
)
_show("aws:kms/key:Key", _count("KMS key"))
_show("aws:s3/bucket:Bucket", _count("S3 bucket"))
_show("aws:cloudtrail/trail:Trail", _count("CloudTrail"))
_show("aws:guardduty/detector:Detector", _count("GuardDuty"))
_show("aws:securityhub/account:Account", _count("Security Hub"))
_show("aws:cfg/recorder:Recorder", _count("AWS Config"))
_show("aws:sns/topic:Topic", _count("SNS topic"))
_show("datadog:aws/integrationAccount:IntegrationAccount", _count("Datadog AWS integration"))
_show("datadog:index/monitor:Monitor", _count("Datadog monitor"))
_show("datadog:index/serviceLevelObjective:ServiceLevelObjective", _count("SLO"))
_show("datadog:index/syntheticsTest:SyntheticsTest", _count("synthetic test"))
_show("gcp:firebase/project:Project", _count("Firebase"))
_show("gcp:identityplatform/config:Config", _count("Identity Platform (Firebase Auth)"))
_show("gcp:firestore/database:Database", _count("Firestore"))
_show("gcp:bigquery/dataset:Dataset", _count("BigQuery dataset"))
_show("gcp:storage/bucket:Bucket", _count("GCS bucket"))
_show("gcp:storage/transferJob:TransferJob", _count("Storage Transfer job"))
_show("gcp:bigquery/dataTransferConfig:DataTransferConfig", _count("BigQuery load"))
_show("gcp:iam/workloadIdentityPool:WorkloadIdentityPool", _count("workload identity pool"))
_show("gcp:serviceaccount/account:Account", _count("service account"))
_show("aws:organizations/organization:Organization", _count("AWS Organization"))
_show("aws:organizations/organizationalUnit:OrganizationalUnit", _count("OU", "OUs"))
_show("aws:organizations/account:Account", lambda ms: f"accounts {TIMES}{len(ms)}<br/><small>{', '.join(m.name for m in ms)}</small>")
_show("aws:organizations/policy:Policy", _count("SCP"))
_show("aws:ssoadmin/permissionSet:PermissionSet", _count("permission set"))
_show("aws:iam/openIdConnectProvider:OpenIdConnectProvider", _count("GitHub OIDC provider"))
_show("aws:iam/role:Role", _count("IAM role"), lambda r: "")

# Resources that connect two others: (type, properties of the one side, of the other side, the edge's label).
CONNECTORS = [
    ("aws:route53/record:Record", ("zoneId",), ("aliases",), "DNS"),
    ("aws:wafv2/webAclAssociation:WebAclAssociation", ("webAclArn",), ("resourceArn",), "filters"),
    ("aws:organizations/policyAttachment:PolicyAttachment", ("policyId",), ("targetId",), "attached to"),
    ("aws:iam/rolePolicy:RolePolicy", ("role",), ("policy",), "may use"),
]

# What a direct dependency means, where the property doesn't say it plainly.
DEPENDENCY_LABELS = {
    ("aws:codedeploy/deploymentGroup:DeploymentGroup", "ecsService"): "deploys",
    ("aws:lb/loadBalancer:LoadBalancer", "accessLogs"): "access logs",
    ("aws:cloudtrail/trail:Trail", "s3BucketName"): "logs",
    ("aws:ecs/cluster:Cluster", "configuration"): "exec sessions",
    ("gcp:storage/transferJob:TransferJob", "transferSpec"): "copies logs into",
    ("aws:organizations/account:Account", "parentId"): "in",
    ("aws:organizations/organizationalUnit:OrganizationalUnit", "parentId"): "in",
    ("gcp:bigquery/dataTransferConfig:DataTransferConfig", "params"): "loads from",
    ("gcp:bigquery/dataTransferConfig:DataTransferConfig", "destinationDatasetId"): "loads into",
}

# Roles are drawn only where they are the point of a component (bootstrap's CI roles), not the hundreds beside services.
ROLE_COMPONENTS = {"kanna:bootstrap:CiAccess"}

# Dependencies on these say "inside the VPC" or "encrypted with": true of nearly everything, so not drawn as edges.
NOT_REACHED = {
    "aws:ec2/vpc:Vpc",
    "aws:kms/key:Key",
    "aws:ec2/subnet:Subnet",
    "gcp:serviceaccount/account:Account",
    "aws:ecs/cluster:Cluster",
}


@dataclass
class Box:
    id: str
    subgraph: tuple[str, ...]  # the URNs of the components it is drawn in, outermost first
    type: str
    members: list[Registration] = field(default_factory=list)

    @property
    def label(self) -> str:
        return SHOWN[self.type][0](self.members)


class Diagram:
    """The boxes and edges of one recording."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.by_urn = recording.by_urn()
        self.components = {r.urn: r for r in recording.registrations if not r.custom and r.type != "pulumi:pulumi:Stack"}
        self.boxes: dict[str, Box] = {}
        self.box_of: dict[str, Box] = {}  # urn -> its box
        self.edges: dict[tuple[str, str, bool], set[str]] = {}  # (from box, to box, dotted) -> labels
        self._place()
        self._connect()

    # -- boxes ---------------------------------------------------------------------------------------
    def _path(self, registration: Registration) -> tuple[str, ...]:
        chain, urn = [], registration.parent
        while urn in self.components:
            chain.append(urn)
            urn = self.components[urn].parent
        return tuple(reversed(chain))

    def _place(self) -> None:
        drawn = []
        for registration in self.recording.registrations:
            if registration.type not in SHOWN:
                continue
            path = self._path(registration)
            if registration.type == "aws:iam/role:Role" and not any(self.components[p].type in ROLE_COMPONENTS for p in path):
                continue
            drawn.append((registration, path[:2]))
        # A component inside a top-level one is its own subgraph only when it has two or more boxes.
        kinds: dict[tuple[str, ...], set[tuple[str, str]]] = {}
        for registration, path in drawn:
            kinds.setdefault(path, set()).add((registration.type, SHOWN[registration.type][1](registration)))
        for registration, path in drawn:
            if len(path) == 2 and len(kinds[path]) < 2:
                path = path[:1]
            key = f"{'/'.join(path)}|{registration.type}|{SHOWN[registration.type][1](registration)}"
            if key not in self.boxes:
                self.boxes[key] = Box("", path, registration.type)
            self.boxes[key].members.append(registration)
            self.box_of[registration.urn] = self.boxes[key]
        # The same drawing whatever order the registrations arrived in: members by name, boxes by place and label.
        for box in self.boxes.values():
            box.members.sort(key=lambda m: m.name)
        ordered = sorted(self.boxes.values(), key=lambda b: ([self._order(b.subgraph[: n + 1]) for n in range(len(b.subgraph))], b.label))
        for n, box in enumerate(ordered):
            box.id = f"n{n}"
        self.boxes = {box.id: box for box in ordered}

    # -- edges ---------------------------------------------------------------------------------------
    def _deps(self, registration: Registration, *props: str) -> list[Registration]:
        found = []
        for prop in props or tuple(registration.property_dependencies):
            found += [self.by_urn[u] for u in registration.property_dependencies.get(prop, []) if u in self.by_urn]
        return found

    def _edge(self, sources: Iterable[Registration], targets: Iterable[Registration], label: str = "", dotted: bool = False) -> None:
        for a in {self.box_of[s.urn].id: self.box_of[s.urn] for s in sources if s.urn in self.box_of}.values():
            for b in {self.box_of[t.urn].id: self.box_of[t.urn] for t in targets if t.urn in self.box_of}.values():
                if a is not b:
                    labels = self.edges.setdefault((a.id, b.id, dotted), set())
                    if label:
                        labels.add(label)

    def _of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.recording.registrations if r.type == type_]

    def _connect(self) -> None:
        users_of: dict[str, list[Registration]] = {}  # security group urn -> the drawn resources it is attached to
        for registration in self.recording.registrations:
            if registration.urn in self.box_of:
                for dep in self._deps(registration):
                    if dep.type == "aws:ec2/securityGroup:SecurityGroup":
                        users_of.setdefault(dep.urn, []).append(registration)
        for type_, sides, others, label in CONNECTORS:
            for connector in self._of_type(type_):
                self._edge(self._deps(connector, *sides), self._deps(connector, *others), label)
        # CloudFront's origin is a name in the zone, whose record points at the ALB.
        record_target = {str(r.inputs.get("name", "")): self._deps(r, "aliases") for r in self._of_type("aws:route53/record:Record")}
        for distribution in self._of_type("aws:cloudfront/distribution:Distribution"):
            for origin in distribution.inputs.get("origins", []) or []:
                domain = origin.get("domainName") if isinstance(origin, dict) else None
                self._edge([distribution], record_target.get(str(domain), []), "origin")
            self._edge(self._deps(distribution, "webAclId"), [distribution], "filters")
        # The ALB's listeners and rules forward to target groups, which the services register with.
        served: dict[str, list[Registration]] = {}
        for service in self._of_type("aws:ecs/service:Service"):
            for group in self._deps(service, "loadBalancers"):
                served.setdefault(group.urn, []).append(service)
        for rule in [*self._of_type("aws:lb/listenerRule:ListenerRule"), *self._of_type("aws:lb/listener:Listener")]:
            listeners = [rule] if rule.type == "aws:lb/listener:Listener" else self._deps(rule, "listenerArn")
            balancers = [b for listener in listeners for b in self._deps(listener, "loadBalancerArn")]
            groups = self._deps(rule, "actions", "defaultActions")
            self._edge(balancers, [s for g in groups for s in served.get(g.urn, [])], "listener rules")
        # Security group rules: from the users of the referenced group to the users of the group they open.
        for rule in [
            *self._of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
            *self._of_type("aws:ec2/securityGroupRule:SecurityGroupRule"),
        ]:
            target = [u for g in self._deps(rule, "securityGroupId") for u in users_of.get(g.urn, [])]
            origin = [u for g in self._deps(rule, "referencedSecurityGroupId", "sourceSecurityGroupId") for u in users_of.get(g.urn, [])]
            port = rule.inputs.get("fromPort")
            self._edge(origin, target, f"tcp {int(port)}" if isinstance(port, (int, float)) else "")
        # Routes: the subnets of a route table reach its gateway.
        subnets_of: dict[str, list[Registration]] = {}
        for association in self._of_type("aws:ec2/routeTableAssociation:RouteTableAssociation"):
            for table in self._deps(association, "routeTableId"):
                subnets_of.setdefault(table.urn, []).extend(self._deps(association, "subnetId"))
        for route in self._of_type("aws:ec2/route:Route"):
            subnets = [s for t in self._deps(route, "routeTableId") for s in subnets_of.get(t.urn, [])]
            self._edge(subnets, self._deps(route, "natGatewayId", "gatewayId"), str(route.inputs.get("destinationCidrBlock", "")))
        # Placement (dotted): what runs in which subnets, directly or through a subnet group, and on which cluster.
        for registration in self.recording.registrations:
            if registration.urn not in self.box_of:
                continue
            places = [d for d in self._deps(registration) if d.type == "aws:ec2/subnet:Subnet"]
            places += self._deps(registration, "cluster") if registration.type == "aws:ecs/service:Service" else []
            places += [
                s for d in self._deps(registration) if d.type.endswith("subnetGroup:SubnetGroup") for s in self._deps(d, "subnetIds")
            ]
            self._edge([registration], places, dotted=True)
        # Whatever else a drawn resource depends on directly, among drawn resources; a role's trust policy is the
        # other way round: the provider it trusts reaches the role.
        for registration in self.recording.registrations:
            if registration.urn not in self.box_of or registration.type == "aws:cloudfront/distribution:Distribution":
                continue
            for prop in registration.property_dependencies:
                targets = [
                    d
                    for d in self._deps(registration, prop)
                    if d.type not in NOT_REACHED and d.type != "aws:ec2/securityGroup:SecurityGroup"
                ]
                if prop == "assumeRolePolicy":
                    self._edge(targets, [registration], "assumes")
                else:
                    self._edge([registration], targets, DEPENDENCY_LABELS.get((registration.type, prop), ""))
        # An edge both ways between two boxes (two services calling each other, say) is drawn once each way; a
        # plain dependency alongside a labelled edge between the same boxes adds nothing.
        for (a, b, dotted), labels in list(self.edges.items()):
            if not labels and not dotted and any(k[:2] == (a, b) and v for k, v in self.edges.items() if k != (a, b, dotted)):
                del self.edges[(a, b, dotted)]

    # -- queries (tests) -----------------------------------------------------------------------------
    def find(self, type_: str, component: str | None = None) -> list[Box]:
        """The boxes of a type, optionally only those inside the component named `component`."""
        return [
            b
            for b in self.boxes.values()
            if b.type == type_ and (component is None or component in {self.components[p].name for p in b.subgraph})
        ]

    def edge(self, a: Box, b: Box, dotted: bool = False) -> set[str] | None:
        """The labels of the edge from `a` to `b`, or None when there is none."""
        return self.edges.get((a.id, b.id, dotted))

    # -- Mermaid -------------------------------------------------------------------------------------
    def mermaid(self, direction: str = "LR") -> str:
        lines = [f"flowchart {direction}"]
        tree: dict[tuple[str, ...], list[Box]] = {}
        for box in self.boxes.values():
            tree.setdefault(box.subgraph, []).append(box)

        def emit(path: tuple[str, ...], depth: int) -> None:
            indent = "    " * max(depth - 1, 0)
            if path:
                component = self.components[path[-1]]
                lines.append(f'{indent}subgraph {_id(component.urn)}["{_text(component.name)} · {component.type.rsplit(":", 1)[-1]}"]')
            for box in tree.get(path, []):
                lines.append(f'{indent}    {box.id}["{_text(box.label)}"]')
            children = {
                b.subgraph[: len(path) + 1] for b in self.boxes.values() if len(b.subgraph) > len(path) and b.subgraph[: len(path)] == path
            }
            for child in sorted(children, key=self._order):
                emit(child, depth + 1)
            if path:
                lines.append(f"{indent}end")

        emit((), 0)
        for (a, b, dotted), labels in sorted(self.edges.items(), key=lambda e: (int(e[0][0][1:]), int(e[0][1][1:]), e[0][2])):
            arrow = "-.->" if dotted else "-->"
            text = ", ".join(sorted(labels))
            lines.append(f'    {a} {arrow}|"{_text(text)}"| {b}' if text else f"    {a} {arrow} {b}")
        return "\n".join(lines)

    def _order(self, path: tuple[str, ...]) -> tuple[str, int, str]:
        """Subgraphs in the order the program's code creates them (dependency order in __main__.py), then by name."""
        if not path:
            return ("", 0, "")
        component = self.components[path[-1]]
        file, line = source.split(component.source) if component.source else ("", 0)
        return (file, line, component.name)

    def where(self) -> list[tuple[str, str, str]]:
        """(box, subgraph, the files that make it), for the table below the diagram.

        Files, not lines: a committed diagram that named lines would go stale with every edit above them.
        """
        rows = []
        for box in self.boxes.values():
            files = sorted({source.split(m.source)[0] for m in box.members if m.source})
            made = ", ".join(f"[{file}](../../{file})" for file in files)
            subgraph = " / ".join(self.components[p].name for p in box.subgraph) or "(stack)"
            rows.append((re.sub(r"<br/>.*", "", box.label), subgraph, made))
        return rows


def _id(urn: str) -> str:
    return "c_" + re.sub(r"\W", "_", urn.split("::", 3)[-1])


def _text(text: str) -> str:
    return text.replace('"', "#quot;")


def document(recording: Recording) -> str:
    """The Markdown file of one stack: the diagram, then where in the code each box is made."""
    diagram = Diagram(recording)
    command = "python -m preflight.diagram --write"
    rows = "\n".join(f"| {label} | {subgraph} | {made} |" for label, subgraph, made in diagram.where())
    return (
        f"# Architecture of {recording.label}\n\n"
        f"Drawn from the preflight's recording of the stack (update preview); regenerate with `{command}`.\n"
        "Boxes are the resources worth drawing, one per type in a component, with a count; arrows are who\n"
        "reaches whom, from the property dependencies (DNS, WAF, origin, listener rules, security group rules,\n"
        "routes); dotted arrows are placement in subnets.\n\n"
        f"```mermaid\n{diagram.mermaid()}\n```\n\n"
        "| box | component | made in |\n|---|---|---|\n"
        f"{rows}\n"
    )


def targets() -> list[tuple[Project, str]]:
    return [(project, stack) for project in PROJECTS.values() for stack in project.stacks]


def path_of(project: Project, stack: str) -> Path:
    return DOCS / (f"{stack}.md" if project.key == "main" else f"{project.key}-{stack}.md")


def render(project: Project, stack: str) -> str:
    recorded = record(stack, "update", project=project)
    if recorded.error is not None:
        raise SystemExit(f"{project.key}/{stack}: the program failed:\n{recorded.error}")
    return document(recorded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight.diagram", description=__doc__.splitlines()[0] if __doc__ else None)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite docs/architecture/<stack>.md for every stack")
    action.add_argument("--check", action="store_true", help="fail when a committed diagram is stale")
    args = parser.parse_args(argv)
    stale = []
    for project, stack in targets():
        path, text = path_of(project, stack), render(project, stack)
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            stale.append(path.relative_to(ROOT).as_posix())
    if stale:
        print(f"stale: {', '.join(stale)}; run python -m preflight.diagram --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
