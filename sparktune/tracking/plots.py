"""Plots of a search's results table, readable at a glance.

Each function takes the table of :func:`sparktune.core.results.results_frame` (columns ``trial``,
``state``, ``param_<name>``, ``mean_val_<metric>``, ``rank``, ...) and returns a matplotlib
:class:`~matplotlib.figure.Figure` built without pyplot, so no global figure state is kept:
Jupyter displays it, ``fig.savefig("x.png")`` renders it with Agg, and the MLflow tracker
logs the same figures as PNG artifacts of the search's parent run.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import MaxNLocator

_COMPLETE = "complete"
_PRUNED = "pruned"
_POINT = "#4C72B0"
_MUTED = "#A0A0A0"
_BEST = "#DD8452"
_FAILED = "#C44E52"


def primary_metric(results: pd.DataFrame) -> str:
    """The first validation metric of the table (the one the search optimized)."""
    for column in results.columns:
        if column.startswith("mean_val_"):
            return column[len("mean_val_") :]
    raise ValueError("The results table has no mean_val_<metric> column to plot.")


def larger_is_better(results: pd.DataFrame, metric: str) -> bool:
    """Read the metric's direction off the ``rank`` column (rank 1 is the best trial)."""
    column = f"mean_val_{metric}"
    if "rank" not in results or results["rank"].isna().all():
        return False
    values = results[column].where(results["state"] == _COMPLETE)
    best = values[results["rank"] == 1].iloc[0]
    return bool(best >= values.max())


def metric_history(
    results: pd.DataFrame, metric: str | None = None, larger_is_better: bool | None = None
) -> Figure:
    """The validation metric of every trial in order, with the best-so-far line.

    Failed and cancelled trials are marked with a red cross on the x axis; the best trial
    is circled and its value written next to it.
    """
    metric, better = _resolve(results, metric, larger_is_better)
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    _draw_history(fig, results, metric, better)
    return fig


def param_effects(
    results: pd.DataFrame, metric: str | None = None, larger_is_better: bool | None = None
) -> Figure:
    """One panel per searched param: its value in each complete trial against the metric.

    Numeric params are scattered on a log axis when drawn from a log distribution (the
    names in ``results.attrs["log_params"]``, which a search sets) or when their positive
    values span more than two decades, else on a linear axis; anything else (choices,
    stages, lists) is shown by category.
    """
    metric, better = _resolve(results, metric, larger_is_better)
    cols, rows = _grid(results)
    fig = Figure(figsize=(4.4 * cols, 3.6 * rows), layout="constrained")
    _draw_params(fig, results, metric, better)
    return fig


def overview(
    results: pd.DataFrame, metric: str | None = None, larger_is_better: bool | None = None
) -> Figure:
    """Both plots in one figure: the metric per trial above, each searched param below."""
    metric, better = _resolve(results, metric, larger_is_better)
    cols, rows = _grid(results)
    height = 3.6 * rows
    fig = Figure(figsize=(max(8.0, 4.4 * cols), 4.5 + height), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[4.5, height])
    _draw_history(top, results, metric, better)
    _draw_params(bottom, results, metric, better)
    return fig


def rungs(
    results: pd.DataFrame, metric: str | None = None, larger_is_better: bool | None = None
) -> Figure:
    """Successive halving: each trial's metric at every rung against its budget.

    Trials that reached the full budget are drawn in colour (the best one marked), pruned
    ones in grey, so the plot shows which budgets ranked the candidates and how.
    """
    metric, better = _resolve(results, metric, larger_is_better)
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    count = 1 + max(int(c[4:].split("_")[0]) for c in results.columns if c.endswith("_resource"))
    best = results["rank"] == 1 if "rank" in results else pd.Series(False, index=results.index)
    for index, row in results.iterrows():
        xs = [row.get(f"rung{k}_resource") for k in range(count)]
        ys = [row.get(f"rung{k}_val_{metric}") for k in range(count)]
        points = [(x, y) for x, y in zip(xs, ys) if pd.notna(x) and pd.notna(y)]
        if not points:
            continue
        complete = row["state"] == _COMPLETE
        color = _BEST if best.get(index, False) else _POINT if complete else _MUTED
        ax.plot(
            *zip(*points), marker="o", markersize=4, color=color, alpha=0.9 if complete else 0.5
        )
    ax.set_xscale("log")
    ax.set_xlabel("budget (resource)")
    ax.set_ylabel(f"{metric} (validation, mean over folds)")
    direction = "higher" if better else "lower"
    ax.set_title(f"{metric} per rung ({direction} is better; grey: pruned)")
    ax.grid(alpha=0.3)
    return fig


def search_figures(
    results: pd.DataFrame, metric: str | None = None, larger_is_better: bool | None = None
) -> dict[str, Figure]:
    """The plots of a search (with the rungs under a scheduler), by file stem."""
    figures = {
        "metric_history": metric_history(results, metric, larger_is_better),
        "param_effects": param_effects(results, metric, larger_is_better),
    }
    if "rung" in results:
        figures["rungs"] = rungs(results, metric, larger_is_better)
    return figures


def _grid(results: pd.DataFrame) -> tuple[int, int]:
    """Columns and rows of the param panels."""
    count = sum(c.startswith("param_") for c in results.columns)
    cols = max(1, min(3, count))
    return cols, max(1, math.ceil(count / cols))


