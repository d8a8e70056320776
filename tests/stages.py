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
    """Raises in fit when ``fail`` is true: a param map that cannot be fitted."""

    fail = Param(Params._dummy(), "fail", "raise in fit", typeConverter=TypeConverters.toBoolean)

    @keyword_only
    def __init__(self, fail: bool = False):
        super().__init__()
        self._setDefault(fail=False)
        self._set(**self._input_kwargs)

    def _fit(self, dataset):
        if self.getOrDefault(self.fail):
            raise RuntimeError("FailingStage was asked to fail")
        return _PassThrough()
