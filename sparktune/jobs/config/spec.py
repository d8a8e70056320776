"""The typed job spec: what a valid YAML job spec becomes, and the mistakes found in one."""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.ml.evaluation import Evaluator

from sparktune.core.errors import ValidationError
from sparktune.core.settings import DEFAULT_FOLDS, ErrorPolicy

#: Evaluator kinds and the metric names Spark accepts for each.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "regression": ("RegressionEvaluator", ("rmse", "mse", "r2", "mae", "var")),
    "binary": ("BinaryClassificationEvaluator", ("areaUnderROC", "areaUnderPR")),
    "multiclass": (
        "MulticlassClassificationEvaluator",
        (
            "f1",
            "accuracy",
            "weightedPrecision",
            "weightedRecall",
            "weightedTruePositiveRate",
            "weightedFalsePositiveRate",
            "weightedFMeasure",
            "truePositiveRateByLabel",
            "falsePositiveRateByLabel",
            "precisionByLabel",
            "recallByLabel",
            "fMeasureByLabel",
            "logLoss",
            "hammingLoss",
        ),
    ),
    "clustering": ("ClusteringEvaluator", ("silhouette",)),
}

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

FORMATS = ("parquet", "csv", "json", "orc", "delta")
ERROR_POLICIES = tuple(p.value for p in ErrorPolicy)


@dataclass(frozen=True)
class Problem:
    """One mistake in a spec: where (a key path) and what was expected."""

    path: str
    message: str


class SpecError(ValidationError):
    """A job spec with mistakes; ``problems`` lists every one, each with its key path."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"{source}: {count} problem{'s' if count != 1 else ''} in the job spec:"]
        lines += [f"  {source}: {p.path or '(top)'}: {p.message}" for p in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class DataSpec:
    """The data to tune on: a bundled data set or a path and format, and the label column."""

    label: str
    dataset: str | None = None
    path: str | None = None
    format: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    scale: int = 1
    sample: float | None = None
    limit: int | None = None


@dataclass(frozen=True)
class StageSpec:
    """One pipeline stage: its name (its uid and its prefix in the space), class and params."""

    name: str
    class_path: str
    cls: type
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Distribution:
    """A hyperopt distribution given in the spec, in natural (not log) units for log ones."""

    kind: str
    args: tuple[Any, ...]

    def to_hyperopt(self, label: str) -> Any:
        """The equivalent ``hyperopt.hp`` expression, labelled ``label``."""
        from hyperopt import hp

        if self.kind == "choice":
            return hp.choice(label, list(self.args))
        if self.kind in ("loguniform", "qloguniform"):
            low, high, *q = self.args
            return getattr(hp, self.kind)(label, math.log(low), math.log(high), *q)
        return getattr(hp, self.kind)(label, *self.args)


@dataclass(frozen=True)
class MetricSpec:
    """An evaluator: its kind (``regression`` ...), metric name and further evaluator params."""

    kind: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def evaluator_class(self) -> type[Evaluator]:
        """The ``pyspark.ml.evaluation`` class that computes this metric."""
        module = importlib.import_module("pyspark.ml.evaluation")
        return getattr(module, METRICS[self.kind][0])


@dataclass(frozen=True)
class SearchSpec:
    """What to try: strategy, space (name -> grid values or a distribution) and limits."""

    strategy: str
    space: Mapping[str, list[Any] | Distribution]
    max_trials: int | None = None
    parallelism: int = 1
    seed: int = 0
    early_stopping: int | None = None
    timeout: float | None = None
    error_policy: str = "continue"

    def hyperopt_space(self) -> dict[str, Any]:
        """The space as :func:`sparktune.tune` takes it: lists and ``hp.*`` expressions."""
        return {
            name: value.to_hyperopt(name) if isinstance(value, Distribution) else list(value)
            for name, value in self.space.items()
        }


@dataclass(frozen=True)
class EvaluationSpec:
    """How candidates are scored: folds or one split, the primary and extra metrics."""

    metric: MetricSpec
    extra_metrics: tuple[MetricSpec, ...] = ()
    folds: int | None = DEFAULT_FOLDS
    train_ratio: float | None = None
    fold_col: str | None = None
    train_metrics: bool = True


@dataclass(frozen=True)
class TrackingSpec:
    """Where the search is logged in MLflow (``enabled: false`` turns it off)."""

    enabled: bool = True
    experiment: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    """Where the refit best model (``PipelineModel.save``), the results CSV and the checkpoint
    (``sparktune run --resume``) are written."""

    model: str | None = None
    results: str | None = None
    checkpoint: str | None = None


@dataclass(frozen=True)
class SparkSpec:
    """The Spark master and conf for ``sparktune run`` (``submit`` passes them to spark-submit)."""

    master: str | None = None
    conf: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobSpec:
    """A whole validated job spec; ``source`` is the file it was read from."""

    source: str
    data: DataSpec
    stages: tuple[StageSpec, ...]
    search: SearchSpec
    evaluation: EvaluationSpec
    tracking: TrackingSpec
    output: OutputSpec
    spark: SparkSpec
