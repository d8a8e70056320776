"""The words a job spec may use: evaluator kinds and metrics, distributions, data formats.

The metrics are the evaluators' own (:data:`sparktune.spark.checks.METRICS`). Kept in one
place: the models (:mod:`sparktune.jobs.config.spec` and its sections), their
error messages and the JSON Schema all read them from here.
"""

from __future__ import annotations

from sparktune.spark.checks import METRICS

__all__ = ["DISTRIBUTIONS", "FORMATS", "METRICS", "NAME_PATTERN"]

#: Distributions of the search space and the arguments each takes (choice: a list of values).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "quniform": ("low", "high", "q"),
    "loguniform": ("low", "high"),
    "qloguniform": ("low", "high", "q"),
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "randint": ("low", "high"),
    "uniformint": ("low", "high"),
    "choice": (),
}

#: File formats ``data.format`` names (Spark's reader formats).
FORMATS = ("parquet", "csv", "json", "orc", "delta")

#: A stage name: the space names its params ``name.param``, so no dots.
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
