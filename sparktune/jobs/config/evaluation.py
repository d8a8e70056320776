"""``evaluation``: how candidates are scored: k folds or one split, and the metrics."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from pyspark.ml.evaluation import Evaluator

from sparktune.core.settings import DEFAULT_FOLDS, DEFAULT_TRAIN_RATIO, Split
from sparktune.jobs.config.classes import class_params, param_problems
from sparktune.jobs.config.constants import METRICS
from sparktune.jobs.config.errors import describe
from sparktune.jobs.config.estimator import Scoring
from sparktune.jobs.config.fields import Flag, Folds, OpenFraction, Params, Text
from sparktune.jobs.config.section import Finding, Section, expect, issue, one_of
from sparktune.jobs.config.suggest import did_you_mean
from sparktune.spark.tasks import missing_input_problem, read_param, task_problem


def _metric_names(kind: str) -> Any:
    return one_of(METRICS[kind][1]) | None


class MetricSpec(Section):
    """An evaluator: one kind (regression, binary, multiclass, clustering) set to a metric
    name, and further evaluator params."""

    regression: _metric_names("regression") = None
    """A RegressionEvaluator metric (smaller is better except r2 and var)."""
    binary: _metric_names("binary") = None
    """A BinaryClassificationEvaluator metric."""
    multiclass: _metric_names("multiclass") = None
    """A MulticlassClassificationEvaluator metric."""
    clustering: _metric_names("clustering") = None
    """A ClusteringEvaluator metric."""
    params: Params = {}
    """Further evaluator params, e.g. rawPredictionCol (labelCol defaults to data.label)."""

    @classmethod
    def prepare(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Refuse anything but exactly one evaluator kind (and params)."""
        kinds = [key for key in raw if key != "params"]
        if len(kinds) != 1 or kinds[0] not in METRICS:
            raise issue(
                f"expected one evaluator kind of {list(METRICS)} (e.g. {{regression: rmse}}), "
                f"got keys {list(raw)}"
            )
        return raw

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """Params the evaluator does not declare, or values their types refuse."""
        params = raw.get("params")
        kind = next(key for key in raw if key != "params")
        if raw[kind] not in METRICS[kind][1] or not isinstance(params, dict):
            return []
        found = param_problems(_evaluator(kind), params)
        return [(("params", key), message) for key, message in found]

    @property
    def kind(self) -> str:
        """The evaluator kind: ``regression``, ``binary``, ``multiclass`` or ``clustering``."""
        return next(kind for kind in METRICS if getattr(self, kind) is not None)

    @property
    def name(self) -> str:
        """The metric name, e.g. ``rmse``."""
        return getattr(self, self.kind)

    @property
    def evaluator_class(self) -> type[Evaluator]:
        """The ``pyspark.ml.evaluation`` class that computes this metric."""
        return _evaluator(self.kind)


def _evaluator(kind: str) -> type[Evaluator]:
    return getattr(importlib.import_module("pyspark.ml.evaluation"), METRICS[kind][0])


_ALL_NAMES = [name for _, names in METRICS.values() for name in names]
#: Every Spark ML evaluator metric name.
SPARK_METRICS = frozenset(_ALL_NAMES)


def _by_name(value: Any) -> Any:
    """``rmse`` -> ``{regression: rmse}`` (the first kind that has it)."""
    if isinstance(value, str):
        kinds = [kind for kind, (_, names) in METRICS.items() if value in names]
        if not kinds:
            hint = did_you_mean(value, _ALL_NAMES) or f"; expected one of {_ALL_NAMES}"
            raise issue(f"unknown metric {value!r}{hint}")
        return {kinds[0]: value}
    if not isinstance(value, dict | MetricSpec):
        raise issue(f"expected a metric name (rmse) or {{regression: rmse}}, got {describe(value)}")
    return value


