"""What a search returns: the best params, metric and refit model, and every trial."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from sparktune.compat.extras import require
from sparktune.core.trial import Trial

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class TuneResult:
    """What a search found: the best params, metric and refit model, and every trial.

    ``results`` has one row per trial: ``param_<name>``, ``mean_/std_/split{k}_`` of every
    metric on ``val`` (and ``train``), fit time, state, error and rank;
    ``results.attrs["parallelism"]`` is how many trials ran at once. ``best_model`` is None
    when the search was run without a refit.
    """

    best_params: dict[str, Any]
    best_metric: float
    best_model: Any
    best_trial: Trial
    results: pd.DataFrame
    trials: tuple[Trial, ...]
    metric: str
    larger_is_better: bool
    stop_reason: str
    elapsed: float
    run_id: str | None = None
    unlogged_trials: list[int] = field(default_factory=list)

    def plot(self) -> Figure:
        """The metric of every trial with the best so far, and each param against it.

        The same plots as the PNG artifacts of the search's MLflow run, in one figure
        (needs matplotlib: the ``plots`` extra).
        """
        require("matplotlib", "TuneResult.plot()")
        from sparktune.tracking import plots

        return plots.overview(self.results, self.metric, self.larger_is_better)
