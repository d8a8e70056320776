"""What a run holds (a trial's params, metrics and tags) and the client calls that write it.

A trial's child run carries exactly its row of the results table (params, every metric on
validation and training, fit time), its state and, for a failed trial, its error.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sparktune.core.results import results_frame
from sparktune.core.trial import Trial, TrialState

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: MLflow's limit on one param value (longer values go to an artifact instead).
MAX_PARAM_LENGTH = 6000
#: How much of a failed trial's error its ``sparktune.error`` tag keeps.
MAX_ERROR_LENGTH = 2000
#: Results-table columns that are neither params nor metrics.
_NOT_METRICS = {"trial", "state", "error", "rank"}
#: The MLflow run status of a trial in each state.
RUN_STATUS = {
    TrialState.COMPLETE: "FINISHED",
    TrialState.FAILED: "FAILED",
    TrialState.CANCELLED: "KILLED",
    TrialState.PRUNED: "FINISHED",
}


def rung_history(trial: Trial, percent: bool) -> list[tuple[str, float, int]]:
    """The trial's primary metric at every rung, as (key, value, step) with step = budget.

    The step is the iteration count, or (``percent``: the rows resource) the percent of
    each fold's training rows.
    """
    key = f"mean_val_{trial.primary}"
    history = []
    for rung in trial.rungs:
        step = rung.resource * 100 if percent else rung.resource
        if math.isfinite(rung.value):
            history.append((key, float(rung.value), int(round(step))))
    return history


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    kept = limit - 40  # room for the note
    return f"{text[:kept]}... ({len(text) - kept} more characters)"


def trial_record(
    trial: Trial, larger_is_better: bool
) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """A trial's child-run params, metrics and tags, read off its row of the results table."""
    names = [trial.primary] + sorted({k for f in trial.folds for k in f.metrics} - {trial.primary})
    row = results_frame([trial], names, larger_is_better).iloc[0]
    params = {c[len("param_") :]: str(v) for c, v in row.items() if c.startswith("param_")}
    metrics = {
        c: float(v)
        for c, v in row.items()
        if c not in _NOT_METRICS and not c.startswith("param_") and _finite(v)
    }
    tags = {
        "mlflow.runName": f"trial-{trial.number}",
        "sparktune.trial": str(trial.number),
        "sparktune.state": trial.state.value,
    }
    if trial.error:
        tags["sparktune.error"] = truncate(trial.error, MAX_ERROR_LENGTH)
    return params, metrics, tags


def _finite(value: Any) -> bool:
    """A real number (not a bool) that MLflow can store as a metric."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(float(value))
    )


def log_batch(
    client: MlflowClient,
    run_id: str | None,
    *,
    params: Mapping[str, str] = (),
    metrics: Mapping[str, float] = (),
    tags: Mapping[str, str] = (),
    timestamp: int | None = None,
    history: Sequence[tuple[str, float, int]] = (),
) -> None:
    """One ``log_batch`` to ``run_id`` (MLflow splits it at its own limits; param values are
    cut to MLflow's length limit).

    ``history`` adds (key, value, step) points, e.g. a metric per rung of successive halving.
    """
    from mlflow.entities import Metric, Param, RunTag

    stamp = timestamp or int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), stamp, 0) for k, v in dict(metrics).items()]
        + [Metric(k, v, stamp, step) for k, v, step in history],
        params=[Param(k, truncate(str(v), MAX_PARAM_LENGTH)) for k, v in dict(params).items()],
        tags=[RunTag(k, str(v)) for k, v in dict(tags).items()],
    )


def get_or_create_experiment(client: MlflowClient, name: str) -> str:
    """The id of the experiment called ``name``, created if it does not exist yet."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except Exception:  # created meanwhile by another process
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def context_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """MLflow's usual run context (user, source, git commit) plus ``tags``."""
    # Not a documented API, and unavoidable: MlflowClient.create_run adds no context tags, and
    # the fluent start_run that does would create the run in the process-wide tracking URI.
    # resolve_tags is the registry behind start_run's tags (and plugins' context providers).
    from mlflow.tracking.context.registry import resolve_tags

    return {k: str(v) for k, v in resolve_tags(dict(tags)).items()}