#: A metric by name (``rmse``) or by kind (``{binary: areaUnderPR, params: {...}}``); in the
#: JSON Schema also any string, as an estimator job's ``metric`` is a scikit-learn scorer name.
Metric = Annotated[
    MetricSpec,
    BeforeValidator(_by_name, json_schema_input_type=Literal[tuple(_ALL_NAMES)] | MetricSpec | str),
]


class EvaluationSpec(Section):
    """How candidates are scored: folds or one split, the primary and extra metrics."""

    metric: Metric | None = None
    """The metric the search optimizes. A pipeline's: a name (rmse) or {kind: name, params:
    {...}}, whether larger is better from the evaluator; an estimator's: a scikit-learn
    scorer name, e.g. neg_root_mean_squared_error (larger is better)."""
    scoring: Scoring | None = None
    """Deprecated: write metric. The scikit-learn scorer name an estimator's search
    optimizes, e.g. neg_root_mean_squared_error (larger is better)."""
    extra_metrics: Annotated[tuple[Metric, ...], expect("a list of metrics")] = ()
    """Further metrics recorded for every trial."""
    folds: Folds | None = None
    """k-fold cross-validation with this many folds (the default, 3, unless train_ratio)."""
    train_ratio: OpenFraction | None = Field(None, examples=[DEFAULT_TRAIN_RATIO])
    """One random split instead of folds: the training share."""
    fold_col: Text | None = None
    """An integer column that numbers the folds (with folds)."""
    train_metrics: Flag = True
    """Also score the training folds."""

    def split(self) -> Split:
        """The :class:`~sparktune.Split` ``tune`` and ``tune_groups`` take for this section."""
        if self.train_ratio is not None:
            return Split(train_ratio=self.train_ratio)
        return Split(num_folds=self.folds or DEFAULT_FOLDS, fold_col=self.fold_col)

    @classmethod
    def prepare(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """k-fold with DEFAULT_FOLDS folds unless a split is asked for."""
        return raw if "train_ratio" in raw else {"folds": DEFAULT_FOLDS, **raw}

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """Folds or one split, not both; fold_col numbers folds; one metric or scoring."""
        if "metric" in raw and "scoring" in raw:
            yield (
                ("scoring",),
                "give `metric` (a Spark ML pipeline's) or `scoring` (a scikit-learn "
                "estimator's), not both",
            )
        if "folds" in raw and "train_ratio" in raw:
            yield (), "give `folds` (k-fold) or `train_ratio` (one split), not both"
        if "fold_col" in raw and "train_ratio" in raw:
            yield (
                ("fold_col",),
                "`fold_col` numbers k-fold folds; it needs `folds`, not `train_ratio`",
            )


def task_problems(
    evaluation: Any, names: list[str], classes: Mapping[str, type], label: Any
) -> Iterable[Finding]:
    """Metrics that do not suit the pipeline's final estimator (from the classes, no Spark):
    a classification metric of a regressor, a regression metric of a classifier, or a metric
    reading a column the final estimator does not make. Locations are relative to
    ``evaluation``; nothing is checked while a stage or the metric is itself broken."""
    if not isinstance(evaluation, dict) or len(classes) < len(names):
        return
    predicting = [n for n in names if "predictionCol" in class_params(classes[n])]
    if not predicting:
        return
    name, cls = predicting[-1], classes[predicting[-1]]
    extra = evaluation.get("extra_metrics")
    metrics = [(("metric",), evaluation.get("metric"))]
    extra = extra if isinstance(extra, list) else []
    metrics += [(("extra_metrics", i), m) for i, m in enumerate(extra)]
    for loc, raw in metrics:
        try:
            metric = MetricSpec.model_validate(_by_name(raw))
        except Exception:
            continue
        kind = METRICS[metric.kind][0]
        problem = task_problem(kind, metric.name, label, name, cls)
        param = read_param(kind, metric.name)
        if problem is None and param and param not in metric.params and not hasattr(cls, param):
            column = param.removesuffix("Col")  # the evaluators' default column name
            problem = missing_input_problem(kind, metric.name, param, column, label, name, cls)
        if problem is not None:
            yield loc, problem
