"""The type checker's configuration catches what pyright's basic mode caught, the mistakes that mocks let through."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from preflight import ROOT

# One mistake per line, each of a kind pyright's basic mode reports, and the pyrefly error that must name it.
PROBE = {
    "aws.ec2.VpcArgs(cidr_blok='10.0.0.0/16')": "unexpected-keyword",  # a misspelled Args key
    "aws.ec2.Vpc('v', cidr_block=16)": "no-matching-overload",  # a wrong type for a resource input
    "pulumi.ResourceOptions(protec=True)": "unexpected-keyword",
    "maybe().upper()": "missing-attribute",  # an Optional used as if set
    "print(undefined_name)": "unknown-name",
    "len(3)": "bad-argument-type",
    "'a' + 1": "unsupported-operation",
    "import no_such_module": "missing-import",
}
HEADER = """\
import pulumi
import pulumi_aws as aws


def maybe() -> str | None: ...


"""


def test_pyrefly_as_configured_reports_what_pyright_basic_did(tmp_path: Path) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pyrefly"]
    assert config["preset"] in ("default", "strict")
    lines = [f"def case_{i}() -> None:\n    {code}\n" for i, code in enumerate(PROBE)]
    (tmp_path / "probe.py").write_text(HEADER + "\n\n".join(lines))
    settings = {**config, "project-includes": ["probe.py"], "python-interpreter-path": sys.executable}
    (tmp_path / "pyrefly.toml").write_text("".join(f"{key} = {_toml(value)}\n" for key, value in settings.items()))
    result = subprocess.run(
        [Path(sys.executable).parent / "pyrefly", "check", "--output-format", "min-text"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    header_lines = HEADER.count("\n")
    found = {}  # line of the probe -> error kinds
    for line in result.stdout.splitlines():
        # ERROR probe.py:9:5-27: Unexpected keyword argument ... [unexpected-keyword]
        if line.startswith("ERROR"):
            where, kind = line.split(":")[1], line.rsplit("[", 1)[1].rstrip("]")
            found.setdefault(int(where), set()).add(kind)
    for i, (code, kind) in enumerate(PROBE.items()):
        assert kind in found.get(header_lines + 2 + 4 * i, set()), f"pyrefly missed {kind} in `{code}`: {result.stdout}"


def _toml(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return '"' + str(value) + '"'
