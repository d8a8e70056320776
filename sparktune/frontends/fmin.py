"""``hyperopt.fmin`` with ``SparkTrials``, run by sparktune's engine (``sparktune.hyperopt``).

Code written for ``hyperopt.fmin(fn, space, algo, max_evals, trials=SparkTrials(...))``
runs with only the import changed:

- with :class:`SparkTrials`, every trial is one Spark task (classic or Spark Connect
  session) asked for by the user's ``algo`` (``tpe.suggest``, ``rand.suggest``, ...) with
  ``parallelism`` trials in flight. A trial that raises, or returns ``STATUS_FAIL`` or no
  number, is a failed trial run once (the task returns the error; Spark never retries it);
  the search goes on. ``timeout``, ``loss_threshold``, ``early_stop_fn``, ``rstate`` and
  ``show_progressbar`` mean what they mean in hyperopt, ``points_to_evaluate`` are tried
  first (hyperopt's ``fmin`` ignores them when it is given a trials object), and the
  ``SparkTrials`` object ends up holding hyperopt's trial documents (``trials.trials``,
  ``.results``, ``.losses()``, ``.best_trial``, ``.argmin``); a later ``fmin`` with the
  same object goes on from them up to its ``max_evals`` in all;
- with hyperopt's own ``Trials`` (or none), hyperopt's ``fmin`` runs as it is (the same
  points for the same ``rstate``), except that an exception in ``fn`` is a failed trial.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import hyperopt
import numpy as np
from hyperopt import STATUS_FAIL, STATUS_OK, Trials, tpe
from hyperopt.base import JOB_STATE_DONE
from hyperopt.fmin import space_eval
from pyspark.sql import SparkSession

from sparktune.core.errors import SearchFailedError, ValidationError
from sparktune.core.stopping import Stopper
from sparktune.core.trial import Trial, TrialState
from sparktune.frontends.functions import tune_function
from sparktune.search.base import HyperoptSearch
from sparktune.search.functions import ExpressionSpace
from sparktune.spark.function_checks import check_picklable, check_signature
from sparktune.spark.function_objective import TrialFailed
from sparktune.spark.port import is_connect
from sparktune.spark.slots import cluster_slots

logger = logging.getLogger(__name__)


#: How to run an ``fn`` that cannot be shipped to the executors.
DRIVER_SEARCH = (
    "search on driver threads with sparktune.tune(fn, space, placement='driver') "
    "(needed when fn runs Spark jobs)"
)


class SparkTrials(Trials):
    """hyperopt's ``SparkTrials``: ``parallelism`` trials at once, each one Spark task.

    ``timeout`` (seconds) ends the search and cancels the tasks of unfinished trials;
    ``loss_threshold`` ends it once a loss at or below it is reached; ``spark_session``
    defaults to the active session (classic or Spark Connect). After :func:`fmin` the object
    holds hyperopt's trial documents, as hyperopt's ``SparkTrials`` does.
    """

    asynchronous = True

    def __init__(
        self,
        parallelism: int | None = None,
        timeout: float | None = None,
        loss_threshold: float | None = None,
        spark_session: SparkSession | None = None,
    ) -> None:
        super().__init__()
        if parallelism is not None and (
            not isinstance(parallelism, int) or isinstance(parallelism, bool) or parallelism < 1
        ):
            raise ValidationError(f"parallelism must be a positive integer, got {parallelism!r}.")
        self.parallelism = parallelism
        self.timeout = timeout
        self.loss_threshold = loss_threshold
        self.spark_session = spark_session
        #: Why the last fmin stopped ("max_trials", "timeout", "early_stop_fn", ...).
        self.fmin_stop_reason: str | None = None

    def count_successful_trials(self) -> int:
        """Trials that returned a loss."""
        return sum(r.get("status") == STATUS_OK for r in self.results)

    def count_failed_trials(self) -> int:
        """Trials that raised, or returned ``STATUS_FAIL`` or no number."""
        return sum(r.get("status") == STATUS_FAIL and not r.get("cancelled") for r in self.results)

    def count_cancelled_trials(self) -> int:
        """Trials cancelled by the timeout, or left running by an interrupted ``fmin``."""
        return sum(bool(r.get("cancelled")) for r in self.results)

    def count_total_trials(self) -> int:
        """Every trial run."""
        return len(self.trials)


def fmin(
    fn: Callable[[Any], Any],
    space: Any,
    algo: Callable[..., Any] | None = None,
    max_evals: int | None = None,
    timeout: float | None = None,
    loss_threshold: float | None = None,
    trials: Trials | None = None,
    rstate: np.random.Generator | None = None,
    allow_trials_fmin: bool = True,
    pass_expr_memo_ctrl: bool | None = None,
    catch_eval_exceptions: bool = False,
    verbose: bool = True,
    return_argmin: bool = True,
    points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    max_queue_len: int = 1,
    show_progressbar: bool = True,
    early_stop_fn: Callable[..., Any] | None = None,
    trials_save_file: str = "",
) -> Any:
    """Minimize ``fn`` over ``space``, as ``hyperopt.fmin`` does (same arguments, same return).

    With a :class:`SparkTrials` the trials run through sparktune's engine as Spark tasks;
    otherwise this is hyperopt's ``fmin``, with exceptions in ``fn`` recorded as failed
    trials instead of ending the search.
    """
    if not isinstance(trials, SparkTrials):
        return hyperopt.fmin(
            fn if pass_expr_memo_ctrl else _failing_softly(fn),
            space,
            algo=algo,
            max_evals=max_evals,
            timeout=timeout,
            loss_threshold=loss_threshold,
            trials=trials,
            rstate=rstate,
            allow_trials_fmin=allow_trials_fmin,
            pass_expr_memo_ctrl=pass_expr_memo_ctrl,
            catch_eval_exceptions=catch_eval_exceptions,
            verbose=verbose,
            return_argmin=return_argmin,
            points_to_evaluate=points_to_evaluate,
            max_queue_len=max_queue_len,
            show_progressbar=show_progressbar,
            early_stop_fn=early_stop_fn,
            trials_save_file=trials_save_file,
        )
    check_signature(fn)
    check_picklable(fn, DRIVER_SEARCH)
    resolved = ExpressionSpace(space)
    _check_earlier_trials(trials, resolved)
    _cancel_unfinished(trials)
    remaining = sys.maxsize if max_evals is None else max_evals - len(trials.trials)
    threshold = _least(loss_threshold, trials.loss_threshold)
    reached = _reached(trials, threshold)
    if remaining <= 0 or reached:
        trials.fmin_stop_reason = "loss_threshold" if reached else "max_trials"
        logger.info("fmin: the earlier trials reached %s; none is run", trials.fmin_stop_reason)
        return _best(trials, space, return_argmin)
    seeds = rstate if rstate is not None else _default_rstate()
    search = _FminSearch(resolved, algo or tpe.suggest, seeds, trials, points_to_evaluate or ())
    stopper = _FminStopper(trials, early_stop_fn, threshold)
    spark = _session(trials)
    try:
        result = tune_function(
            fn,
            resolved,
            spark=spark,
            search=search,
            max_trials=remaining,
            parallelism=trials.parallelism or _default_parallelism(spark),
            timeout=_least(timeout, trials.timeout),
            tracking=False,
            progress=show_progressbar,
            stoppers=(stopper,),
        )
        trials.fmin_stop_reason = stopper.reason if stopper.stopped else result.stop_reason
    except SearchFailedError as exc:
        logger.warning("fmin: no trial returned a loss (%s)", exc)
        trials.fmin_stop_reason = "failed"
    return _best(trials, space, return_argmin)


def _best(trials: Trials, space: Any, return_argmin: bool) -> Any:
    """What ``fmin`` returns: the best trial's point, or its values."""
    trials.refresh()
    best = trials.argmin
    return best if return_argmin else space_eval(space, best)


