"""Run a validated job spec: start Spark, read the data, build the pipeline, tune, save outputs.

This is what ``sparktune run`` does, in-process or as the driver of ``sparktune submit``
(inside spark-submit the master and Spark conf are spark-submit's, not the spec's).
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pyspark import StorageLevel
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import Evaluator
from pyspark.ml.param import Params
from pyspark.sql import DataFrame, SparkSession

from sparktune.core.settings import Checkpointing
from sparktune.jobs import datasets
from sparktune.jobs.config import JobSpec, MetricSpec, Problem, SpecError, StageSpec
from sparktune.spark.checks import output_columns
from sparktune.spark.session import get_session

logger = logging.getLogger(__name__)

#: Reader options used for CSV unless the spec sets them.
CSV_DEFAULTS = {"header": "true", "inferSchema": "true"}


def session(spec: JobSpec, master: str | None = None, remote: str | None = None) -> SparkSession:
    """The job's SparkSession: spark-submit's under spark-submit, else embedded with the spec's.

    ``master`` (``--master``) wins over the spec's ``spark.master``; ``remote`` (``--remote``)
    or the spec's ``spark.remote`` connects to a Spark Connect server instead.
    """
    if master is None:
        remote = remote or spec.spark.remote
    return get_session(master or spec.spark.master, spec.spark.conf, remote=remote)


def read_data(spec: JobSpec, spark: SparkSession) -> DataFrame:
    """The spec's data: a bundled data set or a file, then its ``sample`` and ``limit``."""
    data = spec.data
    if data.dataset is not None:
        frame = datasets.load(spark, data.dataset, scale=data.scale)
    else:
        options = {**CSV_DEFAULTS, **data.options} if data.format == "csv" else dict(data.options)
        frame = spark.read.format(data.format).options(**options).load(local_path(data.path))
    if data.sample is not None and data.sample < 1:
        frame = frame.sample(fraction=data.sample, seed=spec.search.seed)
    if data.limit is not None:
        frame = frame.limit(data.limit)
    return frame


def local_path(path: str) -> str:
    """A relative local path made absolute from this process's working directory (where the
    spec's checks looked; a reused Spark session's JVM may have started elsewhere); a URI
    (``s3a://``, ``hdfs://``, ``file:``) as is."""
    if "://" in path or path.startswith("file:") or Path(path).is_absolute():
        return path
    return str(Path(path).resolve())


def build_stage(stage: StageSpec, label: str) -> Params:
    """Construct one stage with its params and ``uid`` = its spec name.

    A stage that predicts (it has ``labelCol`` and ``predictionCol``) and sets no label
    column of its own learns ``data.label``.
    """
    signature = inspect.signature(stage.cls.__init__).parameters
    any_keyword = any(p.kind is p.VAR_KEYWORD for p in signature.values())
    init = {k: v for k, v in stage.params.items() if any_keyword or k in signature}
    instance = stage.cls(**init)
    rest = {k: v for k, v in stage.params.items() if k not in init}
    if rest:
        instance._set(**rest)
    predicts = instance.hasParam("labelCol") and instance.hasParam("predictionCol")
    if predicts and not instance.isSet("labelCol") and "label_col" not in stage.params:
        instance._set(labelCol=label)
    return instance._resetUid(stage.name)


def build_pipeline(spec: JobSpec) -> Pipeline:
    """The spec's pipeline; stage uids are the spec's names, so ``lr.regParam`` finds ``lr``."""
    return Pipeline(stages=[build_stage(s, spec.data.label) for s in spec.stages])


def build_evaluator(metric: MetricSpec, label: str) -> Evaluator:
    """The evaluator of one metric, scoring against ``label`` unless its params say otherwise."""
    evaluator = metric.evaluator_class(**{"metricName": metric.name, **metric.params})
    if evaluator.hasParam("labelCol") and "labelCol" not in metric.params:
        evaluator.setLabelCol(label)
    return evaluator


