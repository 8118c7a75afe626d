"""Each README command installs what its code imports: `make preflight` only requirements.txt, `make test` the dev file too.

Imports are read from the source (ast), mapped to the distributions that ship them, and compared with the
closure of the requirement files' dependencies in this virtualenv. So a module that works here only because
a dev tool happened to pull it in (jsonschema came with check-jsonschema) fails this test, not a fresh clone.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement

from preflight import ROOT

# What `make preflight` runs: the preflight, the programs it records and the pack it starts.
RUNTIME_CODE = ("preflight", "components", "settings", "policies", "bootstrap", "__main__.py")
DEV_CODE = ("tests", "benchmarks")


def _names(path: Path) -> set[str]:
    """The distributions a requirements file names, following `-r` includes."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r"):
            names |= _names(path.parent / line[2:].strip())
        elif line:
            names.add(Requirement(line).name)
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: set[str]) -> set[str]:
    """The distributions installed by `pip install` of `names`: their dependencies, transitively (no extras)."""
    seen: set[str] = set()
    todo = [_normal(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_normal(requirement.name))
    return seen


def _imports(*paths: str) -> dict[str, str]:
    """Top-level module -> the first file that imports it, for the third-party imports under `paths`."""
    local = {p.name.removesuffix(".py") for p in ROOT.iterdir()}
    found: dict[str, str] = {}
    files = [f for p in paths for f in ([ROOT / p] if p.endswith(".py") else (ROOT / p).rglob("*.py")) if "venv" not in f.parts]
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found.setdefault(top, str(file.relative_to(ROOT)))
    return found


_shipped_by = cache(importlib.metadata.packages_distributions)  # it reads every installed distribution's files


def _unrequired(imports: dict[str, str], installed: set[str]) -> list[str]:
    shipped_by = _shipped_by()
    return [
        f"{module} (imported by {file}; shipped by {', '.join(shipped_by.get(module, ['nothing installed']))})"
        for module, file in sorted(imports.items())
        if not {_normal(d) for d in shipped_by.get(module, [])} & installed
    ]


def test_runtime_code_imports_only_what_requirements_txt_installs() -> None:
    installed = _closure(_names(ROOT / "requirements.txt"))
    imports = _imports(*RUNTIME_CODE)
    assert {"pulumi", "pulumi_aws", "pulumi_policy", "jsonschema"} <= set(imports)  # the scan sees the code
    assert _unrequired(imports, installed) == []


def test_tests_import_only_what_the_dev_requirements_install() -> None:
    installed = _closure(_names(ROOT / "requirements-dev.txt"))
    assert _unrequired(_imports(*DEV_CODE), installed) == []


def test_the_pack_imports_only_its_own_requirements() -> None:
    # The CLI installs policies/requirements.txt into the pack's own virtualenv.
    installed = _closure(_names(ROOT / "policies" / "requirements.txt"))
    assert _unrequired(_imports("policies"), installed) == []
