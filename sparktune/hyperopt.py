"""A drop-in for ``hyperopt``: change the import, keep the code.

``from sparktune.hyperopt import fmin, SparkTrials, Trials, hp, tpe, rand, space_eval,
STATUS_OK, STATUS_FAIL`` runs code written for ``hyperopt.fmin(..., trials=SparkTrials(...))``
on a classic or Spark Connect session, each trial one Spark task run by sparktune's engine
(:mod:`sparktune.frontends.fmin`). Everything else is hyperopt's own.
"""

from hyperopt import (
    STATUS_FAIL,
    STATUS_OK,
    Trials,
    anneal,
    hp,
    rand,
    space_eval,
    tpe,
)
from hyperopt.early_stop import no_progress_loss

from sparktune.frontends.fmin import SparkTrials, fmin

__all__ = [
    "STATUS_FAIL",
    "STATUS_OK",
    "SparkTrials",
    "Trials",
    "anneal",
    "fmin",
    "hp",
    "no_progress_loss",
    "rand",
    "space_eval",
    "tpe",
]
