"""``HalvingCrossValidator``: the drop-in ``CrossValidator`` by successive halving (ASHA).

Like scikit-learn's ``HalvingGridSearchCV`` over pyspark's ``estimatorParamMaps``; the grid
runs through the same search as :class:`~sparktune.frontends.validators.CrossValidator`,
under :class:`sparktune.ASHA`, and the model is pyspark's ``CrossValidatorModel``.
"""

from __future__ import annotations

from typing import Any

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame

from sparktune.core.schedulers import ASHA
from sparktune.frontends.validators import CrossValidator, CrossValidatorModel

__all__ = ["HalvingCrossValidator"]


class HalvingCrossValidator(CrossValidator):
    """K-fold cross validation of a grid by successive halving (ASHA), like scikit-learn's
    ``HalvingGridSearchCV``: every param map gets a small budget, the best third the next.

    The budget is ``resource``: an iteration param of the final estimator (by default its
    usual one, ``maxIter`` for GBTs, ``numTrees`` for forests, else ``"rows"``, a fraction
    of each fold's training part), from ``minResource`` (default ``maxResource /
    factor**2``) to ``maxResource`` (default the estimator's own value, or all rows),
    ``factor`` times more per rung (:class:`sparktune.ASHA`). ``avgMetrics`` (and
    ``stdMetrics``, ``subModels``) of a map pruned below the top rung hold its metric at the
    last rung it reached, on a smaller budget; ``results`` says which (``rung``,
    ``resource``, ``state``). The best map is one that reached ``maxResource``, refit on the
    whole dataset at that budget. The model saves as pyspark's ``CrossValidatorModel``.
    """

    factor: Param[float] = Param(
        Params._dummy(),
        "factor",
        "how many times the budget grows per rung; about 1/factor of the maps go on (>= 2)",
        typeConverter=TypeConverters.toFloat,
    )
    resource: Param[str] = Param(
        Params._dummy(),
        "resource",
        "the budget: an iteration param of the final estimator (e.g. 'maxIter') or 'rows' "
        "(default: the estimator's usual iteration param, else 'rows')",
        typeConverter=TypeConverters.toString,
    )
    minResource: Param[float] = Param(
        Params._dummy(),
        "minResource",
        "the smallest budget, every map's first (default: maxResource / factor**2)",
        typeConverter=TypeConverters.toFloat,
    )
    maxResource: Param[float] = Param(
        Params._dummy(),
        "maxResource",
        "the full budget, the top rung's (default: the estimator's value, or all rows)",
        typeConverter=TypeConverters.toFloat,
    )

    @keyword_only
    def __init__(
        self,
        *,
        estimator: Any = None,
        estimatorParamMaps: Any = None,
        evaluator: Any = None,
        numFolds: int = 3,
        seed: int | None = None,
        parallelism: int = 1,
        collectSubModels: bool = False,
        foldCol: str = "",
        errorPolicy: str = "continue",
        factor: float = 3,
        resource: str | None = None,
        minResource: float | None = None,
        maxResource: float | None = None,
    ) -> None:
        kwargs = self._input_kwargs
        super().__init__()
        self._setDefault(factor=3.0)
        self._set(**kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        estimator: Any = None,
        estimatorParamMaps: Any = None,
        evaluator: Any = None,
        numFolds: int = 3,
        seed: int | None = None,
        parallelism: int = 1,
        collectSubModels: bool = False,
        foldCol: str = "",
        errorPolicy: str = "continue",
        factor: float = 3,
        resource: str | None = None,
        minResource: float | None = None,
        maxResource: float | None = None,
    ) -> HalvingCrossValidator:
        """Sets params for the halving cross validator."""
        return self._set(**self._input_kwargs)

    def getFactor(self) -> float:
        """Gets the value of factor."""
        return self.getOrDefault(self.factor)

    def setFactor(self, value: float) -> HalvingCrossValidator:
        """Sets the value of :py:attr:`factor`."""
        return self._set(factor=value)

    def getResource(self) -> str | None:
        """Gets the value of resource (None: the estimator's usual one)."""
        return self._given(self.resource)

    def setResource(self, value: str) -> HalvingCrossValidator:
        """Sets the value of :py:attr:`resource`."""
        return self._set(resource=value)

    def getMinResource(self) -> float | None:
        """Gets the value of minResource (None: the default)."""
        return self._given(self.minResource)

    def setMinResource(self, value: float) -> HalvingCrossValidator:
        """Sets the value of :py:attr:`minResource`."""
        return self._set(minResource=value)

    def getMaxResource(self) -> float | None:
        """Gets the value of maxResource (None: the default)."""
        return self._given(self.maxResource)

    def setMaxResource(self, value: float) -> HalvingCrossValidator:
        """Sets the value of :py:attr:`maxResource`."""
        return self._set(maxResource=value)

    def _given(self, param: Param[Any]) -> Any:
        return self.getOrDefault(param) if self.isDefined(param) else None

    def _fit(self, dataset: DataFrame) -> CrossValidatorModel:
        scheduler = ASHA(
            self.getResource(), self.getMinResource(), self.getMaxResource(), self.getFactor()
        )
        return self._cross_validate(dataset, scheduler)
