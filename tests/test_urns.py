"""Nothing is replaced: every URN of the manifest taken before a move is still registered, or aliased.

A real `up` deletes each resource of the last state whose URN the program no longer registers, unless a new
registration names that URN as an alias (the engine's step generator). The manifests in tests/urns/ are
those URNs; `python -m preflight urns --write` rewrites them when a resource is removed on purpose.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from preflight import PROJECTS, Project
from preflight.program import Recording, record
from preflight.urns import manifest_path, missing, read, urns
from tests.conftest import recording

COMMITTED = [(project, stack) for project in PROJECTS.values() for stack in project.stacks]


@pytest.mark.parametrize(("project", "stack"), COMMITTED, ids=[stack for _, stack in COMMITTED])
def test_every_manifest_urn_is_registered_or_aliased(project: Project, stack: str) -> None:
    recorded = recording(stack, "update", project)
    assert recorded.error is None
    manifest = read(project, stack)
    assert manifest == sorted(set(manifest)), f"{manifest_path(project, stack).name} is not sorted and unique"
    assert missing(manifest, recorded) == [], "deleted in a real `up`: alias them, or rewrite the manifest if removed on purpose"


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