def _cancel_unfinished(trials: SparkTrials) -> None:
    """Mark cancelled the trials an interrupted ``fmin`` left running (they have no result)."""
    for doc in trials.trials:
        if doc["state"] != JOB_STATE_DONE:
            doc["result"] = {
                "status": STATUS_FAIL,
                "loss": None,
                "cancelled": True,
                "error": "cancelled: the fmin that ran it ended before it finished",
            }
            doc["state"] = JOB_STATE_DONE
    trials.refresh()


def _check_earlier_trials(trials: SparkTrials, space: ExpressionSpace) -> None:
    """Trials kept from an earlier ``fmin`` must come from the same space (their labels)."""
    labels = set(space.labels)
    for doc in trials.trials:
        unknown = set(doc["misc"]["vals"]) - labels
        if unknown:
            raise ValidationError(
                f"This SparkTrials holds trials of another space (labels {sorted(unknown)} are "
                f"not in this space's {sorted(labels)}); pass the space they were searched "
                "over, or a fresh SparkTrials()."
            )


class _FminSearch(HyperoptSearch):
    """The user's ``algo`` asked as ``fmin`` asks it: one seed drawn from ``rstate`` per
    trial; the trial documents are the user's ``SparkTrials`` and keep ``fn``'s results.

    Trials kept from an earlier ``fmin`` on the same object are history, as in hyperopt:
    ``algo`` learns from them, their points are not asked again, new trials take the next
    ids.
    """

    def __init__(
        self,
        space: ExpressionSpace,
        algo: Callable[..., Any],
        rstate: np.random.Generator,
        trials: SparkTrials,
        points: Sequence[Mapping[str, Any]],
    ) -> None:
        super().__init__(space, algo, points_to_evaluate=points)
        self.rstate = rstate
        self.hyperopt_trials = trials
        for doc in trials.trials:
            self._docs[doc["tid"]] = doc
            vals = doc["misc"]["vals"]
            point = {label: values[0] for label, values in vals.items() if len(values)}
            self._seen.add(space.key(space.candidate(point)))

    def _seed(self, tid: int, attempt: int) -> int:
        if attempt == 0:
            return int(self.rstate.integers(2**31 - 1))
        return super()._seed(tid, attempt)

    def tell(self, trial: Trial) -> None:
        """Record the trial, then give its document the result ``fn`` returned."""
        super().tell(trial)
        doc = self._numbers.get(trial.number)
        if doc is not None:
            doc["result"] = _result(trial)
            self.hyperopt_trials.refresh()


