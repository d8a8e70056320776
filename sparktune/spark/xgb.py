"""XGBoost-on-Spark specifics: finding ``xgboost.spark`` stages in a search, and carving an
early-stopping set out of a fold's training part.

``xgboost.spark`` estimators early-stop on the rows a boolean ``validation_indicator_col``
marks. In a search those rows must come from the part of the fold the model trains on,
never from the part it is scored on; :func:`carve_early_stopping` marks a seeded fraction
of the training part and points the stage at that column for one fit.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyspark.ml import Model
from pyspark.ml.param import Param, Params
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sparktune.spark import pipeline

logger = logging.getLogger(__name__)

#: The boolean column marking a fit's early-stopping rows; it exists only on the DataFrame
#: handed to that fit.
EARLY_STOPPING_COL = "__sparktune_early_stopping"

#: The share of a fold's training rows held out for early stopping.
EARLY_STOPPING_FRACTION = 0.1


def is_xgboost(stage: object) -> bool:
    """Whether ``stage`` is an ``xgboost.spark`` estimator (classifier, regressor or ranker)."""
    module = sys.modules.get("xgboost.spark")
    if module is None:  # never imported, so no stage can be one (and none is imported here)
        return False
    classes = (module.SparkXGBClassifier, module.SparkXGBRegressor, module.SparkXGBRanker)
    return isinstance(stage, classes)


def xgboost_stages(
    stages: Iterable[Params], options: Mapping[Param, Sequence[Any]]
) -> list[Params]:
    """Every ``xgboost.spark`` estimator among ``stages`` or held by them (through
    Params-valued params, including the values ``options`` may give those params)."""
    found: dict[str, Params] = {}
    for stage in stages:
        for uid, obj in pipeline.reachable(stage, options).items():
            if is_xgboost(obj):
                found[uid] = obj
    return list(found.values())


def setting(stage: Params, name: str, param_map: Mapping[Param, Any]) -> Any:
    """The value param ``name`` of ``stage`` takes in a fit with ``param_map``."""
    param = stage.getParam(name)
    if param in param_map:
        return param_map[param]
    return stage.getOrDefault(param) if stage.isDefined(param) else None


def early_stopping_stages(stages: Iterable[Params], param_map: Mapping[Param, Any]) -> list[Params]:
    """The xgboost stages a fit with ``param_map`` runs with ``early_stopping_rounds`` set and
    no ``validation_indicator_col`` of the user's own."""
    options = {param: [value] for param, value in param_map.items()}
    return [
        stage
        for stage in xgboost_stages(stages, options)
        if setting(stage, "early_stopping_rounds", param_map) is not None
        and not setting(stage, "validationIndicatorCol", param_map)
    ]


def carve_early_stopping(
    train: DataFrame,
    stages: Iterable[Params],
    param_map: Mapping[Param, Any],
    seed: int,
    fraction: float = EARLY_STOPPING_FRACTION,
) -> tuple[DataFrame, dict[Param, Any]]:
    """Mark a seeded ``fraction`` of ``train`` as the early-stopping set of the xgboost stages
    that early-stop, and return the marked data with a param map pointing them at it.

    Only rows of ``train`` (the part a fold fits on) are ever marked, so the rows a model is
    scored on never steer its early stopping. Without such a stage, both come back unchanged.
    A ``validation_indicator_col`` the user set is left alone: it too selects among the
    training rows the fit is given.
    """
    targets = early_stopping_stages(stages, param_map)
    if not targets:
        return train, dict(param_map)
    marked = train.withColumn(EARLY_STOPPING_COL, F.rand(seed) < F.lit(fraction))
    fit_map = dict(param_map)
    for stage in targets:
        fit_map[stage.getParam("validationIndicatorCol")] = EARLY_STOPPING_COL
    logger.debug(
        "early stopping on %.0f%% of the training rows (seed %d) for %s",
        100 * fraction,
        seed,
        [s.uid for s in targets],
    )
    return marked, fit_map


def refit(
    estimator: Params, dataset: DataFrame, param_map: Mapping[Param, Any], seed: int = 0
) -> Model:
    """Fit ``estimator`` with ``param_map`` on all of ``dataset`` (the best candidate, after a
    search), carving any xgboost early-stopping set out of it as the search's folds did."""
    stages = pipeline.flatten(estimator, param_map)
    data, fit_map = carve_early_stopping(dataset, stages, param_map, seed)
    return estimator.fit(data, params=fit_map)


def xgboost_version() -> tuple[int, int]:
    """The installed xgboost's (major, minor) version, (0, 0) when it is not installed."""
    try:
        text = importlib.metadata.version("xgboost")
    except importlib.metadata.PackageNotFoundError:
        return (0, 0)
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)
