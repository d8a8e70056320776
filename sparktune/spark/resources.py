"""A scheduler's resource on a Spark ML estimator: which param its budget sets, checked up front.

The budget of successive halving is an iteration param of the pipeline's final estimator
(:data:`ITERATIONS` lists the usual one per estimator, the default when the user names
none) or ``"rows"``, a fraction of each fold's training part. :func:`resolve_scheduler`
fills in the scheduler's defaults from the estimator and refuses, before any fit, a
resource the final estimator does not have or that the search space also sets;
:func:`resolve_sklearn_scheduler` does the same for a scikit-learn-compatible estimator.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Any

from pyspark.ml import Estimator, Pipeline
from pyspark.ml.param import Param, Params

from sparktune.core.errors import ValidationError
from sparktune.core.schedulers import ROWS, Scheduler
from sparktune.spark import pipeline

#: The iteration param that is the natural budget of each estimator (by class name).
ITERATIONS = {
    "GBTRegressor": "maxIter",
    "GBTClassifier": "maxIter",
    "RandomForestRegressor": "numTrees",
    "RandomForestClassifier": "numTrees",
    "LinearRegression": "maxIter",
    "LogisticRegression": "maxIter",
    "GeneralizedLinearRegression": "maxIter",
    "LinearSVC": "maxIter",
    "MultilayerPerceptronClassifier": "maxIter",
    "FMRegressor": "maxIter",
    "FMClassifier": "maxIter",
    "SparkXGBRegressor": "n_estimators",
    "SparkXGBClassifier": "n_estimators",
    "SparkXGBRanker": "n_estimators",
}


#: The iteration param of common scikit-learn-compatible estimators (by class name).
SKLEARN_ITERATIONS = {
    "HistGradientBoostingRegressor": "max_iter",
    "HistGradientBoostingClassifier": "max_iter",
    "GradientBoostingRegressor": "n_estimators",
    "GradientBoostingClassifier": "n_estimators",
    "RandomForestRegressor": "n_estimators",
    "RandomForestClassifier": "n_estimators",
    "ExtraTreesRegressor": "n_estimators",
    "ExtraTreesClassifier": "n_estimators",
    "XGBRegressor": "n_estimators",
    "XGBClassifier": "n_estimators",
    "LGBMRegressor": "n_estimators",
    "LGBMClassifier": "n_estimators",
    "MLPRegressor": "max_iter",
    "MLPClassifier": "max_iter",
    "SGDRegressor": "max_iter",
    "SGDClassifier": "max_iter",
}


def resolve_sklearn_scheduler(
    scheduler: Scheduler, estimator: Any, searched: Collection[str]
) -> tuple[Scheduler, str | None]:
    """A scheduler for a scikit-learn estimator: filled in, and the param name it sets.

    The resource is a ``get_params`` name (``"max_iter"``, ``"model__n_estimators"`` in a
    Pipeline) or ``"rows"`` (None: rows of each fold's training part); it may not be one
    of the ``searched`` names. A scheduler over folds sets no param.
    """
    if not _check_scheduler(scheduler):
        return scheduler, None
    params = estimator.get_params(deep=True)
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    prefix = f"{estimator.steps[-1][0]}__" if hasattr(estimator, "steps") else ""
    usual = SKLEARN_ITERATIONS.get(type(final).__name__)
    name = scheduler.resource or (prefix + usual if usual else ROWS)
    if name == ROWS:
        return scheduler.completed(ROWS, 1.0), None
    if name not in params:
        close = difflib.get_close_matches(name, list(params), n=3)
        raise ValidationError(
            f"The scheduler's resource {name!r}: {type(estimator).__name__} has no such "
            f"param (close: {close}); name an iteration param such as "
            f"{prefix + (usual or 'max_iter')!r}, or use resource='rows'."
        )
    if name in searched:
        raise ValidationError(
            f"The scheduler's resource {name!r} is also in the search space: the scheduler "
            "sets it rung by rung; remove it from the space."
        )
    _check_whole(scheduler, name, params[name])
    return scheduler.completed(name, params[name]), name


def _check_scheduler(scheduler: object) -> bool:
    """Whether ``scheduler`` steps over a budget (a param or rows), not over folds."""
    if not isinstance(scheduler, Scheduler):
        raise ValidationError(
            "scheduler must be sparktune.ASHA(...), Hyperband(...), Racing(...) or "
            f"MedianStopping(...), got {type(scheduler).__name__}."
        )
    return scheduler.axis == "budget"


def _check_whole(scheduler: Any, name: str, default: object) -> None:
    """Iteration budgets are whole numbers, and the default must be one when no max is given."""
    if scheduler.max_resource is None and not _whole(default):
        raise ValidationError(
            f"The scheduler's resource {name} has no whole-number value on the estimator "
            f"({default!r}); give max_resource."
        )
    for bound in (scheduler.min_resource, scheduler.max_resource):
        if bound is not None and not _whole(bound):
            raise ValidationError(
                f"The scheduler's budgets of {name} count iterations: min_resource and "
                f"max_resource must be whole numbers, got {bound!r}."
            )


def final_estimator(estimator: Params) -> Params:
    """The last Estimator stage of ``estimator`` (itself when it is not a Pipeline)."""
    stages = [s for s in pipeline.flatten(estimator, []) if isinstance(s, Estimator)]
    if not stages or isinstance(stages[-1], Pipeline):
        return estimator
    return stages[-1]


def resolve_scheduler(
    scheduler: Scheduler, estimator: Params, searched: Collection[Param]
) -> tuple[Scheduler, Param | None]:
    """``scheduler`` with its resource and budgets filled in, and the Param it sets (None: rows).

    ``searched`` are the Params the space sets; the resource may not be one of them. A
    scheduler over folds sets no Param.
    """
    if not _check_scheduler(scheduler):
        return scheduler, None
    final = final_estimator(estimator)
    cls = type(final).__name__
    name = scheduler.resource or ITERATIONS.get(cls, ROWS)
    if name == ROWS:
        return scheduler.completed(ROWS, 1.0), None
    stage_name, _, param_name = name.rpartition(".")
    if stage_name and stage_name not in (cls, final.uid) and not final.uid.startswith(stage_name):
        raise ValidationError(
            f"The scheduler's resource {name!r} names stage {stage_name!r}, but the budget "
            f"must be a param of the final estimator, {cls} ({final.uid}); "
            f"e.g. resource={cls}.{ITERATIONS.get(cls, 'maxIter')!r}, or 'rows'."
        )
    if not final.hasParam(param_name):
        hint = ITERATIONS.get(cls)
        usual = f"its iteration param is {hint!r}" if hint else "it has no known iteration param"
        raise ValidationError(
            f"The scheduler's resource {name!r}: the final estimator {cls} has no param "
            f"{param_name!r} ({usual}); name one of its params, or use resource='rows'."
        )
    param = final.getParam(param_name)
    if param in searched:
        raise ValidationError(
            f"The scheduler's resource {cls}.{param_name} is also in the search space: the "
            "scheduler sets it rung by rung; remove it from the space (or search another "
            "resource)."
        )
    default = final.getOrDefault(param) if final.isDefined(param) else None
    _check_whole(scheduler, f"{cls}.{param_name}", default)
    return scheduler.completed(f"{cls}.{param_name}", default), param


def _whole(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    )
