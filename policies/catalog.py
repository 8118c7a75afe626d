"""Every policy of the pack, in the order the pack lists them. Importing this starts no server (policies/__main__.py
builds the PolicyPack); the docs generator and the tests read the catalog from here."""

from pulumi_policy import Policy

from . import budget, compute, data, deploy, edge, gcp, governance, identity, network, observability, security
from ._lib import CATALOG, FAMILIES, PolicyInfo

POLICIES: list[Policy] = [
    *network.POLICIES,
    *compute.POLICIES,
    *deploy.POLICIES,
    *edge.POLICIES,
    *data.POLICIES,
    *security.POLICIES,
    *observability.POLICIES,
    *gcp.POLICIES,
    *governance.POLICIES,
    *identity.POLICIES,
    *budget.POLICIES,
]


def infos() -> list[PolicyInfo]:
    """The pack's policies' ids, controls and texts, sorted by id."""
    return sorted((CATALOG[p.name] for p in POLICIES), key=lambda info: (FAMILIES.index(info.family), info.id))
