"""The architecture diagrams: drawn from the recordings, committed, and never stale."""

from __future__ import annotations

import pytest

from preflight import BOOTSTRAP, MAIN, STACKS
from preflight.diagram import Diagram, document, path_of
from settings.services import CATALOG
from tests.conftest import recording
from tests.kit import RecordedStack
from tests.test_findings import line_of

REGENERATE = "run `python -m preflight.diagram --write` and commit docs/architecture/"


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_diagram_is_the_one_the_program_draws(stack: str) -> None:
    path = path_of(MAIN, stack)
    assert path.exists() and path.read_text() == document(recording(stack)), f"{path.name} is stale: {REGENERATE}"


def test_the_committed_bootstrap_diagram_is_current() -> None:
    management = recording("management", "update", BOOTSTRAP)
    assert management.error is None, management.error
    path = path_of(BOOTSTRAP, "management")
    assert path.read_text() == document(management), f"{path.name} is stale: {REGENERATE}"
    # bootstrap's resources point into bootstrap/, its components to bootstrap's __main__.py.
    by_type = {r.type: r for r in management.registrations}
    assert by_type["aws:organizations/organization:Organization"].source == line_of(
        "bootstrap/organization.py", "aws.organizations.Organization("
    )
    assert by_type["kanna:bootstrap:Organization"].source == line_of("bootstrap/__main__.py", 'organization = Organization("organization"')
    diagram = Diagram(management)
    (provider,) = diagram.find("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "prod-ci")
    (roles,) = diagram.find("aws:iam/role:Role", "prod-ci")
    assert diagram.edge(provider, roles) == {"assumes"}  # GitHub's OIDC provider reaches the CI roles


def test_the_dev_diagram_reads_like_the_architecture(dev: RecordedStack) -> None:
    diagram = Diagram(dev.recording)
    (cdn,) = diagram.find("aws:cloudfront/distribution:Distribution")
    (alb,) = diagram.find("aws:lb/loadBalancer:LoadBalancer")
    wafs = {b.label: b for b in diagram.find("aws:wafv2/webAcl:WebAcl")}
    assert diagram.edge(cdn, alb) == {"origin"}  # through the origin record that aliases the ALB
    assert diagram.edge(wafs["WAF CLOUDFRONT"], cdn) == {"filters"} and diagram.edge(wafs["WAF REGIONAL"], alb) == {"filters"}
    stores = diagram.find("aws:rds/cluster:Cluster") + diagram.find("aws:elasticache/replicationGroup:ReplicationGroup")
    assert sorted(s.label for s in stores) == ["Aurora MySQL", "Aurora PostgreSQL", "ElastiCache Valkey"]
    (isolated,) = [b for b in diagram.find("aws:ec2/subnet:Subnet") if b.label.startswith("isolated")]
    (private,) = [b for b in diagram.find("aws:ec2/subnet:Subnet") if b.label.startswith("private")]
    for env in ("alpha", "beta", "gamma"):
        # One box per environment for its services, naming every service of the catalog.
        (services,) = diagram.find("aws:ecs/service:Service", f"dev-{env}")
        assert len(services.members) == len(CATALOG) and all(name in services.label for name in CATALOG)
        assert diagram.edge(alb, services) == {"listener rules"}
        assert diagram.edge(services, private, dotted=True) is not None
        # Security group rules: each environment's tasks reach each data store on its port.
        ports = {diagram.edge(services, store).pop() for store in stores}  # type: ignore[union-attr]
        assert ports == {"tcp 3306", "tcp 5432", "tcp 6379"}
    for store in stores:
        assert diagram.edge(store, isolated, dotted=True) is not None
    mermaid = diagram.mermaid()
    # Components are subgraphs; 1,000 resources become a few dozen boxes.
    for component in ("dev-network", "dev-data", "dev-platform", "dev-edge", "dev-alpha", "dev-firebase", "dev-analytics"):
        assert f'["{component} · ' in mermaid, component
    assert len(diagram.boxes) < 60 < len(dev.registrations)


def test_the_readme_links_every_diagram() -> None:
    from preflight import ROOT

    readme = (ROOT / "README.md").read_text()
    for project, stack in [(MAIN, s) for s in STACKS] + [(BOOTSTRAP, "management")]:
        assert f"]({path_of(project, stack).relative_to(ROOT).as_posix()})" in readme
