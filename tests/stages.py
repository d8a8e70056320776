"""Small real pyspark stages for tests: one that counts its fits, one that fails on demand."""

from __future__ import annotations

import threading
from collections import Counter

from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters

FITS: Counter[str] = Counter()
_LOCK = threading.Lock()


class _PassThrough(Model):
    def _transform(self, dataset):
        return dataset


class CountingStage(Estimator):
    """A featurizer that passes data through and counts how often it is fitted (by uid)."""

    def _fit(self, dataset):
        with _LOCK:
            FITS[self.uid] += 1
        return _PassThrough()


class FailingStage(Estimator):
    """Raises in fit when ``fail`` is true (a param map that cannot be fitted), or when it
    gets more than ``maxRows`` rows (a refit on the whole data that fails where folds fit)."""

    fail = Param(Params._dummy(), "fail", "raise in fit", typeConverter=TypeConverters.toBoolean)
    maxRows = Param(
        Params._dummy(), "maxRows", "raise above this many rows", typeConverter=TypeConverters.toInt
    )

    @keyword_only
    def __init__(self, fail: bool = False, maxRows: int = 2**31 - 1):
        super().__init__()
        self._setDefault(fail=False, maxRows=2**31 - 1)
        self._set(**self._input_kwargs)

    def _fit(self, dataset):
        if self.getOrDefault(self.fail):
            raise RuntimeError("FailingStage was asked to fail")
        rows = dataset.count() if self.isSet(self.maxRows) else 0
        if rows > self.getOrDefault(self.maxRows):
            raise RuntimeError(f"FailingStage got {rows} rows, more than its maxRows")
        return _PassThrough()
