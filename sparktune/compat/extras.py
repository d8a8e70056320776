"""Optional dependencies: which extra brings each, and the supported pyspark range.

The core install names no pyspark (a cluster's own must never be replaced) and none of
MLflow, XGBoost, Optuna, scikit-learn or matplotlib. A feature whose dependency is missing
calls :func:`require`, which raises :class:`MissingExtraError` naming the extra to install,
never an ImportError from deep inside. Importing sparktune checks pyspark's version first
(:data:`PYSPARK_VERSION`).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from types import ModuleType

from sparktune.core.errors import SetupError

#: The pyspark versions sparktune supports: 3.5.x and 4.x (the two CI environments).
SUPPORTED_PYSPARK = ((3, 5), (5, 0))

#: The extra that installs each optional top-level module.
EXTRAS = {
    "pyspark": "spark",
    "mlflow": "mlflow",
    "xgboost": "xgboost",
    "optuna": "optuna",
    "cmaes": "optuna",
    "sklearn": "sklearn",
    "matplotlib": "plots",
    "grpc": "connect",
}


class MissingExtraError(SetupError, ImportError):
    """A feature needs an optional dependency that is not installed; names the extra."""


def available(module: str) -> bool:
    """Whether ``module`` (a top-level name such as ``"mlflow"``) can be imported."""
    return importlib.util.find_spec(module) is not None


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise :class:`MissingExtraError` naming its extra."""
    top = module.split(".")[0]
    if not available(top):
        extra = EXTRAS.get(top, top)
        raise MissingExtraError(
            f"{feature} needs {top}, which is not installed: pip install 'sparktune[{extra}]'."
        )
    return importlib.import_module(module)


def version_tuple(version: str) -> tuple[int, int]:
    """``(major, minor)`` of a version string such as ``"3.5.1"`` or ``"4.1.0.dev0"``."""
    numbers = re.findall(r"\d+", version)[:2]
    return int(numbers[0]), int(numbers[1]) if len(numbers) > 1 else 0


def check_pyspark_version(version: str) -> None:
    """Raise :class:`SetupError` unless pyspark ``version`` is in :data:`SUPPORTED_PYSPARK`."""
    low, high = SUPPORTED_PYSPARK
    if not low <= version_tuple(version) < high:
        raise SetupError(
            f"sparktune supports pyspark 3.5.x and 4.x, but pyspark {version} is installed. "
            "Use a Spark runtime with pyspark 3.5 or 4.x, or pip install 'sparktune[spark]'."
        )


def check_pyspark() -> str:
    """pyspark's version, after checking it is installed and supported."""
    version = str(require("pyspark", "sparktune").__version__)
    check_pyspark_version(version)
    return version


#: The installed pyspark's version, checked when sparktune is imported.
PYSPARK_VERSION = check_pyspark()
