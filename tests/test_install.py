"""What the package declares: its version, dependencies by need, the supported pyspark
range, and lower bounds that are exactly what the compatibility environment runs."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pyspark
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # the compatibility environment runs the lowest Python the package declares
    import tomli as tomllib

import sparktune
from sparktune import SetupError
from sparktune.compat.extras import (
    EXTRAS,
    MissingExtraError,
    check_pyspark_version,
    require,
    version_tuple,
)

pytestmark = pytest.mark.compat

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOWEST = ROOT / "requirements" / "lowest.txt"


def name_of(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def floors() -> dict[str, str]:
    """Package -> the lower bound declared for it (core and every extra)."""
    declared = list(PROJECT["dependencies"])
    for extra in PROJECT["optional-dependencies"].values():
        declared += [r for r in extra if not r.startswith("sparktune")]
    found: dict[str, str] = {}
    for requirement in declared:
        bound = re.search(r">=\s*([0-9][^,;\s]*)", requirement)
        if bound:
            found.setdefault(name_of(requirement), bound.group(1))
    return found


def pins() -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in LOWEST.read_text().splitlines()]
    pairs = (line.split("==") for line in lines if "==" in line)
    return {name.lower(): version for name, version in pairs}


def test_version_comes_from_the_package_metadata():
    assert sparktune.__version__ == metadata.version("sparktune") == PROJECT["version"]
    shown = subprocess.run(
        [sys.executable, "-m", "sparktune", "--version"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert shown.startswith(f"sparktune {sparktune.__version__} (pyspark {pyspark.__version__}")


def test_the_core_install_names_no_pyspark_and_every_extra_exists():
    core = {name_of(r) for r in PROJECT["dependencies"]}
    assert "pyspark" not in core
    assert {"numpy", "pandas", "hyperopt", "pydantic"} <= core
    assert not core & {"mlflow", "xgboost", "optuna", "matplotlib", "scikit-learn"}
    extras = PROJECT["optional-dependencies"]
    wanted = {"spark", "connect", "mlflow", "xgboost", "optuna", "plots", "all", "dev"}
    assert wanted <= set(extras)
    assert set(EXTRAS.values()) <= set(extras)  # each error names an extra that exists
    everything = extras["all"][0]
    assert all(name in everything for name in set(extras) - {"all", "dev"})


def test_lowest_pins_are_the_declared_lower_bounds():
    declared, pinned = floors(), pins()
    assert set(pinned) <= set(declared), set(pinned) - set(declared)
    for name, version in pinned.items():
        assert declared[name] == version, (name, declared[name], version)
    missing = set(declared) - set(pinned)
    assert missing <= {
        "pytest",
        "tomli",
        "ruff",
        "import-linter",
        "jsonschema",
        "nbclient",
        "nbformat",
        "ipykernel",
        "ipywidgets",
    }, missing


def test_this_environment_runs_its_declared_versions():
    """Every installed dependency meets its floor; the pyspark 3.5 environment runs the pins."""
    for name, floor in floors().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        assert version_tuple(installed) >= version_tuple(floor), (name, installed, floor)
    if version_tuple(pyspark.__version__) < (4, 0):
        for name, version in pins().items():
            assert metadata.version(name) == version, name
        lowest_python = version_tuple(PROJECT["requires-python"].removeprefix(">="))
        assert sys.version_info[:2] == lowest_python[:2], (sys.version, lowest_python)


@pytest.mark.parametrize("version", ["3.5.0", "3.5.9", "4.0.1", "4.3.0", "4.1.0.dev0"])
def test_supported_pyspark_versions_pass(version):
    check_pyspark_version(version)


@pytest.mark.parametrize("version", ["3.4.4", "3.3.0", "5.0.0"])
def test_unsupported_pyspark_versions_are_refused_clearly(version):
    with pytest.raises(SetupError, match=f"supports pyspark 3.5.x and 4.x, but pyspark {version}"):
        check_pyspark_version(version)


def test_a_missing_module_names_its_extra(monkeypatch):
    """The message names the extra (the real absences run in tests/core_only)."""
    monkeypatch.setitem(EXTRAS, "sparktune_test_absent", "plots")
    with pytest.raises(
        MissingExtraError,
        match=r"the feature needs sparktune_test_absent, "
        r"which is not installed: pip install 'sparktune\[plots\]'",
    ) as raised:
        require("sparktune_test_absent.module", "the feature")
    assert isinstance(raised.value, ImportError)
