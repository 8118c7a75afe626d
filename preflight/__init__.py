"""Offline preflight: the real program under Pulumi's mock runtime, checked by the real policy pack over gRPC.

`python -m preflight --all` runs every stack of every project twice: as an update preview (existing
resources, ids and ARNs known) and as a first preview (nothing exists yet: ids, ARNs and computed outputs
unknown). The projects are the main program, `bootstrap/` (the management account's own program) and `account/`
(each workload account's baseline: what exists once per account).
"""

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACKS: tuple[str, ...] = ("dev", "prod", "prod-dr")
MODES: tuple[str, ...] = ("update", "first")


@dataclass(frozen=True)
class Project:
    """A Pulumi project in this repository: its directory (with Pulumi.yaml) and its committed stacks."""

    key: str  # what `--project` takes
    name: str  # the `name:` in Pulumi.yaml, which prefixes its config keys and its URNs
    directory: Path
    stacks: tuple[str, ...]


MAIN = Project("main", "kanna-infra", ROOT, STACKS)
BOOTSTRAP = Project("bootstrap", "kanna-bootstrap", ROOT / "bootstrap", ("management",))
# What exists once per workload account (account/): one stack per account, named after the workload stack it serves.
ACCOUNT = Project("account", "kanna-account", ROOT / "account", ("dev-account", "prod-account"))
PROJECTS: dict[str, Project] = {p.key: p for p in (MAIN, BOOTSTRAP, ACCOUNT)}
