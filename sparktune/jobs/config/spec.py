"""The job spec: one pydantic model per section of the YAML file, and the whole spec.

These models are the single definition of the spec's structure: ``sparktune validate``
checks a file with them and ``sparktune schema`` prints their JSON Schema for editors.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PrivateAttr, ValidationInfo, model_validator

from sparktune.core.errors import ValidationError
from sparktune.core.schedulers import FOLDS
from sparktune.core.settings import fold_split
from sparktune.jobs.config.data import DataSpec
from sparktune.jobs.config.estimator import EstimatorSpec, built, estimator_space_problems
from sparktune.jobs.config.evaluation import SPARK_METRICS, EvaluationSpec, task_problems
from sparktune.jobs.config.fields import Flag, Settings, Text
from sparktune.jobs.config.groups import GroupsSpec
from sparktune.jobs.config.pipeline import PipelineSpec, StageSpec, stage_classes
from sparktune.jobs.config.scheduler import built_scheduler, scheduler_problems
from sparktune.jobs.config.search import (
    SearchSpec,
    space_problems,
)
from sparktune.jobs.config.section import Finding, Section, issue
from sparktune.spark.local_checks import scorer_problem
from sparktune.spark.resources import resolve_sklearn_scheduler
from sparktune.tracking import Tracking


def _tracking_uri(uri: str) -> str:
    try:
        Tracking(uri=uri)
    except ValidationError as exc:
        raise issue(str(exc)) from None
    return uri


class TrackingSpec(Section):
    """Where the search is logged in MLflow (``enabled: false`` turns it off)."""

    enabled: Flag = True
    """Log the search (a parent run, one child run per trial) to MLflow."""
    experiment: Text | None = None
    """The MLflow experiment (default: MLflow's)."""
    uri: Annotated[Text, AfterValidator(_tracking_uri)] | None = None
    """The tracking URI, e.g. sqlite:///mlflow.db or http://127.0.0.1:5000 (default:
    MLflow's, ./mlflow.db)."""

    def build(self) -> Tracking | bool:
        """The ``tracking`` argument of ``tune`` and ``tune_groups`` (False when disabled)."""
        return Tracking(self.uri, self.experiment) if self.enabled else False


class OutputSpec(Section):
    """Where the refit best model (``PipelineModel.save``, or a joblib file for an estimator),
    the results CSV and the checkpoint (``sparktune run --resume``) are written."""

    model: Text | None = None
    """The best pipeline refit on all the data (a directory, overwritten); for an estimator
    a joblib file; per group, a directory with one joblib file per group and index.json."""
    results: Text | None = None
    """The results table (CSV), one row per trial (per group: one row per group)."""
    checkpoint: Text | None = None
    """Finished trials, for --resume (default: checkpoint.json beside results or model); per
    group, a folder with one file per finished group (default: checkpoint/ beside them)."""


def _connect_address(value: str) -> str:
    if not value.startswith("sc://") or len(value) <= len("sc://"):
        raise issue(f"expected a Spark Connect address such as sc://host:15002, got {value!r}")
    return value


class SparkSpec(Section):
    """The Spark master and conf for ``sparktune run`` (``submit`` passes them to spark-submit)."""

    master: Text | None = None
    """The Spark master, e.g. local[4] (default: embedded local Spark)."""
    remote: Annotated[Text, AfterValidator(_connect_address)] | None = None
    """A Spark Connect server to run on instead, e.g. sc://host:15002 (not with master)."""
    conf: Settings = {}
    """Spark conf, e.g. {spark.driver.memory: 8g}."""

    @model_validator(mode="after")
    def _one_place(self) -> SparkSpec:
        if self.master is not None and self.remote is not None:
            raise issue("give `master` (classic Spark) or `remote` (Spark Connect), not both")
        return self


class JobSpec(Section):
    """A sparktune job: the data, the pipeline, the search space, how candidates are scored,
    and where results go. Run it with `sparktune run`; check it with `sparktune validate`."""

    model_config = Section.model_config | {
        "json_schema_extra": {"oneOf": [{"required": ["pipeline"]}, {"required": ["estimator"]}]}
    }

    data: DataSpec
    """The data to tune on."""
    pipeline: PipelineSpec | None = None
    """The pyspark.ml pipeline to tune (or an estimator instead)."""
    estimator: EstimatorSpec | None = None
    """A scikit-learn-compatible estimator to tune instead of a pipeline: each (trial x fold)
    is one Spark task on a copy of the collected data."""
    groups: GroupsSpec | None = None
    """Tune the estimator once per group of rows instead (one model per group)."""
    search: SearchSpec
    """The search: strategy, space and limits."""
    evaluation: EvaluationSpec
    """How candidates are scored."""
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    """MLflow tracking (on by default)."""
    output: OutputSpec = Field(default_factory=OutputSpec)
    """Where the best model, the results table and the checkpoint go."""
    spark: SparkSpec = Field(default_factory=SparkSpec)
    """Spark settings for sparktune run and submit."""

    _source: str = PrivateAttr("<spec>")

    @classmethod
    def prepare(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """An estimator's scorer is ``evaluation.metric`` too (one name for the scorer);
        ``evaluation.scoring``, its old spelling, is kept with a DeprecationWarning."""
        evaluation = raw.get("evaluation")
        if "estimator" not in raw or not isinstance(evaluation, dict):
            return raw
        if "scoring" in evaluation:
            warnings.warn(
                "evaluation.scoring is deprecated; write `metric:` (for an estimator, a "
                "scikit-learn scorer name).",
                DeprecationWarning,
                stacklevel=2,
            )
            return raw
        metric = evaluation.get("metric")
        if not isinstance(metric, str):
            return raw
        from sklearn.metrics import get_scorer_names

        if metric in SPARK_METRICS and metric not in get_scorer_names():
            return raw  # check() says a Spark evaluator's metric does not score an estimator
        renamed = {k: v for k, v in evaluation.items() if k != "metric"}
        return {**raw, "evaluation": {**renamed, "scoring": metric}}

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """A pipeline or an estimator, and the keys that go with it; the space's names (and
        the scheduler's resource) against the pipeline's stages or the estimator's params."""
        if "pipeline" in raw and "estimator" in raw:
            yield (), "give `pipeline` (Spark ML stages) or `estimator` (scikit-learn), not both"
        elif "pipeline" not in raw and "estimator" not in raw:
            yield (
                ("pipeline",),
                "missing; one of `pipeline` (Spark ML stages) or `estimator` (scikit-learn) "
                "is required",
            )
        if "estimator" in raw:
            yield from _estimator_problems(raw)
        else:
            yield from _pipeline_problems(raw)
        yield from _fold_scheduler_problems(raw)

    @model_validator(mode="after")
    def _remember_source(self, info: ValidationInfo) -> JobSpec:
        if info.context and "source" in info.context:
            self._source = info.context["source"]
        return self

    @property
    def source(self) -> str:
        """The file the spec was read from (``<spec>`` if none)."""
        return self._source

    @property
    def stages(self) -> tuple[StageSpec, ...]:
        """The pipeline's stages, in order (none for an estimator)."""
        return self.pipeline.stages if self.pipeline is not None else ()


def _mapping(raw: dict[str, Any], key: str) -> dict[str, Any]:
    """The raw section ``key`` without its null keys (not given), or {} if not a mapping."""
    value = raw.get(key)
    return {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else {}


def _given(section: str, raw: dict[str, Any], keys: Iterable[str], why: str) -> Iterable[Finding]:
    """A finding for each of ``keys`` given in the raw ``section``, saying ``why`` not."""
    for key in keys:
        if key in raw:
            yield (section, key), why


def _pipeline_problems(raw: dict[str, Any]) -> Iterable[Finding]:
    """A pipeline job: its metric, no estimator-only keys, space names against the stages."""
    data, search, evaluation = (_mapping(raw, key) for key in ("data", "search", "evaluation"))
    if "groups" in raw:
        yield ("groups",), "one model per group needs a scikit-learn `estimator`, not `pipeline`"
    why = "applies to a scikit-learn `estimator` only; a pipeline's stages name their columns"
    yield from _given("data", data, ("features", "max_collect_rows"), why)
    if "scoring" in evaluation:
        yield (
            ("evaluation", "scoring"),
            "a scikit-learn scorer scores an `estimator`; a pipeline takes `metric` (e.g. rmse)",
        )
    elif isinstance(raw.get("evaluation"), dict) and "metric" not in evaluation:
        yield ("evaluation", "metric"), "missing; this key is required (e.g. metric: rmse)"
    names, classes = stage_classes(raw.get("pipeline"))
    for loc, message in task_problems(evaluation, names, classes, data.get("label")):
        yield ("evaluation", *loc), message
    space = search.get("space")
    for loc, message in space_problems(space, names, classes):
        yield ("search", "space", *loc), message
    for loc, message in scheduler_problems(search.get("scheduler"), space, names, classes):
        yield ("search", "scheduler", *loc), message


def _fold_scheduler_problems(raw: dict[str, Any]) -> Iterable[Finding]:
    """A scheduler over folds (racing, median) against the evaluation's split: it needs
    k-fold, with more folds (times repeats) than racing's burn-in."""
    scheduler = built_scheduler(_mapping(raw, "search").get("scheduler"))
    if scheduler is None or scheduler.axis != FOLDS:
        return
    try:
        split = EvaluationSpec.model_validate(_mapping(raw, "evaluation")).split()
    except Exception:  # reported by the evaluation's own section
        return
    try:
        fold_split(split, scheduler)
    except ValidationError as exc:
        yield ("search", "scheduler", "type"), str(exc)


def _estimator_problems(raw: dict[str, Any]) -> Iterable[Finding]:
    """An estimator job: a scorer, no pipeline-only keys (nor, per group, max_collect_rows),
    space names against ``get_params(deep=True)``, the scheduler's resource."""
    data, search, evaluation = (_mapping(raw, key) for key in ("data", "search", "evaluation"))
    if "metric" in evaluation:
        yield (
            ("evaluation", "metric"),
            "an `estimator` is scored by a scikit-learn scorer name (e.g. metric: "
            "neg_root_mean_squared_error), not by a Spark evaluator's metric",
        )
    elif isinstance(raw.get("evaluation"), dict) and "scoring" not in evaluation:
        yield (
            ("evaluation", "metric"),
            "missing; an `estimator` needs a scikit-learn scorer name, e.g. metric: r2",
        )
    spark_only = "applies to Spark ML pipelines only"
    yield from _given("evaluation", evaluation, ("extra_metrics", "fold_col"), spark_only)
    groups = raw.get("groups")
    if isinstance(groups, dict):
        yield from _given(
            "data", data, ("max_collect_rows",), "is not used per group: nothing is collected"
        )
        keys = groups.get("group_by")
        if isinstance(keys, list) and data.get("label") in keys:
            yield ("groups", "group_by"), f"the label {data['label']!r} cannot be a group column"
    estimator = built(raw.get("estimator"))
    scoring = evaluation.get("scoring")
    if estimator is not None and isinstance(scoring, str):
        problem = scorer_problem(scoring, estimator, data.get("label"))
        if problem is not None:
            yield ("evaluation", "scoring"), problem
    if estimator is not None:
        for loc, message in estimator_space_problems(search.get("space"), estimator):
            yield ("search", "space", *loc), message
        yield from _estimator_scheduler_problems(search, estimator)


def _estimator_scheduler_problems(search: dict[str, Any], estimator: Any) -> Iterable[Finding]:
    """The scheduler's resource against the estimator's params and the space (what
    :func:`~sparktune.spark.resources.resolve_sklearn_scheduler` refuses at run time)."""
    raw = search.get("scheduler")
    scheduler = built_scheduler(raw)
    if scheduler is None:
        return
    space = search.get("space")
    try:
        resolve_sklearn_scheduler(scheduler, estimator, list(space or ()))
    except ValidationError as exc:
        loc = ("search", "scheduler", "resource") if "resource" in raw else ("search", "scheduler")
        yield loc, str(exc)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a job spec file (what ``sparktune schema`` prints)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **JobSpec.model_json_schema(),
    }
