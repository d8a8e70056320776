"""``RacingCrossValidator``: the drop-in ``CrossValidator`` that races param maps over folds.

The grid runs through the same search as :class:`~sparktune.frontends.validators.CrossValidator`
under :class:`sparktune.Racing`: every map gets ``burnIn`` folds, then a map a paired test
shows worse than the leader is dropped, fold by fold. The model is pyspark's
``CrossValidatorModel``.
"""

from __future__ import annotations

from typing import Any

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame

from sparktune.core.schedulers import Racing
from sparktune.frontends.validators import CrossValidator, CrossValidatorModel

__all__ = ["RacingCrossValidator"]


class RacingCrossValidator(CrossValidator):
    """K-fold cross validation of a grid by racing (tidymodels' ``tune_race_anova`` /
    ``tune_race_win_loss``): maps a test shows worse than the leader stop early.

    Every map runs ``burnIn`` folds first; after each further fold, a map whose per-fold
    metrics are worse than the leader's on the same folds by a one-sided ``test``
    (``"anova"``: paired t-test; ``"win_loss"``: sign test) at level ``alpha`` is dropped.
    ``numRepeats`` repeats the ``numFolds``-fold split with other seeds (5 x 2 gives 10
    steps). ``avgMetrics`` (and ``stdMetrics``) of a dropped map are over the folds it ran;
    ``results`` says how many (``folds_run``) and why it stopped (``stopped_because``). The
    best map ran every fold and is refit on the whole dataset; the model saves as pyspark's
    ``CrossValidatorModel``. With ``collectSubModels``, a dropped map has no model for the
    folds it skipped (None).
    """

    burnIn: Param[int] = Param(
        Params._dummy(),
        "burnIn",
        "folds every param map runs before the first test (>= 2)",
        typeConverter=TypeConverters.toInt,
    )
    alpha: Param[float] = Param(
        Params._dummy(),
        "alpha",
        "the test's level: a map worse than the leader at this p-value is dropped",
        typeConverter=TypeConverters.toFloat,
    )
    test: Param[str] = Param(
        Params._dummy(),
        "test",
        "'anova' (paired t-test on the per-fold metrics) or 'win_loss' (sign test)",
        typeConverter=TypeConverters.toString,
    )
    numRepeats: Param[int] = Param(
        Params._dummy(),
        "numRepeats",
        "how many times the k-fold split is cut, each with another seed (>= 1)",
        typeConverter=TypeConverters.toInt,
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
        burnIn: int = 3,
        alpha: float = 0.05,
        test: str = "anova",
        numRepeats: int = 1,
    ) -> None:
        kwargs = self._input_kwargs
        super().__init__()
        self._setDefault(burnIn=3, alpha=0.05, test="anova", numRepeats=1)
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
        burnIn: int = 3,
        alpha: float = 0.05,
        test: str = "anova",
        numRepeats: int = 1,
    ) -> RacingCrossValidator:
        """Sets params for the racing cross validator."""
        return self._set(**self._input_kwargs)

    def getBurnIn(self) -> int:
        """Gets the value of burnIn."""
        return self.getOrDefault(self.burnIn)

    def setBurnIn(self, value: int) -> RacingCrossValidator:
        """Sets the value of :py:attr:`burnIn`."""
        return self._set(burnIn=value)

    def getAlpha(self) -> float:
        """Gets the value of alpha."""
        return self.getOrDefault(self.alpha)

    def setAlpha(self, value: float) -> RacingCrossValidator:
        """Sets the value of :py:attr:`alpha`."""
        return self._set(alpha=value)

    def getTest(self) -> str:
        """Gets the value of test."""
        return self.getOrDefault(self.test)

    def setTest(self, value: str) -> RacingCrossValidator:
        """Sets the value of :py:attr:`test`."""
        return self._set(test=value)

    def getNumRepeats(self) -> int:
        """Gets the value of numRepeats."""
        return self.getOrDefault(self.numRepeats)

    def setNumRepeats(self, value: int) -> RacingCrossValidator:
        """Sets the value of :py:attr:`numRepeats`."""
        return self._set(numRepeats=value)

    def _fit(self, dataset: DataFrame) -> CrossValidatorModel:
        racing = Racing(self.getBurnIn(), self.getTest(), self.getAlpha(), self.getNumRepeats())
        return self._cross_validate(dataset, racing)
