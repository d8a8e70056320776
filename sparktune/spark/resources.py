"""A scheduler's resource on a Spark ML estimator: which param its budget sets, checked up front.

The budget of successive halving is an iteration param of the pipeline's final estimator
(:data:`ITERATIONS` lists the usual one per estimator, the default when the user names
none) or ``"rows"``, a fraction of each fold's training part. :func:`resolve_scheduler`
fills in the scheduler's defaults from the estimator and refuses, before any fit, a
resource the final estimator does not have or that the search space also sets.
"""

from __future__ import annotations

from collections.abc import Collection

from pyspark.ml import Estimator, Pipeline
from pyspark.ml.param import Param, Params

from sparktune.core.errors import ValidationError
from sparktune.core.scheduler import ASHA, ROWS
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


def final_estimator(estimator: Params) -> Params:
    """The last Estimator stage of ``estimator`` (itself when it is not a Pipeline)."""
    stages = [s for s in pipeline.flatten(estimator, []) if isinstance(s, Estimator)]
    if not stages or isinstance(stages[-1], Pipeline):
        return estimator
    return stages[-1]


def resolve_scheduler(
    scheduler: ASHA, estimator: Params, searched: Collection[Param]
) -> tuple[ASHA, Param | None]:
    """``scheduler`` with its resource and budgets filled in, and the Param it sets (None: rows).

    ``searched`` are the Params the space sets; the resource may not be one of them.
    """
    if not isinstance(scheduler, ASHA):
        raise ValidationError(
            "scheduler must be sparktune.ASHA(...) or sparktune.Hyperband(...), "
            f"got {type(scheduler).__name__}."
        )
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
    if scheduler.max_resource is None and not _whole(default):
        raise ValidationError(
            f"The scheduler's resource {cls}.{param_name} has no whole-number value on the "
            f"estimator ({default!r}); give max_resource."
        )
    for bound in (scheduler.min_resource, scheduler.max_resource):
        if bound is not None and not _whole(bound):
            raise ValidationError(
                f"The scheduler's budgets of {cls}.{param_name} count iterations: "
                f"min_resource and max_resource must be whole numbers, got {bound!r}."
            )
    return scheduler.completed(f"{cls}.{param_name}", default), param


def _whole(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    )
