"""The final refit of the best params on the whole data, and what its failure keeps."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import pandas as pd

from sparktune.core.errors import RefitError, describe_error
from sparktune.core.trial import Trial
from sparktune.tracking import MlflowTracker

logger = logging.getLogger(__name__)

V = TypeVar("V")


def refit_best(
    fit: Callable[[], V],
    best: Trial,
    results: pd.DataFrame,
    tracker: MlflowTracker | None,
    *,
    wrap: bool = True,
) -> V:
    """Run the final refit ``fit``; if it raises, keep the search and raise RefitError.

    The results table and the best trial are still logged (the parent run ends FAILED),
    and the error carries the table and the best params, so no finished trial is lost with
    the refit. ``wrap=False`` re-raises the refit's own error instead, as pyspark would
    (the drop-ins' ``errorPolicy="raise"``). An interrupt ends the parent run KILLED.
    """
    try:
        return fit()
    except Exception as exc:
        run_id = None
        if tracker is not None:
            try:
                tracker.finish(best, results, status="FAILED")
                run_id = tracker.run_id
            except Exception as logging_error:  # the search must still reach the caller
                logger.warning("MLflow: could not log the search: %s", logging_error)
        if not wrap:
            raise
        kept = f" and in MLflow run {run_id}" if run_id else ""
        raise RefitError(
            f"The search ended ({len(results)} trials), but refitting its best params "
            f"{dict(best.params)} on the whole data failed: {describe_error(exc)}. "
            f"The trials are kept on this error's .results and .best_params{kept}; fix the "
            "cause and fit those params, or search again without the refit.",
            results,
            dict(best.params),
            run_id,
        ) from exc
    except BaseException:
        if tracker is not None:
            tracker.close("KILLED")
        raise
