"""The flat results table: one row per trial, as scikit-learn's ``cv_results_`` reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sparktune.core.trial import Trial, TrialState


def _table_value(value: Any) -> Any:
    uid = getattr(value, "uid", None)
    if uid is not None:
        return f"{type(value).__name__}({uid})"
    if isinstance(value, list | tuple):
        return str([_table_value(v) for v in value])
    return value


def results_frame(
    trials: Sequence[Trial], metrics: Sequence[str], larger_is_better: bool
) -> pd.DataFrame:
    """Build the table: params, then per metric ``mean_/std_/split{k}_`` on ``val`` and ``train``.

    ``rank`` (integers) orders complete trials by the primary (first) metric, 1 = best; failed and
    cancelled trials keep NaN metrics and their error. Under a scheduler, ``rung`` and
    ``resource`` say where a trial stopped (its metrics are those of that rung, or of the
    folds it ran), ``rung{k}_resource`` / ``rung{k}_val_<primary>`` the budget (or folds
    run) and primary metric after every step, ``folds_run`` how many folds it ran and
    ``stopped_because`` why a pruned trial stopped.
    """
    rows = []
    for trial in trials:
        row: dict[str, Any] = {"trial": trial.number, "state": trial.state.value}
        for name, value in trial.params.items():
            row[f"param_{name}"] = _table_value(value)
        num_folds = max((f.fold for f in trial.folds), default=-1) + 1
        for side in ("val", "train"):
            for metric in metrics:
                values = trial.fold_values(metric, side)
                if side == "train" and all(np.isnan(values)):
                    continue
                row[f"mean_{side}_{metric}"] = trial.mean(metric, side)
                row[f"std_{side}_{metric}"] = trial.std(metric, side)
                by_fold = {f.fold: v for f, v in zip(trial.folds, values)}
                for k in range(num_folds):
                    row[f"split{k}_{side}_{metric}"] = by_fold.get(k, np.nan)
        for key, value in _merged_info(trial).items():
            row[key] = value
        if trial.rungs:
            row["rung"], row["resource"] = trial.rungs[-1].index, trial.rungs[-1].resource
            for rung in trial.rungs:
                row[f"rung{rung.index}_resource"] = rung.resource
                row[f"rung{rung.index}_val_{metrics[0]}"] = rung.value
            row["folds_run"] = len(trial.folds)
            row["stopped_because"] = trial.reason
        row["fit_time"] = trial.fit_time
        row["duration"] = max(trial.finished - trial.started, 0.0)
        row["error"] = trial.error
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    primary = f"mean_val_{metrics[0]}"
    if primary in frame:
        complete = frame["state"] == TrialState.COMPLETE.value
        ranks = frame[primary].where(complete).rank(ascending=not larger_is_better, method="min")
        frame["rank"] = ranks.astype("Int64")  # whole numbers; <NA> for unranked trials
    return frame


def _merged_info(trial: Trial) -> dict[str, Any]:
    """Per-fold model facts (e.g. best_iteration) as ``split{k}_<name>`` columns."""
    merged: dict[str, Any] = {}
    for fold in trial.folds:
        for key, value in fold.info.items():
            merged[f"split{fold.fold}_{key}"] = value
    return merged