def check_data(spec: JobSpec, frame: DataFrame, pipeline: Pipeline) -> None:
    """Fail with the spec's key paths when the label or fold column is not in the data.

    A label made by a stage (e.g. a StringIndexer of a string label) counts as present.
    """
    columns = set(frame.columns)
    made = {c for stage in pipeline.getStages() for c in output_columns(stage)}
    problems = []
    label = spec.data.label
    if label not in columns and label not in made:
        problems.append(
            Problem(
                "data.label",
                f"column {label!r} is neither in the data nor made by a stage; "
                f"data columns: {frame.columns}",
            )
        )
    fold_col = spec.evaluation.fold_col
    if fold_col is not None and fold_col not in columns:
        problems.append(
            Problem(
                "evaluation.fold_col",
                f"column {fold_col!r} is not in the data; data columns: {frame.columns}",
            )
        )
    if problems:
        raise SpecError(spec.source, problems)


def checkpoint_path(spec: JobSpec) -> str | None:
    """``output.checkpoint``, else ``checkpoint.json`` beside ``output.results`` or the model
    (per group: a ``checkpoint`` folder there, one result file per finished group)."""
    output = spec.output
    if output.checkpoint is not None:
        return output.checkpoint
    beside = output.results or output.model
    if beside is None:
        return None
    name = "checkpoint" if spec.groups is not None else "checkpoint.json"
    return str(Path(beside.rstrip("/")).parent / name)


def resume_checkpoint(spec: JobSpec) -> str:
    """The checkpoint ``--resume`` continues from; a SpecError when the spec names none."""
    checkpoint = checkpoint_path(spec)
    if checkpoint is None:
        raise SpecError(
            spec.source,
            [Problem("output.checkpoint", "--resume needs output.checkpoint (or output.results)")],
        )
    return checkpoint


def run(
    spec: JobSpec,
    master: str | None = None,
    progress: bool = True,
    resume: bool = False,
    remote: str | None = None,
) -> Any:
    """Run the job end to end and return :func:`sparktune.tune`'s result; save the outputs.

    With ``groups``, run :func:`sparktune.tune_groups` instead and return its per-group
    table (pandas). Every finished trial is checkpointed (:func:`checkpoint_path`);
    ``resume`` keeps the finished trials of an earlier, interrupted run of the same job.
    """
    checkpoint = resume_checkpoint(spec) if resume else checkpoint_path(spec)
    spark = session(spec, master, remote)
    frame = read_data(spec, spark)
    if spec.estimator is None:
        model: Any = build_pipeline(spec)
        check_data(spec, frame, model)
    else:
        model = spec.estimator.build()
        check_columns(spec, frame)
    # Every fold, check and the refit read the input: read it from its source once.
    frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        if spec.groups is not None:
            table = _tune_groups(spec, frame, model, checkpoint, resume)
            save_group_results(spec, table)
            return table
        result = _tune(spec, frame, model, progress, checkpoint, resume)
    finally:
        frame.unpersist()
    save_outputs(spec, result)
    if getattr(result, "run_id", None):
        log_spec(spec, result.run_id)
    return result


def log_spec(spec: JobSpec, run_id: str) -> None:
    """Log the spec file as written and the spec as run (``--set`` overrides applied; it
    runs as is) as artifacts of the search's parent run, ``spec/``, secrets redacted; the
    settings with every default filled in are the run's ``settings.json``. A failure to
    log is a warning: the search and its outputs are done."""
    from mlflow import MlflowClient

    from sparktune.tracking.redaction import Redactor

    as_run = spec.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)
    text = yaml.safe_dump(as_run, sort_keys=False, default_flow_style=None, width=100)
    files = {"spec/as_run.yaml": text}
    source = Path(spec.source)
    if source.is_file():
        files[f"spec/{source.name}"] = source.read_text(encoding="utf-8", errors="replace")
    redactor = Redactor()
    try:
        client = MlflowClient(tracking_uri=spec.tracking.uri)
        for name, content in files.items():
            client.log_text(run_id, redactor.text(content), name)
    except Exception as exc:
        logger.warning("MLflow: could not log the job spec to run %s: %s", run_id, exc)


