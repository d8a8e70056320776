"""MLflow for a per-group search: one parent run, no child run per group.

Thousands of groups would be thousands of runs; instead the run holds the settings, the
per-group table (``groups.csv``), summary metrics (groups tuned, failed, skipped, and the
best metric's quantiles over the tuned groups) and a histogram of the best metrics.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from sparktune.compat.extras import available
from sparktune.core.errors import describe_error
from sparktune.tracking.records import context_tags, get_or_create_experiment, log_batch
from sparktune.tracking.settings import Tracking

logger = logging.getLogger(__name__)

#: Quantiles of the groups' best metric logged as ``best_metric_p<q>``.
QUANTILES = (0.1, 0.5, 0.9)


def summary(table: pd.DataFrame) -> dict[str, float]:
    """Groups tuned / failed / skipped, and the quantiles and mean of their best metric."""
    states = table["state"].value_counts()
    metrics = {f"groups_{s}": float(states.get(s, 0)) for s in ("complete", "failed", "skipped")}
    values = table.loc[table["state"] == "complete", "best_metric"].dropna()
    if len(values):
        metrics["best_metric_mean"] = float(values.mean())
        for q in QUANTILES:
            metrics[f"best_metric_p{int(q * 100)}"] = float(values.quantile(q))
    return metrics


def log_group_search(
    options: Tracking, params: Mapping[str, Any], table: pd.DataFrame, metric: str
) -> str | None:
    """Log one per-group search as one MLflow run; its id, or None if MLflow failed (logged)."""
    try:
        import mlflow
        from mlflow import MlflowClient

        uri = options.uri or mlflow.get_tracking_uri()
        client = MlflowClient(uri)
        name = options.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        experiment = (
            get_or_create_experiment(client, name)
            if name
            else os.environ.get("MLFLOW_EXPERIMENT_ID", "0")
        )
        run = client.create_run(
            experiment, tags=context_tags({"sparktune.kind": "groups"}), run_name=options.run_name
        )
        run_id = run.info.run_id
        log_batch(client, run_id, params=params, metrics=summary(table))
        client.log_text(run_id, table.to_csv(index=False), "groups.csv")
        values = table.loc[table["state"] == "complete", "best_metric"].dropna()
        if available("matplotlib"):
            import matplotlib.pyplot as plt

            figure, ax = plt.subplots(figsize=(6, 4))
            ax.hist(values, bins=min(30, max(len(values), 1)))
            ax.set_xlabel(f"best {metric} per group")
            ax.set_ylabel("groups")
            client.log_figure(run_id, figure, "plots/best_metric_per_group.png")
            plt.close(figure)
        else:
            logger.info("MLflow: no plots logged (pip install 'sparktune[plots]' to log them)")
        client.set_terminated(run_id, "FINISHED")
        return run_id
    except Exception as exc:  # the groups are tuned; only their record is missing
        logger.warning("MLflow: the per-group search was not logged: %s", describe_error(exc))
        return None
