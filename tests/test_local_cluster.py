"""Single-machine trials are Spark tasks placed on the executors of a real 2-worker cluster.

The search runs in a driver subprocess (:func:`cluster.run_driver`); the repository is put on
the driver's and the executors' PYTHONPATH.
"""

from __future__ import annotations

import pytest
from cluster import run_driver

SEARCH = """
import numpy as np, pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
import sparktune

class Slow(RegressorMixin, BaseEstimator):
    def __init__(self, shift=0.0):
        self.shift = shift
    def fit(self, x, y):
        time.sleep(1.0)
        self.mean_ = float(np.mean(y)) + self.shift
        return self
    def predict(self, x):
        return np.full(len(x), self.mean_)

rng = np.random.default_rng(0)
frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
frame["y"] = rng.normal(size=200)
result = sparktune.tune(
    Slow(), {"shift": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]}, frame, "r2", label="y", strategy="grid",
    num_folds=2, parallelism=2, tracking=False, progress=False,
)
table = result.results
json.dump({
    "states": list(table["state"]),
    "executors": sorted(set(table["split0_executor"]) | set(table["split1_executor"])),
    "spans": [
        [s, e] for k in (0, 1) for s, e in zip(table[f"split{k}_started"], table[f"split{k}_ended"])
    ],
}, open(out, "w"))
spark.stop()
"""


@pytest.mark.cluster
def test_trials_run_as_tasks_on_both_executors(tmp_path):
    result = run_driver(tmp_path, SEARCH, "sparktune-local-placement", timeout=300)
    assert result["states"] == ["complete"] * 6
    assert len(result["executors"]) == 2, result  # the folds ran on both workers' executors
    assert "driver" not in result["executors"]
    spans = result["spans"]
    in_flight = max(sum(s <= start < e for s, e in spans) for start, _ in spans)
    assert in_flight == 2, spans  # one task per executor (1 core each), both busy at once
