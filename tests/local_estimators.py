"""Tiny scikit-learn estimators for the single-machine tests (shipped to executors by value)."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


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
