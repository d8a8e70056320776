"""The job spec: one pydantic model per section of the YAML file, and the whole spec.

These models are the single definition of the spec's structure: ``sparktune validate``
checks a file with them and ``sparktune schema`` prints their JSON Schema for editors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PrivateAttr, ValidationInfo, model_validator

from sparktune.core.errors import ValidationError
from sparktune.jobs.config.data import DataSpec
from sparktune.jobs.config.evaluation import EvaluationSpec
from sparktune.jobs.config.fields import Flag, Settings, Text
from sparktune.jobs.config.pipeline import PipelineSpec, StageSpec, stage_classes
from sparktune.jobs.config.search import SearchSpec, scheduler_problems, space_problems
from sparktune.jobs.config.section import Finding, Section, issue
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


class OutputSpec(Section):
    """Where the refit best model (``PipelineModel.save``), the results CSV and the checkpoint
    (``sparktune run --resume``) are written."""

    model: Text | None = None
    """The best pipeline, refit on all the data (overwritten)."""
    results: Text | None = None
    """The results table (CSV), one row per trial."""
    checkpoint: Text | None = None
    """Finished trials, for --resume (default: checkpoint.json beside results or model)."""


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

    data: DataSpec
    """The data to tune on."""
    pipeline: PipelineSpec
    """The pyspark.ml pipeline to tune."""
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
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """The space's stage.param names and the scheduler's resource against the pipeline's
        stages and their Params."""
        search = raw.get("search")
        if not isinstance(search, dict):
            return []
        names, classes = stage_classes(raw.get("pipeline"))
        found = space_problems(search.get("space"), names, classes)
        halving = scheduler_problems(search.get("scheduler"), search.get("space"), names, classes)
        return [(("search", "space", *loc), message) for loc, message in found] + [
            (("search", "scheduler", *loc), message) for loc, message in halving
        ]

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
        """The pipeline's stages, in order."""
        return self.pipeline.stages


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a job spec file (what ``sparktune schema`` prints)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **JobSpec.model_json_schema(),
    }