def _result(trial: Trial) -> dict[str, Any]:
    """A trial's hyperopt result: what ``fn`` returned, with ``status`` and ``loss`` set."""
    if trial.state is TrialState.COMPLETE:
        returned = trial.folds[0].model
        extra = dict(returned) if isinstance(returned, Mapping) else {}
        return {**extra, "status": STATUS_OK, "loss": trial.value}
    returned = getattr(trial.exception, "result", None)
    extra = dict(returned) if isinstance(returned, Mapping) else {}
    result = {"loss": None, **extra, "status": STATUS_FAIL}
    failed = isinstance(trial.exception, TrialFailed)
    result.setdefault("error", str(trial.exception) if failed else trial.error)
    if trial.state is TrialState.CANCELLED:
        result["cancelled"] = True
    return result


class _FminStopper(Stopper):
    """``early_stop_fn`` and ``loss_threshold``, consulted after every finished trial."""

    reason = "early_stop_fn"

    def __init__(
        self, trials: Trials, early_stop_fn: Callable[..., Any] | None, threshold: float | None
    ) -> None:
        self.trials = trials
        self.early_stop_fn = early_stop_fn
        self.threshold = threshold
        self.args: list[Any] = []
        self.stopped = False

    def may_ask(self, asked: int) -> bool:
        """Until ``early_stop_fn`` or the loss threshold says stop."""
        return not self.stopped

    def update(self, completed: bool, improved: bool) -> None:
        """Ask ``early_stop_fn`` (with what it returned last time); check the threshold."""
        if self.stopped:
            return
        if self.early_stop_fn is not None:
            try:
                stop, self.args = self.early_stop_fn(_finished(self.trials), *self.args)
            except Exception:
                logger.exception("early_stop_fn failed; the search goes on without it")
                self.early_stop_fn = None
                stop = False
            if stop:
                self.stopped = True
                return
        if _reached(self.trials, self.threshold):
            self.stopped, self.reason = True, "loss_threshold"


def _reached(trials: Trials, threshold: float | None) -> bool:
    """Whether a loss of ``trials`` is at or below ``threshold`` (never, without one)."""
    losses = [x for x in trials.losses() if x is not None and not math.isnan(x)]
    return threshold is not None and bool(losses) and min(losses) <= threshold


def _finished(trials: Trials) -> Trials:
    """The finished trials in the order they finished, as ``early_stop_fn`` reads them
    (``no_progress_loss`` looks at the last document; a running one has no loss)."""
    done = [doc for doc in trials.trials if doc["state"] == JOB_STATE_DONE]
    view = Trials()
    view.insert_trial_docs(sorted(done, key=lambda doc: doc["refresh_time"] or 0))
    view.refresh()
    return view


def _failing_softly(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` with an exception returned as a failed trial (hyperopt would end the search)."""

    def objective(params: Any) -> Any:
        try:
            return fn(params)
        except Exception as exc:
            logger.warning("trial failed: %s: %s", type(exc).__name__, exc)
            return {
                "status": STATUS_FAIL,
                "loss": None,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }

    return objective


def _least(*values: float | None) -> float | None:
    given = [v for v in values if v is not None]
    return min(given) if given else None


def _default_rstate() -> np.random.Generator:
    """hyperopt's default: ``HYPEROPT_FMIN_SEED`` if set, else a fresh generator."""
    seed = os.environ.get("HYPEROPT_FMIN_SEED", "")
    return np.random.default_rng(int(seed) if seed else None)


def _session(trials: SparkTrials) -> SparkSession:
    if trials.spark_session is not None:
        return trials.spark_session
    active = SparkSession.getActiveSession()
    return active if active is not None else SparkSession.builder.getOrCreate()


def _default_parallelism(spark: SparkSession) -> int:
    """hyperopt's default: the cluster's task slots (at most 128)."""
    if is_connect(spark):
        slots = int(spark.conf.get("spark.default.parallelism", str(os.cpu_count() or 1)))
    else:
        slots = cluster_slots(spark)
    return max(1, min(slots, 128))
