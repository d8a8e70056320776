"""Schedulers: how much budget each trial gets, behind one interface the engine talks to.

:mod:`~sparktune.core.schedulers.base` holds the interface (a result in, continue / pause /
stop out, promotions of paused trials); the peers are successive halving (:class:`ASHA`,
:class:`Hyperband`) on a budget axis, and :class:`Racing` and :class:`MedianStopping` on
the folds axis. All are Spark-free.
"""

from sparktune.core.schedulers.base import (
    FOLDS,
    ROWS,
    Decision,
    FullBudget,
    Scheduler,
    SchedulerRun,
    Step,
)
from sparktune.core.schedulers.halving import ASHA, Hyperband
from sparktune.core.schedulers.ladder import Ladder
from sparktune.core.schedulers.median import MedianStopping
from sparktune.core.schedulers.racing import Racing

__all__ = [
    "ASHA",
    "FOLDS",
    "ROWS",
    "Decision",
    "FullBudget",
    "Hyperband",
    "Ladder",
    "MedianStopping",
    "Racing",
    "Scheduler",
    "SchedulerRun",
    "Step",
]
