"""Nothing is replaced: every URN of the manifest taken before a move is still registered, or aliased.

A real `up` deletes each resource of the last state whose URN the program no longer registers, unless a new
registration names that URN as an alias (the engine's step generator). The manifests in tests/urns/ are
those URNs; `python -m preflight urns --write` rewrites them when a resource is removed on purpose.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from preflight import ACCOUNT, MAIN, PROJECTS, Project
from preflight.moves import MINIMUM_CLI, MOVES, Move, commands, copied_provider, moved, runbook_block, runbook_in_docs
from preflight.program import Recording, record
from preflight.urns import kept, manifest_path, missing, read, unaccounted, urns
from tests.conftest import recording

COMMITTED = [(project, stack) for project in PROJECTS.values() for stack in project.stacks]


@pytest.mark.parametrize(("project", "stack"), COMMITTED, ids=[stack for _, stack in COMMITTED])
def test_every_manifest_urn_is_registered_or_aliased(project: Project, stack: str) -> None:
    recorded = recording(stack, "update", project)
    assert recorded.error is None
    manifest = read(project, stack)
    assert manifest == sorted(set(manifest)), f"{manifest_path(project, stack).name} is not sorted and unique"
    gone = unaccounted(stack, manifest, recorded, lambda dest: recording(dest, "update", ACCOUNT))
    assert gone == [], "deleted in a real `up`: alias them, move them (preflight/moves.py), or rewrite the manifest if removed on purpose"


# --- Moves to the account baseline: `pulumi state move` (preflight/moves.py) ---------------------------------


def test_a_move_writes_the_destinations_stack_project_and_qualified_type() -> None:
    # What the CLI writes (state_move.go, with pulumi/pulumi#21953): a resource whose parent stays behind goes under the
    # destination's root stack, so its qualified type loses the old parent's; its children keep their own parent.
    audit = next(m for m in MOVES if m.source == "dev" and m.urn.endswith("::dev-audit"))
    taken = moved(audit, read(MAIN, "dev"))
    assert taken[audit.urn] == "urn:pulumi:dev-account::kanna-account::kanna:security:Audit::dev-audit"
    trail = "urn:pulumi:dev::kanna-infra::kanna:security:Security$kanna:security:Audit$aws:cloudtrail/trail:Trail::dev-trail"
    assert taken[trail] == "urn:pulumi:dev-account::kanna-account::kanna:security:Audit$aws:cloudtrail/trail:Trail::dev-trail"
    assert len(taken) == 13  # the component and its children: the trail, its role and policy, log group, bucket and its 7 parts
    assert copied_provider(audit) == "urn:pulumi:dev-account::kanna-account::pulumi:providers:aws::dev-aws"


def test_a_moved_resource_keeps_its_provider_in_the_destination() -> None:
    # `state move` copies the provider under the destination's stack and project, with its name: the account program's
    # provider of that URN takes the moved resources over, with no change of provider (which would replace them).
    for move in MOVES:
        dest = recording(move.dest, "update", ACCOUNT)
        registered = {r.urn: r for r in dest.registrations}
        assert copied_provider(move) in registered, move.urn
        for new in moved(move, read(MAIN, move.source)).values():
            (owner,) = [r for r in dest.registrations if new == r.urn or new in r.alias_urns]
            assert owner.provider.rsplit("::", 1)[0] == copied_provider(move) or not owner.custom, new


def test_moved_resources_leave_the_workload_stack_and_are_kept_by_the_destination() -> None:
    for move in MOVES:
        source = recording(move.source, "update")
        taken = moved(move, read(MAIN, move.source))
        assert not set(taken) & kept(source), f"{move.source} still registers what it moved: two owners after the move"
        assert set(taken.values()) <= kept(recording(move.dest, "update", ACCOUNT)), move.urn


def _without(recorded: Recording, urn: str) -> Recording:
    kept_ = [r for r in recorded.registrations if r.urn != urn and urn not in r.alias_urns]
    return Recording(recorded.stack, recorded.mode, kept_, project=recorded.project)


def test_the_manifest_check_fails_when_the_destination_lacks_a_moved_urn_or_the_source_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    manifest, dev = read(MAIN, "dev"), recording("dev", "update")
    password = next(m for m in MOVES if m.source == "dev" and m.urn.endswith("::dev-password-policy"))
    (new,) = moved(password, manifest).values()
    lacking = _without(recording("dev-account", "update", ACCOUNT), new)
    assert unaccounted("dev", manifest, dev, lambda _: lacking) == [password.urn]
    # A move the table records while the workload stack still registers the resource: both would own it.
    keys = next(u for u in manifest if u.endswith("::dev-keys"))
    monkeypatch.setattr("preflight.urns.MOVES", (*MOVES, Move("dev", "dev-account", keys, password.provider, "a test")))
    assert keys in unaccounted("dev", manifest, dev, lambda dest: recording(dest, "update", ACCOUNT))


def test_the_runbook_runs_the_moves_of_the_table() -> None:
    # docs/state.md shows `python -m preflight moves`: the same table, so the commands can't drift from the test.
    assert runbook_in_docs() == runbook_block(), "docs/state.md is stale: python -m preflight moves --write"
    (dev, prod) = commands()
    assert "\npulumi state move --source organization/kanna-infra/dev --dest organization/kanna-account/dev-account \\\n" in dev
    assert all(f"'{m.urn}'" in (dev if m.source == "dev" else prod) for m in MOVES)
    assert MINIMUM_CLI in runbook_block()


# A program small enough to read: a component with a child (whose URN carries its parent's type), and a group
# to move it into. `variant` says which version of the code runs.
PROGRAM = textwrap.dedent(
    """
    import pulumi

    class Box(pulumi.ComponentResource):
        def __init__(self, name, opts=None):
            super().__init__("test:index:Box", name, None, opts)
            part = pulumi.ComponentResource("test:index:Part", f"{name}-part", None, pulumi.ResourceOptions(parent=self))
            # Named after its parent: the engine carries a parent's alias to a child whose name starts with the
            # parent's name (inheritedChildAlias); a leaf named f"{name}-leaf" here would be replaced.
            pulumi.ComponentResource("test:index:Leaf", f"{name}-part-leaf", None, pulumi.ResourceOptions(parent=part))

    variant = pulumi.Config().require("variant")
    if variant == "before":
        Box("old")
    elif variant == "renamed":
        Box("new")
    elif variant == "aliased":
        Box("new", pulumi.ResourceOptions(aliases=[pulumi.Alias(name="old")]))
    elif variant in ("moved", "moved-aliased"):
        group = pulumi.ComponentResource("test:index:Group", "group")
        aliases = [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)] if variant == "moved-aliased" else []
        Box("old", pulumi.ResourceOptions(parent=group, aliases=aliases))
    """
)


def small(tmp_path: Path, variant: str) -> Recording:
    (tmp_path / "__main__.py").write_text(PROGRAM)
    project = Project("small", "small", tmp_path, ("test",))
    recorded = record("test", "update", {"small:variant": variant}, [], project)
    assert recorded.error is None, recorded.error
    return recorded


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return urns(small(tmp_path_factory.mktemp("before"), "before"))


def test_urns_qualify_a_grandchild_with_its_parents_full_type(before: list[str]) -> None:
    # The engine's rule (resource.NewURN with the parent's qualified type): the mock monitor kept only the last type.
    assert "urn:pulumi:test::small::test:index:Box$test:index:Part$test:index:Leaf::old-part-leaf" in before


def test_an_alias_spec_is_recorded_as_the_old_urn(tmp_path: Path) -> None:
    box = next(r for r in small(tmp_path, "aliased").registrations if r.type == "test:index:Box")
    # The SDK sends a spec (the monitor has the aliasSpecs feature), which the engine resolves: so does the recorder.
    assert box.aliases == [{"spec": {"name": "old", "parentUrn": ""}}]  # no parent given: the resource's own
    assert box.alias_urns == ["urn:pulumi:test::small::test:index:Box::old"]


@pytest.mark.parametrize(
    ("variant", "gone"),
    [
        ("renamed", ["Box::old", "Box$test:index:Part::old-part", "Box$test:index:Part$test:index:Leaf::old-part-leaf"]),
        ("aliased", []),  # the children inherit the parent's alias, with its name as their prefix
        ("moved", ["Box::old", "Box$test:index:Part::old-part", "Box$test:index:Part$test:index:Leaf::old-part-leaf"]),
        ("moved-aliased", []),
    ],
)
def test_the_manifest_check_fails_on_a_rename_or_move_without_alias(
    tmp_path: Path, before: list[str], variant: str, gone: list[str]
) -> None:
    assert missing(before, small(tmp_path, variant)) == sorted(f"urn:pulumi:test::small::test:index:{urn}" for urn in gone)
