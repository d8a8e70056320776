"""Task-slot accounting: how many task slots the cluster offers, how many one fit needs,
and so how many fits may run at once.

An ``xgboost.spark`` fit is a barrier job of ``num_workers`` tasks: it starts only when all
its tasks fit in free slots at once. With ``num_workers`` above the cluster's slots Spark
retries its barrier slot check for about 10 minutes before failing, and barrier fits beyond
the free slots queue behind each other, so a search's ``parallelism`` would measure waiting,
not work. :func:`plan_concurrency` fails before any fit in the first case and lowers the
parallelism in the second. Ordinary fits (1 slot "per fit" here) share slots task by task
and never wait on a barrier, so searches without a barrier stage keep their parallelism.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.ml.param import Param, Params
from pyspark.sql import SparkSession

from sparktune.compat.pyspark import concurrent_task_slots, conf_seconds, is_local_master
from sparktune.core.errors import ValidationError
from sparktune.core.trial import Candidate, Trial
from sparktune.spark import xgb

logger = logging.getLogger(__name__)

#: The first xgboost whose ``xgboost.spark`` estimators train on Spark Connect.
XGBOOST_CONNECT = (3, 3)

_WAIT_CONF = "spark.scheduler.maxRegisteredResourcesWaitingTime"


def cluster_slots(spark: SparkSession, need: int = 1) -> int:
    """How many tasks the cluster can run at once: ``local[N]`` gives N, ``local[*]`` the
    cores, a cluster the sum of its executors' cores; each divided by ``spark.task.cpus``.

    Executors of a cluster register after the session starts, so on a non-local master this
    waits (up to ``spark.scheduler.maxRegisteredResourcesWaitingTime``, 30 s by default) for
    ``need`` slots to appear before answering.
    """
    slots = concurrent_task_slots(spark)
    if is_local_master(spark) or slots >= need:
        return slots
    deadline = time.monotonic() + conf_seconds(spark, _WAIT_CONF, "30s")
    while slots < need and time.monotonic() < deadline:
        time.sleep(0.5)
        slots = concurrent_task_slots(spark)
    return slots


def _num_workers(stage: Params, options: Mapping[Param, Sequence[Any]]) -> int:
    values = [v for v in options.get(stage.getParam("num_workers"), ()) if v is not None]
    if not values:
        values = [xgb.setting(stage, "num_workers", {})]
    return max(int(v) for v in values)


def fit_slots(
    stages: Iterable[Params], options: Mapping[Param, Sequence[Any]]
) -> tuple[int, Params | None]:
    """The most slots one fit needs at once, and the stage that needs them (None: 1 slot).

    That is the largest ``num_workers`` of any ``xgboost.spark`` stage reachable from
    ``stages``, over the values ``options`` may give it (else its own value); stages of one
    pipeline fit one after another, so their needs do not add up.
    """
    need, owner = 1, None
    for stage in xgb.xgboost_stages(stages, options):
        workers = _num_workers(stage, options)
        if workers > need or owner is None:
            need, owner = max(need, workers), stage
    return need, owner


def check_barrier_conf(conf: Mapping[str, str], is_local: bool) -> None:
    """Fail when dynamic allocation is on for a non-local master: barrier jobs refuse it."""
    enabled = conf.get("spark.dynamicAllocation.enabled", "false").strip().lower() == "true"
    testing = conf.get("spark.dynamicAllocation.testing", "false").strip().lower() == "true"
    if enabled and (not is_local or testing):
        raise ValidationError(
            "spark.dynamicAllocation.enabled is true, but xgboost.spark trains in barrier mode, "
            "which Spark refuses under dynamic allocation. Start the session with "
            "spark.dynamicAllocation.enabled=false and a fixed number of executors."
        )


def check_classic(spark: object) -> None:
    """Fail on a Spark Connect session unless the installed xgboost trains there (3.3+)."""
    if isinstance(spark, SparkSession):
        return
    installed = xgb.xgboost_version()
    if installed >= XGBOOST_CONNECT:
        return
    needed = ".".join(map(str, XGBOOST_CONNECT))
    raise ValidationError(
        f"xgboost.spark trains on Spark Connect from xgboost {needed}, but xgboost "
        f"{'.'.join(map(str, installed))} is installed and the data belongs to a "
        f"{type(spark).__module__}.{type(spark).__name__} (Spark Connect). Install "
        f"xgboost>={needed}, or build a classic session with SparkSession.builder.master(...) "
        "instead of .remote(...)."
    )


@dataclass(frozen=True)
class Concurrency:
    """How many fits a search runs at once; with barrier fits, the slots that bound them."""

    parallelism: int
    slots: int | None = None
    stages: tuple[Params, ...] = ()

    def guard(self, strategy: Any) -> Any:
        """``strategy``, checked so that no candidate it asks for needs more than the slots."""
        if self.slots is None:
            return strategy
        return _SlotGuard(strategy, self.slots, self.stages)


class _SlotGuard:
    """Wraps a strategy: a candidate whose fit needs more slots than exist fails the search
    before its fit (for values the search space could not list up front)."""

    def __init__(self, strategy: Any, slots: int, stages: Sequence[Params]) -> None:
        self._strategy = strategy
        self._slots = slots
        self._stages = stages

    def ask(self) -> Candidate | None:
        """The wrapped strategy's next candidate, once its slot need is known to fit."""
        candidate = self._strategy.ask()
        if candidate is None:
            return candidate
        options = {param: [value] for param, value in candidate.param_map.items()}
        need, owner = fit_slots(self._stages, options)
        if need > self._slots:
            raise ValidationError(_too_many(need, owner, self._slots, dict(candidate.params)))
        return candidate

    def tell(self, trial: Trial) -> None:
        """Pass a told trial (ended, or paused after a rung) on to the wrapped strategy."""
        self._strategy.tell(trial)


