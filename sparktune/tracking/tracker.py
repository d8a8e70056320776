"""The search's MLflow callback: a parent run per search, a child run per trial, the best model.

Turning it on:

- ``sparktune.tune(..., tracking=True)`` (the default when MLflow is installed: without it
  a search runs untracked, saying so once, and ``True`` names the extra) logs to MLflow's
  default store
  (``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///mlflow.db`` in the working directory);
  ``tracking="http://host:5000"`` (any MLflow URI) picks the store, ``tracking=False`` turns
  it off, ``experiment="name"`` picks the experiment (default: ``MLFLOW_EXPERIMENT_NAME``,
  ``MLFLOW_EXPERIMENT_ID``, the experiment of an active ``mlflow.start_run()`` run, else
  MLflow's "Default"). A :class:`~sparktune.tracking.settings.Tracking` object sets the
  same plus the retry settings.
- The drop-in classes: ``sparktune.tracking.track(cv, tracking=True, experiment=None)``
  makes every later ``cv.fit(df)`` of a ``CrossValidator`` / ``TrainValidationSplit``
  tracked the same way (strategy "grid", its best model refit by ``fit``); the fitted
  model then carries ``run_id`` and ``unlogged_trials``, as ``tune``'s result does.

What is logged: the parent run holds the search's settings, the data's shape, the Spark
master and relevant conf (secrets redacted, :mod:`sparktune.tracking.redaction`), then the
best trial's metrics and params, the results table (CSV), the plots of
:mod:`sparktune.tracking.plots` (PNG) and the refit best model
(:mod:`sparktune.tracking.models`). Each trial gets a child run (``mlflow.parentRunId``)
with its row of the results table (:mod:`sparktune.tracking.records`).

How: every write goes through :class:`MlflowClient` with explicit run ids, batched, on the
one thread of :class:`~sparktune.tracking.writer.Writer`, so k trials finishing together
never mix their params; the search threads only submit. At the end of the search the tracker
waits at most ``drain_timeout`` seconds for pending writes, then reports (``logging.warning``
and :attr:`MlflowTracker.unlogged_trials`) the trials it could not log: MLflow being down
never takes the search down. MLflow's own HTTP retries (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``,
``MLFLOW_HTTP_REQUEST_TIMEOUT``) apply inside each attempt. While a tracked search runs,
MLflow autologging is paused (:mod:`sparktune.tracking.autolog`), so no fit is logged twice.

mlflow is imported lazily (it takes seconds), on the writer thread where possible.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from sparktune.core.callbacks import Callback
from sparktune.core.engine import Engine
from sparktune.core.errors import describe_error
from sparktune.core.settings import ErrorPolicy, SearchSettings
from sparktune.core.trial import Trial, TrialState
from sparktune.tracking.artifacts import log_files, search_files
from sparktune.tracking.autolog import autolog_paused
from sparktune.tracking.models import (
    installed_version,
    pip_requirements,
    save_model,
    signature_and_example,
    upload_model,
)
from sparktune.tracking.records import (
    RUN_STATUS,
    context_tags,
    get_or_create_experiment,
    log_batch,
    rung_history,
    trial_record,
)
from sparktune.tracking.redaction import Redactor, relevant_conf, spark_conf
from sparktune.tracking.settings import Tracking
from sparktune.tracking.writer import Job, Writer

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)


class MlflowTracker(Callback):
    """Logs one search to MLflow: a parent run, a child run per trial, then the best model.

    Add it to a search's callbacks, and call :meth:`finish` once the best model is refit
    (or :meth:`close` if the search is abandoned). ``settings`` (strategy, space, folds,
    seed, max_trials, ...) and the ``data`` with its ``label`` column describe the search on
    the parent run. One tracker tracks one search.
    """

    def __init__(
        self,
        options: Tracking,
        settings: SearchSettings,
        *,
        spark: SparkSession,
        data: DataFrame | pd.DataFrame | None = None,
        label: str | None = None,
    ) -> None:
        self.options = options
        self.settings = settings
        self.spark = spark
        self.data = data
        self.label = label
        self.uri = self.options.uri
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.unlogged_trials: list[int] = []
        self._trials: list[Trial] = []
        self._parallelism = settings.parallelism
        self._client: MlflowClient | None = None
        self._writer: Writer | None = None
        self._redactor = Redactor()
        self._params: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._parent_of: str | None = None
        self._parent_logged = False
        self._larger_is_better = settings.larger_is_better
        self._autolog = contextlib.ExitStack()
        self._closed = False

    # -- engine hooks -------------------------------------------------------------------
    def on_search_start(self, engine: Engine) -> None:
        """Describe the search, pause autologging and start creating the parent run."""
        if self._writer is not None:
            raise RuntimeError("An MlflowTracker tracks one search; create one per search.")
        self._parallelism = engine.parallelism
        conf = spark_conf(self.spark)
        self._redactor = Redactor.for_session(conf)
        self._params = self._search_params(conf)
        self._tags = {
            "sparktune.search": engine.tag,
            "sparktune.version": installed_version("sparktune"),
        }
        self._follow_active_run()
        if self.uri is None and "mlflow" in sys.modules:
            import mlflow

            self.uri = mlflow.get_tracking_uri()
        self._autolog.enter_context(autolog_paused())
        options = self.options
        self._writer = Writer(options.attempts, options.backoff, options.max_backoff)
        self._writer.submit(Job("the parent run", self._ensure_parent))

    def on_trial_end(self, trial: Trial) -> None:
        """Queue the trial's child run."""
        if self._writer is None or self._closed:
            return
        self._writer.submit(Job(f"trial {trial.number}", self._child_action(trial), trial.number))

    def on_search_end(self, trials: Sequence[Trial], error: BaseException | None) -> None:
        """Close the parent run now if the search is about to raise (nothing to refit).

        It raises when an error is on its way out, when no trial completed (none ran, say,
        before a timeout), or when a trial failed under the raise policy.
        """
        self._trials = list(trials)
        if error is not None:
            self.close("FAILED" if isinstance(error, Exception) else "KILLED")
            return
        complete = [t for t in trials if t.state is TrialState.COMPLETE]
        failed = any(t.state is TrialState.FAILED for t in trials)
        if not complete or (failed and self.settings.error_policy is ErrorPolicy.RAISE):
            self.close("FAILED")

    # -- end of the search --------------------------------------------------------------
    def finish(
        self,
        best_trial: Trial,
        results: pd.DataFrame,
        best_model: Any = None,
        *,
        stop_reason: str | None = None,
        elapsed: float | None = None,
        status: str = "FINISHED",
    ) -> None:
        """Log the best trial, the results table, the plots and the refit model; close.

        ``status`` ends the parent run (FAILED when the refit failed). Blocks until
        everything is written or ``drain_timeout`` has passed.
        """
        if self._writer is None or self._closed:
            return
        self._writer.submit(
            Job("the best trial", self._best_action(best_trial, stop_reason, elapsed))
        )
        # Built here: matplotlib is not thread-safe, and the table may hold secrets to redact.
        artifacts = search_files(
            results, self._params, best_trial.primary, self._larger_is_better, self._redactor
        )
        self._writer.submit(Job("the results table and plots", self._artifact_action(artifacts)))
        if best_model is not None and self.options.log_model:
            try:
                self._writer.submit(Job("the best model", self._model_action(best_model)))
            except Exception as exc:  # the search and its other records still get logged
                logger.warning("MLflow: could not save the best model: %s", describe_error(exc))
        self.close(status)

    def close(self, status: str = "FAILED") -> None:
        """End the parent run with ``status``, wait for pending writes, resume autologging."""
        if self._writer is None or self._closed:
            return
        self._closed = True
        self._writer.submit(Job("the parent run's end", self._end_action(status)))
        waited = time.monotonic()
        left = self._writer.drain(self.options.drain_timeout)
        logger.info(
            "MLflow: run %s %s; waited %.1f s for pending writes",
            self.run_id,
            status,
            time.monotonic() - waited,
        )
        self._autolog.close()
        failed = self._writer.failed + left
        self.unlogged_trials = sorted(job.trial for job in failed if job.trial is not None)
        if left:
            logger.warning(
                "MLflow: gave up after %.0f s on %d pending write(s): %s",
                self.options.drain_timeout,
                len(left),
                ", ".join(job.label for job in left),
            )
        if self.unlogged_trials:
            logger.warning(
                "MLflow: %d trial(s) were not logged to %s: %s",
                len(self.unlogged_trials),
                self.uri,
                self.unlogged_trials,
            )

    # -- what is logged -----------------------------------------------------------------
    def _search_params(self, conf: Mapping[str, str]) -> dict[str, str]:
        params: dict[str, Any] = {**self.settings.described(), "parallelism": self._parallelism}
        params["spark.master"] = conf.get("spark.master", "unknown")
        params["spark.version"] = self.spark.version
        params.update(self._redactor.conf(relevant_conf(conf)))
        if self.label is not None:
            params["data.label"] = self.label
        if self.data is not None:
            params["data.columns"] = len(self.data.columns)
            params["data.column_names"] = ", ".join(map(str, self.data.columns))
        return {k: self._redactor.text(v) for k, v in params.items()}

    def _follow_active_run(self) -> None:
        """Nest under the caller's active MLflow run, when it is in the same store."""
        if "mlflow" not in sys.modules:
            return
        import mlflow

        active = mlflow.active_run()
        if active is None:
            return
        if self.uri is None or self.uri == mlflow.get_tracking_uri():
            self._parent_of = active.info.run_id
            if self.options.experiment is None:
                self.experiment_id = active.info.experiment_id

    def _ensure_parent(self) -> None:
        client = self._mlflow()
        if self.run_id is None:
            if self.data is not None and "data.rows" not in self._params:
                self._params["data.rows"] = str(self._rows())
            experiment = self._experiment(client)
            tags = dict(self._tags)
            if self._parent_of:
                tags["mlflow.parentRunId"] = self._parent_of
            tags = {k: self._redactor.text(v) for k, v in context_tags(tags).items()}
            run = client.create_run(experiment, tags=tags, run_name=self.options.run_name)
            self.run_id = run.info.run_id
            logger.info("MLflow: search logged as run %s in %s", self.run_id, self.uri)
        if not self._parent_logged:
            log_batch(client, self.run_id, params=self._params)
            self._parent_logged = True

    def _rows(self) -> int | str:
        if not isinstance(self.data, DataFrame):  # a pandas frame (single-machine search)
            return len(self.data)
        try:
            return self.data.count()
        except Exception as exc:  # the data may be gone; the search has its own checks
            logger.warning("MLflow: could not count the data's rows: %s", describe_error(exc))
            return "unknown"

    def _experiment(self, client: MlflowClient) -> str:
        if self.experiment_id is not None and self.options.experiment is None:
            return self.experiment_id
        name = self.options.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        if not name:
            self.experiment_id = os.environ.get("MLFLOW_EXPERIMENT_ID") or "0"
            return self.experiment_id
        self.experiment_id = get_or_create_experiment(client, name)
        return self.experiment_id

    def _child_action(self, trial: Trial) -> Callable[[], None]:
        params, metrics, tags = trial_record(trial, self._larger_is_better)
        scheduler = self.settings.scheduler
        history = rung_history(trial, scheduler is not None and not scheduler.integral)
        for key, _, _ in history:  # its steps hold it, the last one the trial's value
            metrics.pop(key, None)
        params = {k: self._redactor.text(v) for k, v in params.items()}
        tags = {k: self._redactor.text(v) for k, v in tags.items()}
        tags["sparktune.search"] = self._tags["sparktune.search"]
        state: dict[str, Any] = {}

        def action() -> None:
            self._ensure_parent()
            client = self._mlflow()
            if "run_id" not in state:
                child_tags = {**tags, "mlflow.parentRunId": self.run_id}
                run = client.create_run(
                    self.experiment_id,
                    start_time=int(trial.started * 1000) or None,
                    tags=child_tags,
                )
                state["run_id"] = run.info.run_id
            if "logged" not in state:
                log_batch(
                    client,
                    state["run_id"],
                    params=params,
                    metrics=metrics,
                    timestamp=int(trial.finished * 1000) or None,
                    history=history,
                )
                state["logged"] = True
            client.set_terminated(
                state["run_id"],
                status=RUN_STATUS[trial.state],
                end_time=int(trial.finished * 1000) or None,
            )

        return action

    def _best_action(
        self, best: Trial, stop_reason: str | None, elapsed: float | None
    ) -> Callable[[], None]:
        params, metrics, _ = trial_record(best, self._larger_is_better)
        counts = {
            f"trials_{state.value}": float(sum(t.state is state for t in self._trials))
            for state in TrialState
            if state is not TrialState.PAUSED  # a trial's last state is never paused
        }
        if elapsed is not None:
            counts["elapsed_seconds"] = float(elapsed)
        tags = {"sparktune.best_trial": str(best.number)}
        if stop_reason:
            tags["sparktune.stop_reason"] = str(stop_reason)
        best_params = {f"best.{k}": self._redactor.text(v) for k, v in params.items()}

        def action() -> None:
            self._ensure_parent()
            log_batch(
                self._mlflow(),
                self.run_id,
                params=best_params,
                metrics={**metrics, **counts},
                tags=tags,
            )

        return action

    def _artifact_action(self, files: Mapping[str, Any]) -> Callable[[], None]:
        done: set[str] = set()

        def action() -> None:
            self._ensure_parent()
            log_files(self._mlflow(), self.run_id, files, done)

        return action

    def _model_action(self, model: Any) -> Callable[[], None]:
        signature, example = signature_and_example(model, self.data, self.label)
        saved = save_model(
            model, signature=signature, input_example=example, requirements=pip_requirements(model)
        )

        def action() -> None:
            self._ensure_parent()
            upload_model(self._mlflow(), self.run_id, saved)
            saved.cleanup()  # a job never run or given up on leaves it to the finalizer

        return action

    def _end_action(self, status: str) -> Callable[[], None]:
        def action() -> None:
            self._ensure_parent()
            self._mlflow().set_terminated(self.run_id, status=status)

        return action

    def _mlflow(self) -> MlflowClient:
        if self._client is None:
            import mlflow
            from mlflow import MlflowClient

            self.uri = self.uri or mlflow.get_tracking_uri()
            self._client = MlflowClient(self.uri)
        return self._client