def _tune(
    spec: JobSpec,
    frame: DataFrame,
    pipeline: Any,
    progress: bool,
    checkpoint: str | None,
    resume: bool,
) -> Any:
    from sparktune.frontends.tune import tune

    label = spec.data.label
    evaluation = spec.evaluation
    search = spec.search
    tracking = spec.tracking
    if spec.estimator is not None:
        assert evaluation.scoring is not None  # the spec requires it with an estimator
        scoring: dict[str, Any] = {
            "metric": evaluation.scoring,
            "label": label,
            "features": spec.data.features,
            "max_collect_rows": spec.data.max_collect_rows,
        }
    else:
        assert evaluation.metric is not None  # the spec requires it with a pipeline
        scoring = {
            "metric": build_evaluator(evaluation.metric, label),
            "extra_metrics": [build_evaluator(m, label) for m in evaluation.extra_metrics],
        }
    return tune(
        pipeline,
        search.hyperopt_space(),
        frame,
        **scoring,
        strategy=search.strategy,
        scheduler=search.scheduler.build() if search.scheduler is not None else None,
        parallelism=search.parallelism,
        seed=search.seed,
        points_to_evaluate=search.points_to_evaluate,
        refit=spec.output.model is not None or tracking.enabled,
        train_metrics=evaluation.train_metrics,
        error_policy=search.error_policy,
        tracking=tracking.build(),
        progress=progress,
        checkpoint=Checkpointing(checkpoint, resume) if checkpoint is not None else None,
        split=evaluation.split(),
        budget=search.budget(),
    )


def _tune_groups(
    spec: JobSpec, frame: DataFrame, estimator: Any, checkpoint: str | None, resume: bool
) -> pd.DataFrame:
    from sparktune.frontends.groups import tune_groups

    groups, search, tracking = spec.groups, spec.search, spec.tracking
    evaluation = spec.evaluation
    assert groups is not None and evaluation.scoring is not None  # the caller's branch
    space = search.hyperopt_space()
    out = tune_groups(
        frame,
        group_by=list(groups.group_by),
        estimator=estimator,
        space=space,
        metric=evaluation.scoring,
        label=spec.data.label,
        features=spec.data.features,
        strategy=search.strategy,
        seed=search.seed,
        model_path=spec.output.model,
        warn_group_rows=groups.warn_group_rows,
        max_group_rows=groups.max_group_rows,
        tracking=tracking.build(),
        parallelism=search.parallelism,
        group_timeout=groups.timeout,
        scheduler=search.scheduler.build() if search.scheduler is not None else None,
        error_policy=search.error_policy,
        train_metrics=evaluation.train_metrics,
        checkpoint=Checkpointing(checkpoint, resume) if checkpoint is not None else None,
        trials_path=groups.trials,
        points_to_evaluate=search.points_to_evaluate,
        split=evaluation.split(),
        budget=search.budget(),
    )
    return out.toPandas()


def check_columns(spec: JobSpec, frame: DataFrame) -> None:
    """Fail with the spec's key paths when the label, a feature or a group column of an
    estimator's job is not in the data (an estimator reads the data's columns as they are)."""
    columns = list(frame.columns)
    wanted = [("data.label", spec.data.label)]
    wanted += [(f"data.features[{i}]", c) for i, c in enumerate(spec.data.features or ())]
    if spec.groups is not None:
        wanted += [(f"groups.group_by[{i}]", c) for i, c in enumerate(spec.groups.group_by)]
    problems = [
        Problem(path, f"column {name!r} is not in the data; data columns: {columns}")
        for path, name in wanted
        if name not in columns
    ]
    if problems:
        raise SpecError(spec.source, problems)


def save_group_results(spec: JobSpec, table: pd.DataFrame) -> None:
    """Write the per-group table (one row per group) as CSV where ``output.results`` says;
    the per-group models are already under ``output.model``."""
    if spec.output.results is not None:
        Path(spec.output.results).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(spec.output.results, index=False)
        logger.info("per-group table saved to %s", spec.output.results)


def save_outputs(spec: JobSpec, result: Any) -> None:
    """Write the best model (overwriting: a pipeline's directory, or an estimator's joblib
    file) and the results CSV where the spec's output says."""
    output = spec.output
    if output.model is not None and result.best_model is not None:
        if spec.estimator is not None:
            import joblib

            Path(output.model).parent.mkdir(parents=True, exist_ok=True)
            joblib.dump(result.best_model, output.model)
        else:
            result.best_model.write().overwrite().save(local_path(output.model))
        logger.info("best model saved to %s", output.model)
    if output.results is not None:
        Path(output.results).parent.mkdir(parents=True, exist_ok=True)
        result.results.to_csv(output.results, index=False)
        logger.info("results table saved to %s", output.results)