def _draw_history(
    target: Figure | SubFigure, results: pd.DataFrame, metric: str, better: bool
) -> None:
    column = f"mean_val_{metric}"
    ax = target.add_subplot()
    ordered = results.sort_values("trial")
    done = ordered[(ordered["state"] == _COMPLETE) & ordered[column].notna()]
    ax.scatter(done["trial"], done[column], color=_POINT, s=28, zorder=3, label="trial")
    if not done.empty:
        values = done[column].to_numpy(dtype=float)
        so_far = np.maximum.accumulate(values) if better else np.minimum.accumulate(values)
        trials = done["trial"].to_numpy()
        ax.step(
            np.append(trials, ordered["trial"].max()),
            np.append(so_far, so_far[-1]),
            where="post",
            color=_BEST,
            linewidth=2,
            label="best so far",
        )
        _mark_best(ax, done["trial"], done[column], better)
    pruned = ordered[(ordered["state"] == _PRUNED) & ordered[column].notna()]
    if not pruned.empty:
        ax.scatter(
            pruned["trial"],
            pruned[column],
            color=_MUTED,
            s=16,
            zorder=2,
            label=f"pruned, at a smaller budget ({len(pruned)})",
        )
    failed = ordered[~ordered["state"].isin([_COMPLETE, _PRUNED])]
    if not failed.empty:
        ax.scatter(
            failed["trial"],
            np.zeros(len(failed)),
            transform=ax.get_xaxis_transform(),
            marker="x",
            color=_FAILED,
            s=40,
            clip_on=False,
            zorder=4,
            label=f"failed / cancelled ({len(failed)})",
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{metric} (validation, mean over folds)")
    direction = "higher" if better else "lower"
    ax.set_title(f"{metric} per trial ({direction} is better)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")


def _draw_params(
    target: Figure | SubFigure, results: pd.DataFrame, metric: str, better: bool
) -> None:
    column = f"mean_val_{metric}"
    params = [c for c in results.columns if c.startswith("param_")]
    done = results[(results["state"] == _COMPLETE) & results[column].notna()]
    cols, rows = _grid(results)
    axes = target.subplots(rows, cols, squeeze=False).ravel()
    if not params:
        axes[0].text(0.5, 0.5, "no searched params", ha="center", va="center")
        axes[0].set_axis_off()
    logs = set(results.attrs.get("log_params", ()))
    for ax, param in zip(axes, params):
        name = param[len("param_") :]
        _param_panel(ax, done[param], done[column], name, better, name in logs)
    for index, ax in enumerate(axes):
        if index >= len(params) and params:
            ax.set_axis_off()
        elif index % cols == 0 and params:
            ax.set_ylabel(f"{metric} (validation)")
    direction = "higher" if better else "lower"
    target.suptitle(f"{metric} against each searched param ({direction} is better)")


def _resolve(results: pd.DataFrame, metric: str | None, better: bool | None) -> tuple[str, bool]:
    if results.empty:
        raise ValueError("The results table is empty: there is nothing to plot.")
    metric = metric or primary_metric(results)
    if f"mean_val_{metric}" not in results:
        known = [c[len("mean_val_") :] for c in results.columns if c.startswith("mean_val_")]
        raise ValueError(f"No metric {metric!r} in the results table; it has {known}.")
    return metric, larger_is_better(results, metric) if better is None else better


def _numeric(values: pd.Series) -> pd.Series | None:
    """The values as floats when every one is a real number (not a bool), else None."""
    present = values.dropna()
    if present.empty or not all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
        for v in present
    ):
        return None
    return pd.to_numeric(values, errors="coerce").astype(float)


def _mark_best(ax: Axes, xs: pd.Series, ys: pd.Series, better: bool) -> None:
    position = int(np.argmax(ys.to_numpy()) if better else np.argmin(ys.to_numpy()))
    x, y = xs.iloc[position], ys.iloc[position]
    ax.scatter([x], [y], s=160, facecolors="none", edgecolors=_BEST, linewidths=2, zorder=5)
    ax.annotate(
        f"best {y:.4g}",
        (x, y),
        xytext=(8, 8),
        textcoords="offset points",
        fontsize="small",
        color=_BEST,
        fontweight="bold",
    )


def _param_panel(
    ax: Axes, values: pd.Series, metric: pd.Series, name: str, better: bool, log: bool
) -> None:
    numbers = _numeric(values)
    if numbers is not None:
        xs = numbers
        positive = numbers[numbers > 0]
        if len(positive) == len(numbers.dropna()) and len(positive) > 0:
            if log or (len(positive) > 1 and positive.max() / positive.min() > 100):
                ax.set_xscale("log")
    else:
        labels = values.map(lambda v: "None" if v is None else str(v))
        categories = sorted(labels.unique())
        position = {c: i for i, c in enumerate(categories)}
        xs = labels.map(position).astype(float)
        ax.set_xticks(range(len(categories)))
        short = [c if len(c) <= 18 else c[:17] + "…" for c in categories]
        rotated = len(categories) > 3 or any(len(c) > 8 for c in short)
        ax.set_xticklabels(
            short, rotation=30 if rotated else 0, ha="right" if rotated else "center"
        )
        ax.set_xlim(-0.6, len(categories) - 0.4)
    ax.scatter(xs, metric, color=_POINT, s=28, alpha=0.85, zorder=3)
    if len(metric):
        _mark_best(ax, xs, metric, better)
    ax.set_xlabel(name)
    ax.grid(alpha=0.3)
