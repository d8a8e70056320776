"""The search plots, drawn from real results tables (no Spark needed: trials are plain data)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from sparktune.core.results import results_frame
from sparktune.core.trial import Candidate, FoldResult, Trial, TrialState
from sparktune.tracking import plots


def trial(number, params, value=None, state=TrialState.COMPLETE):
    folds = ()
    if value is not None:
        folds = tuple(FoldResult(k, {"rmse": value + k}, {}, 0.5) for k in range(2))
    return Trial(number, Candidate(params, {}), state, folds, "rmse", error=None)


@pytest.fixture
def table():
    """Seven trials: a numeric param over four decades, a choice, and one failure."""
    values = [9.0, 7.0, 8.0, None, 4.0, 6.0, 5.0]
    trials = []
    for n, value in enumerate(values):
        params = {"lr.regParam": 10.0 ** (n - 4), "lr.solver": ["l-bfgs", "normal"][n % 2]}
        state = TrialState.FAILED if value is None else TrialState.COMPLETE
        trials.append(trial(n, params, value, state))
    return results_frame(trials, ["rmse"], larger_is_better=False)


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def test_metric_history_draws_trials_and_best_so_far(table):
    fig = plots.metric_history(table)
    (ax,) = fig.axes
    points, failed = ax.collections[0], ax.collections[-1]
    # The mean over two folds (value, value + 1) of the six complete trials.
    assert points.get_offsets()[:, 1].tolist() == [9.5, 7.5, 8.5, 4.5, 6.5, 5.5]
    assert failed.get_offsets()[:, 0].tolist() == [3]
    (line,) = ax.lines
    steps = line.get_ydata()
    assert list(steps[:6]) == [9.5, 7.5, 7.5, 4.5, 4.5, 4.5]
    assert np.all(np.diff(steps) <= 0)
    assert "lower is better" in ax.get_title()
    assert png(fig).startswith(b"\x89PNG")


def test_direction_is_read_from_the_rank_column(table):
    larger = table.assign(rank=table["mean_val_rmse"].rank(ascending=False))
    assert plots.larger_is_better(larger, "rmse")
    assert not plots.larger_is_better(table, "rmse")
    (line,) = plots.metric_history(larger).axes[0].lines
    assert np.all(np.diff(line.get_ydata()) >= 0)


def test_param_effects_has_one_panel_per_param(table):
    fig = plots.param_effects(table)
    visible = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_xlabel() for ax in visible] == ["lr.regParam", "lr.solver"]
    numeric, choice = visible
    assert numeric.get_xscale() == "log"  # 1e-4 .. 1e2 spans six decades
    assert [t.get_text() for t in choice.get_xticklabels()] == ["l-bfgs", "normal"]
    assert len(numeric.collections[0].get_offsets()) == 6  # the failed trial is not drawn
    assert png(fig).startswith(b"\x89PNG")


def test_overview_holds_both_plots(table):
    fig = plots.overview(table)
    labels = [ax.get_xlabel() for ax in fig.axes if ax.axison]
    assert labels == ["trial", "lr.regParam", "lr.solver"]
    assert set(plots.search_figures(table)) == {"metric_history", "param_effects"}


def test_unknown_metric_and_empty_table_are_explained(table):
    with pytest.raises(ValueError, match="No metric 'auc'.*rmse"):
        plots.metric_history(table, metric="auc")
    with pytest.raises(ValueError, match="empty"):
        plots.param_effects(table.iloc[0:0])


def test_a_log_distributed_param_gets_a_log_axis_even_over_one_decade():
    trials = [
        trial(n, {"lr.regParam": 0.1 + 0.1 * n, "lr.tol": 0.1 + 0.1 * n}, 5.0 - n) for n in range(5)
    ]
    table = results_frame(trials, ["rmse"], larger_is_better=False)
    assert [ax.get_xscale() for ax in plots.param_effects(table).axes if ax.axison] == [
        "linear",
        "linear",
    ]
    table.attrs["log_params"] = ["lr.regParam"]  # what a search sets for hp.loguniform
    scales = {ax.get_xlabel(): ax.get_xscale() for ax in plots.param_effects(table).axes}
    assert scales == {"lr.regParam": "log", "lr.tol": "linear"}


def test_rank_is_an_integer_column(table):
    assert str(table["rank"].dtype) == "Int64"
    assert table["rank"].dropna().tolist() == [6, 4, 5, 1, 3, 2]
    assert table.loc[table["state"] == "failed", "rank"].isna().all()
