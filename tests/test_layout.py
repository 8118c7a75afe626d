"""The code's shape (issue 17): components by layer, keyword-only args, and a `__main__.py` that reads like the diagram."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

from preflight import ROOT

LAYERS = {"lib", "network", "security", "data", "edge", "platform", "observability", "gcp", "dr"}


def _modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for path in (ROOT / "components").rglob("*.py")
    )


def test_main_reads_like_the_diagram_in_60_lines_or_fewer() -> None:
    lines = (ROOT / "__main__.py").read_text().splitlines()
    assert len(lines) <= 60, f"__main__.py has {len(lines)} lines: move logic into the components"
    steps = [line.split(":")[0].removeprefix("# ") for line in lines if line[:4].removeprefix("# ")[:1].isdigit()]
    assert steps[0] == "1. Settings" and steps[-1].endswith("Exports"), steps


def test_components_are_packages_by_layer() -> None:
    flat = [p.name for p in (ROOT / "components").glob("*.py") if p.name != "__init__.py"]
    assert flat == [], f"components/ holds layers only, not modules: {flat}"
    assert {p.name for p in (ROOT / "components").iterdir() if p.is_dir() and p.name != "__pycache__"} == LAYERS


def test_every_args_class_is_a_frozen_keyword_only_dataclass() -> None:
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not cls_name.endswith("Args"):
                continue
            found.append(cls_name)
            params = getattr(cls, "__dataclass_params__", None)
            assert params is not None and params.frozen, f"{name}.{cls_name}: a frozen dataclass"
            assert all(f.kw_only for f in dataclasses.fields(cls)), f"{name}.{cls_name}: keyword-only fields"
    assert {"ContainerServiceArgs", "EdgeArgs", "EnvironmentArgs", "PlatformArgs"} <= set(found)


def test_container_service_args_come_in_a_few_typed_parts() -> None:
    from components.platform.service.container_service import ContainerServiceArgs

    assert len(dataclasses.fields(ContainerServiceArgs)) <= 11  # was 31 fields side by side


def test_the_readme_table_lists_every_component_module_under_its_package() -> None:
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2]
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("| `components/")
    }
    for path in (ROOT / "components").rglob("*.py"):
        if path.name == "__init__.py" or path.parent == ROOT / "components":
            continue
        package = f"{path.parent.relative_to(ROOT)}/"
        assert path.stem in rows.get(package, ""), f"README: {path.stem} missing from the {package} row"
