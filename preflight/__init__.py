"""Offline preflight: the real program under Pulumi's mock runtime, checked by the real policy pack over gRPC.

`python -m preflight --all` runs every stack twice: as an update preview (existing resources, ids and
ARNs known) and as a first preview (nothing exists yet: ids, ARNs and computed outputs unknown).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACKS: tuple[str, ...] = ("dev", "prod")
MODES: tuple[str, ...] = ("update", "first")