def _too_many(need: int, owner: Params | None, slots: int, where: Any = None) -> str:
    name = f"{owner.uid} ({type(owner).__name__})" if owner is not None else "a stage"
    candidate = f" with params {where}" if where else ""
    return (
        f"{name}{candidate} trains with num_workers={need}, but the cluster offers only "
        f"{slots} task slot(s) (cores / spark.task.cpus over all executors). XGBoost runs one "
        f"barrier task per worker and needs all {need} at once; Spark would wait about 10 "
        f"minutes and then fail. Set num_workers to at most {slots}, or give the cluster more "
        "cores or executors."
    )


def plan_concurrency(
    spark: Any,
    stages: Sequence[Params],
    options: Mapping[Param, Sequence[Any]],
    parallelism: int,
) -> Concurrency:
    """Check a search with barrier (xgboost) stages against the cluster, before any fit.

    Raises :class:`ValidationError` when a fit needs more slots than the cluster offers, on
    Spark Connect, or under dynamic allocation; otherwise returns the parallelism to run at,
    ``floor(slots / slots per fit)`` at most (and at least 1), warning when that is lower
    than asked. Searches without a barrier stage keep ``parallelism`` untouched.
    """
    if not xgb.xgboost_stages(stages, options):
        return Concurrency(parallelism)
    check_classic(spark)
    if not isinstance(spark, SparkSession):  # Spark Connect (xgboost 3.3+): no slot view
        logger.info("Spark Connect: XGBoost's barrier fits are not checked against task slots")
        return Concurrency(parallelism)
    sc = spark.sparkContext
    check_barrier_conf(dict(sc.getConf().getAll()), is_local_master(spark))
    need, owner = fit_slots(stages, options)
    slots = cluster_slots(spark, need)
    if need > slots:
        raise ValidationError(_too_many(need, owner, slots))
    effective = max(1, min(parallelism, slots // need))
    if effective < parallelism:
        logger.warning(
            "parallelism lowered from %d to %d: each XGBoost fit needs %d of the cluster's %d "
            "task slots (num_workers=%d) and a barrier fit waits until all its tasks fit at once",
            parallelism,
            effective,
            need,
            slots,
            need,
        )
    else:
        logger.info(
            "parallelism %d: each XGBoost fit needs %d of %d task slots", effective, need, slots
        )
    return Concurrency(effective, slots, tuple(stages))
