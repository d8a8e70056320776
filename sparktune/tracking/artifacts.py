"""The parent run's files: the results table (CSV), long settings, the search's plots (PNG).

They are built on the caller's thread (matplotlib figures are not thread-safe, and the
results table may hold secrets to redact) and uploaded by the writer.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, MutableSet
from typing import TYPE_CHECKING, Any

import pandas as pd

from sparktune.compat.extras import available
from sparktune.core.errors import describe_error
from sparktune.tracking.records import MAX_PARAM_LENGTH
from sparktune.tracking.redaction import Redactor

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

#: How sharp the PNG plots are.
PLOT_DPI = 110


def search_files(
    results: pd.DataFrame,
    params: Mapping[str, str],
    primary: str,
    larger_is_better: bool,
    redactor: Redactor,
) -> dict[str, Any]:
    """Artifact path -> content: CSV text, every setting (JSON), settings too long for a
    param, figures.

    Without matplotlib (the ``plots`` extra) the figures are left out, with a log line.
    """
    table = results.copy()
    for column in table.columns:
        if table[column].dtype == object:
            table[column] = table[column].map(
                lambda v: v if v is None or _is_nan(v) else redactor.text(v)
            )
    files: dict[str, Any] = {
        "results.csv": table.to_csv(index=False),
        # Every setting of the search as resolved (defaults filled in), in one file.
        "settings.json": json.dumps(dict(params), indent=2, sort_keys=True),
    }
    for key, value in params.items():
        if len(value) > MAX_PARAM_LENGTH:
            files[f"settings/{key}.txt"] = value
    if not available("matplotlib"):
        logger.info("MLflow: no plots logged (pip install 'sparktune[plots]' to log them)")
        return files
    from sparktune.tracking import plots

    try:
        figures = plots.search_figures(results, primary, larger_is_better)
    except Exception as exc:
        logger.warning("MLflow: could not draw the search plots: %s", describe_error(exc))
        figures = {}
    for name, figure in figures.items():
        files[f"plots/{name}.png"] = figure
    return files


def log_files(
    client: MlflowClient, run_id: str | None, files: Mapping[str, Any], done: MutableSet[str]
) -> None:
    """Upload ``files`` to ``run_id``, skipping and adding to ``done`` (so a retry resumes)."""
    for name, content in files.items():
        if name in done:
            continue
        if isinstance(content, str):
            client.log_text(run_id, content, name)
        else:
            client.log_figure(run_id, content, name, save_kwargs={"dpi": PLOT_DPI})
        done.add(name)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
