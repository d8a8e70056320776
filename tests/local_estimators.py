"""Tiny scikit-learn estimators for the single-machine tests (shipped to executors by value)."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin


class SlowMean(RegressorMixin, BaseEstimator):
    """Predicts the training mean after sleeping ``sleep`` seconds in ``fit``; fails on demand."""

    def __init__(self, sleep: float = 0.0, fail: bool = False, shift: float = 0.0):
        self.sleep = sleep
        self.fail = fail
        self.shift = shift

    def fit(self, x, y):
        if self.fail:
            raise RuntimeError("SlowMean was asked to fail")
        time.sleep(self.sleep)
        self.mean_ = float(np.mean(y)) + self.shift
        return self

    def predict(self, x):
        return np.full(len(x), self.mean_)


class FitMarker(RegressorMixin, BaseEstimator):
    """A regressor whose ``fit`` writes the file ``mark`` (a test's proof that a fit ran)."""

    def __init__(self, mark: str = "", alpha: float = 1.0):
        self.mark = mark
        self.alpha = alpha

    def fit(self, x, y):
        if self.mark:
            with open(self.mark, "a") as out:
                out.write("fit\n")
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, x):
        return np.full(len(x), self.mean_)


class FitMarkerClassifier(ClassifierMixin, FitMarker):
    """:class:`FitMarker` as a classifier (predicts the first class)."""

    def fit(self, x, y):
        super().fit(x, np.zeros(len(y)))
        self.classes_ = np.unique(y)
        return self

    def predict(self, x):
        return np.full(len(x), self.classes_[0])
