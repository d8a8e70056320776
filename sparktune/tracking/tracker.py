"""MLflow tracking of searches: a parent run per search, a child run per trial, the best model.

Turning it on:

- ``sparktune.tune(..., tracking=True)`` (the default) logs to MLflow's default store
  (``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///mlflow.db`` in the working directory);
  ``tracking="http://host:5000"`` (any MLflow URI) picks the store, ``tracking=False`` turns
  it off, ``experiment="name"`` picks the experiment (default: ``MLFLOW_EXPERIMENT_NAME``,
  ``MLFLOW_EXPERIMENT_ID``, the experiment of an active ``mlflow.start_run()`` run, else
  MLflow's "Default"). A :class:`Tracking` object sets the same plus the retry settings.
- The drop-in classes: ``sparktune.tracking.track(cv, tracking=True, experiment=None)``
  makes every later ``cv.fit(df)`` of a ``CrossValidator`` / ``TrainValidationSplit``
  tracked the same way (strategy "grid", its best model refit by ``fit``); the fitted
  model then carries ``run_id`` and ``unlogged_trials``, as ``tune``'s result does.

What is logged: the parent run holds the search's settings, the data's shape, the Spark
master and relevant conf (any key that looks like a secret redacted, and no value of a
secret-named environment variable anywhere), then the best trial's metrics and params,
the results table (CSV), the plots of :mod:`sparktune.tracking.plots` (PNG) and the refit best model
(Spark flavor, with a signature and an input example). Each trial gets a child run
(``mlflow.parentRunId``) with exactly the trial's params, every metric on validation and
training (mean, std, per fold), fit time, its state and the error of a failed trial.

How: every write goes through :class:`MlflowClient` with explicit run ids, batched, on one
writer thread, so k trials finishing together never mix their params and a sqlite store
never sees concurrent writers; the search threads only enqueue. A failed write is retried
with exponential backoff; while MLflow keeps failing each later write gets one attempt.
At the end of the search the tracker waits at most ``drain_timeout`` seconds for pending
writes, then reports (``logging.warning`` and :attr:`MlflowTracker.unlogged_trials`) the
trials it could not log: MLflow being down never takes the search down. MLflow's own HTTP
retries (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_TIMEOUT``) apply inside
each attempt. While a tracked search runs, ``mlflow.pyspark.ml.autolog`` is paused, so no
fit is logged twice.

mlflow is imported lazily (it takes seconds), on the writer thread where possible.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import math
import numbers
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
from pyspark.ml.param import Params
from pyspark.sql import DataFrame, SparkSession

from sparktune.core.callbacks import Callback
from sparktune.core.engine import Engine
from sparktune.core.errors import ValidationError, describe_error
from sparktune.core.results import results_frame
from sparktune.core.settings import ErrorPolicy, SearchSettings
from sparktune.core.trial import Trial, TrialState

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

#: A key (Spark conf or environment variable name) that holds a secret.
SECRET_NAME = re.compile(r"password|secret|token|key|credential", re.IGNORECASE)
REDACTED = "*********(redacted)"
#: ``name=value`` and ``"name": "value"`` where the name looks secret (e.g. in JVM options).
_ASSIGNMENT = re.compile(
    r"(?P<name>[\w.\-]*(?:password|secret|token|key|credential)[\w.\-]*)"
    r"(?P<sep>\"?\s*[=:]\s*\"?|=)(?P<value>[^\s,;&\"']+)",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][\w+.\-]*://)[^/\s:@]+:[^/\s@]+@")
#: Spark conf entries logged on the parent run (prefixes), minus the noisy ones below.
RELEVANT_CONF = (
    "spark.app.name",
    "spark.submit.deployMode",
    "spark.driver.",
    "spark.executor.",
    "spark.task.",
    "spark.cores.max",
    "spark.default.parallelism",
    "spark.dynamicAllocation.",
    "spark.memory.",
    "spark.sql.shuffle.partitions",
    "spark.sql.adaptive.",
    "spark.hadoop.",
    "spark.kubernetes.",
    "spark.yarn.",
    "spark.jars",
    "spark.python.",
)
_NOISY_CONF = re.compile(r"extraJavaOptions|\.host$|\.port$|\.id$|startTime|bindAddress")
#: MLflow's limits on one param value and one tag value.
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
MAX_ERROR_LENGTH = 2000
_NOT_METRICS = {"trial", "state", "error", "rank"}

V = TypeVar("V")


@dataclass(frozen=True)
class Tracking:
    """Where a search is tracked and how hard the tracker tries.

    ``uri`` None means MLflow's default. ``attempts`` tries per write, waiting ``backoff``
    seconds before the second and doubling up to ``max_backoff``; at the end of a search
    pending writes get at most ``drain_timeout`` seconds before they are reported unlogged.
    """

    uri: str | None = None
    experiment: str | None = None
    run_name: str | None = None
    attempts: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0
    drain_timeout: float = 120.0
    log_model: bool = True

    def __post_init__(self) -> None:
        if self.uri is not None and (not isinstance(self.uri, str) or not self.uri.strip()):
            raise ValidationError(
                f"tracking URI must be a non-empty string such as 'sqlite:///mlflow.db' or "
                f"'http://127.0.0.1:5000', got {self.uri!r}."
            )
        if self.uri is not None and "://" not in self.uri and not self.uri.startswith("databricks"):
            raise ValidationError(
                f"tracking URI {self.uri!r} has no scheme; give a URI such as "
                f"'sqlite:///{self.uri}' (a local database) or 'http://host:5000' (a server)."
            )
        if self.experiment is not None and (
            not isinstance(self.experiment, str) or not self.experiment.strip()
        ):
            raise ValidationError(
                f"experiment must be a non-empty experiment name, got {self.experiment!r}."
            )
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValidationError(f"tracking attempts must be >= 1, got {self.attempts!r}.")
        for name in ("backoff", "max_backoff", "drain_timeout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValidationError(f"tracking {name} must be >= 0 seconds, got {value!r}.")


def resolve(
    tracking: bool | str | Tracking | None, experiment: str | None = None
) -> Tracking | None:
    """Turn the ``tracking`` argument of an entry point into settings, or None when off.

    ``True``/None: MLflow's default store; a string: that tracking URI; ``False``: off.
    """
    if tracking is False:
        return None
    if tracking is True or tracking is None:
        return Tracking(experiment=experiment)
    if isinstance(tracking, str):
        return Tracking(uri=tracking, experiment=experiment)
    if isinstance(tracking, Tracking):
        if experiment is not None and tracking.experiment is None:
            return Tracking(**{**tracking.__dict__, "experiment": experiment})
        return tracking
    raise ValidationError(
        f"tracking must be True, False, an MLflow tracking URI or a sparktune.tracking.Tracking, "
        f"got {tracking!r}."
    )


class Redactor:
    """Removes secrets from text bound for MLflow.

    Values of secret-looking Spark conf keys and environment variables are replaced wherever
    they appear, as are ``name=value`` pairs whose name looks secret and passwords in URLs.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        words = {"true", "false", "none", "null", "yes", "no"}
        kept = {s for s in secrets if isinstance(s, str) and len(s) >= 6 and s.lower() not in words}
        self._secrets = sorted(kept, key=len, reverse=True)

    @classmethod
    def for_session(cls, conf: Mapping[str, str]) -> Redactor:
        """Know the values of secret-named conf keys and environment variables."""
        values = [v for k, v in conf.items() if SECRET_NAME.search(k)]
        values += [v for k, v in os.environ.items() if SECRET_NAME.search(k)]
        return cls(values)

    def text(self, value: Any) -> str:
        """``str(value)`` with every known secret, secret assignment and URL password hidden."""
        text = str(value)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _ASSIGNMENT.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
        return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)

    def conf(self, conf: Mapping[str, str]) -> dict[str, str]:
        """Conf entries with the value of every secret-looking key replaced."""
        return {k: REDACTED if SECRET_NAME.search(k) else self.text(v) for k, v in conf.items()}


def spark_conf(spark: Any) -> dict[str, str]:
    """The session's Spark conf: the context's settings plus runtime (SQL) settings."""
    conf = dict(spark.sparkContext.getConf().getAll())
    with contextlib.suppress(Exception):  # Spark Connect or an older pyspark
        conf.update(spark.conf.getAll)
    return conf


def relevant_conf(conf: Mapping[str, str]) -> dict[str, str]:
    """The entries that describe resources and storage (see :data:`RELEVANT_CONF`)."""
    return {
        k: v
        for k, v in sorted(conf.items())
        if k.startswith(RELEVANT_CONF) and not _NOISY_CONF.search(k)
    }


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    note = f"... ({len(text) - limit + 40} more characters)"
    return text[: limit - len(note)] + note


def trial_record(
    trial: Trial, larger_is_better: bool
) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """A trial's child-run params, metrics and tags, read off its row of the results table."""
    names = [trial.primary] + sorted({k for f in trial.folds for k in f.metrics} - {trial.primary})
    row = results_frame([trial], names, larger_is_better).iloc[0]
    params = {c[len("param_") :]: str(v) for c, v in row.items() if c.startswith("param_")}
    metrics = {
        c: float(v)
        for c, v in row.items()
        if c not in _NOT_METRICS and not c.startswith("param_") and _finite(v)
    }
    tags = {
        "mlflow.runName": f"trial-{trial.number}",
        "sparktune.trial": str(trial.number),
        "sparktune.state": trial.state.value,
    }
    if trial.error:
        tags["sparktune.error"] = truncate(trial.error, MAX_ERROR_LENGTH)
    return params, metrics, tags


def _finite(value: Any) -> bool:
    """A real number (not a bool) that MLflow can store as a metric."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(float(value))
    )


_STATUS = {
    TrialState.COMPLETE: "FINISHED",
    TrialState.FAILED: "FAILED",
    TrialState.CANCELLED: "KILLED",
    TrialState.RUNNING: "RUNNING",
}


@dataclass
class _Job:
    """One unit of logging; ``action`` resumes where a failed attempt stopped."""

    label: str
    action: Callable[[], None]
    trial: int | None = None


class _Writer:
    """Runs jobs one at a time on a background thread, retrying each with backoff."""

    def __init__(self, options: Tracking) -> None:
        self.options = options
        self.failed: list[_Job] = []
        self._pending: list[_Job] = []
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._changed = threading.Condition()
        self._abandoned = threading.Event()
        self._degraded = False
        self._thread = threading.Thread(target=self._loop, name="sparktune-mlflow", daemon=True)
        self._thread.start()

    def submit(self, job: _Job) -> None:
        """Queue ``job`` behind every job submitted before it."""
        with self._changed:
            self._pending.append(job)
        self._queue.put(job)

    def drain(self, timeout: float) -> list[_Job]:
        """Wait up to ``timeout`` s for every queued job; stop, and return those not done."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._pending and time.monotonic() < deadline:
                self._changed.wait(max(0.0, min(1.0, deadline - time.monotonic())))
            left = list(self._pending)
            self._pending.clear()
        self._abandoned.set()
        self._queue.put(None)
        return left

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._abandoned.is_set():
                return
            ok = self._attempt(job)
            with self._changed:
                if job in self._pending:
                    self._pending.remove(job)
                    if not ok:
                        self.failed.append(job)
                self._changed.notify_all()

    def _attempt(self, job: _Job) -> bool:
        attempts = 1 if self._degraded else self.options.attempts
        delay = self.options.backoff
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                job.action()
            except Exception as exc:
                logger.debug(
                    "MLflow write %r failed (attempt %d)", job.label, attempt, exc_info=exc
                )
                error = exc
                if not _transient(exc):
                    break
                if attempt == attempts or self._abandoned.wait(delay):
                    self._degraded = True
                    break
                delay = min(delay * 2, self.options.max_backoff)
            else:
                logger.debug("MLflow: %s written in %.2f s", job.label, time.monotonic() - started)
                self._degraded = False
                return True
        logger.warning(
            "MLflow: could not log %s (%d attempt(s)): %s",
            job.label,
            attempt,
            describe_error(error),
        )
        return False


#: MLflow error codes that another attempt cannot fix.
_PERMANENT = {
    "INVALID_PARAMETER_VALUE",
    "RESOURCE_ALREADY_EXISTS",
    "RESOURCE_DOES_NOT_EXIST",
    "BAD_REQUEST",
    "INVALID_STATE",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
}


def _transient(exc: BaseException) -> bool:
    """Whether trying again may help: connection and server trouble, not bad content."""
    code = getattr(exc, "error_code", None)
    if code is not None:
        return code not in _PERMANENT
    return not isinstance(exc, ValueError | TypeError | AttributeError | KeyError)


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
        data: DataFrame | None = None,
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
        self.unlogged: list[str] = []
        self.unlogged_trials: list[int] = []
        self._trials: list[Trial] = []
        self._parallelism = settings.parallelism
        self._client: MlflowClient | None = None
        self._writer: _Writer | None = None
        self._redactor = Redactor()
        self._params: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._parent_of: str | None = None
        self._parent_logged = False
        self._larger_is_better = settings.larger_is_better
        self._restore_autolog: Callable[[], None] = _no_op
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
            "sparktune.version": _version("sparktune"),
        }
        self._follow_active_run()
        if self.uri is None and "mlflow" in sys.modules:
            import mlflow

            self.uri = mlflow.get_tracking_uri()
        self._restore_autolog = _pause_autolog()
        self._writer = _Writer(self.options)
        self._writer.submit(_Job("the parent run", self._ensure_parent))

    def on_trial_end(self, trial: Trial) -> None:
        """Queue the trial's child run."""
        if self._writer is None or self._closed:
            return
        self._writer.submit(_Job(f"trial {trial.number}", self._child_action(trial), trial.number))

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
            _Job("the best trial", self._best_action(best_trial, stop_reason, elapsed))
        )
        artifacts = self._artifacts(results, best_trial)
        self._writer.submit(_Job("the results table and plots", self._artifact_action(artifacts)))
        if best_model is not None and self.options.log_model:
            self._writer.submit(_Job("the best model", self._model_action(best_model)))
        self.close(status)

    def close(self, status: str = "FAILED") -> None:
        """End the parent run with ``status``, wait for pending writes, resume autologging."""
        if self._writer is None or self._closed:
            return
        self._closed = True
        self._writer.submit(_Job("the parent run's end", self._end_action(status)))
        waited = time.monotonic()
        left = self._writer.drain(self.options.drain_timeout)
        logger.info(
            "MLflow: run %s %s; waited %.1f s for pending writes",
            self.run_id,
            status,
            time.monotonic() - waited,
        )
        self._restore_autolog()
        self._restore_autolog = _no_op
        failed = self._writer.failed + left
        self.unlogged = [job.label for job in failed]
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
        params["spark.master"] = self.spark.sparkContext.master
        params["spark.version"] = self.spark.version
        params.update(self._redactor.conf(relevant_conf(conf)))
        if self.label is not None:
            params["data.label"] = self.label
        if self.data is not None:
            params["data.columns"] = len(self.data.columns)
            params["data.column_names"] = ", ".join(self.data.columns)
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
            tags = {k: self._redactor.text(v) for k, v in _context_tags(tags).items()}
            run = client.create_run(experiment, tags=tags, run_name=self.options.run_name)
            self.run_id = run.info.run_id
            logger.info("MLflow: search logged as run %s in %s", self.run_id, self.uri)
        if not self._parent_logged:
            params = self._params_for_mlflow(self._params)
            _log_batch(client, self.run_id, params=params)
            self._parent_logged = True

    def _params_for_mlflow(self, params: Mapping[str, str]) -> dict[str, str]:
        return {k: truncate(v, MAX_PARAM_LENGTH) for k, v in params.items()}

    def _rows(self) -> int | str:
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
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            try:
                self.experiment_id = client.create_experiment(name)
            except Exception:  # created meanwhile by another process
                experiment = client.get_experiment_by_name(name)
                if experiment is None:
                    raise
                self.experiment_id = experiment.experiment_id
        else:
            self.experiment_id = experiment.experiment_id
        return self.experiment_id

    def _child_action(self, trial: Trial) -> Callable[[], None]:
        params, metrics, tags = trial_record(trial, self._larger_is_better)
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
                _log_batch(
                    client,
                    state["run_id"],
                    params=self._params_for_mlflow(params),
                    metrics=metrics,
                    timestamp=int(trial.finished * 1000) or None,
                )
                state["logged"] = True
            client.set_terminated(
                state["run_id"],
                status=_STATUS[trial.state],
                end_time=int(trial.finished * 1000) or None,
            )

        return action

    def _best_action(
        self, best: Trial, stop_reason: str | None, elapsed: float | None
    ) -> Callable[[], None]:
        params, metrics, _ = trial_record(best, self._larger_is_better)
        counts = {
            f"trials_{state.value}": float(sum(t.state is state for t in self._trials))
            for state in (TrialState.COMPLETE, TrialState.FAILED, TrialState.CANCELLED)
        }
        if elapsed is not None:
            counts["elapsed_seconds"] = float(elapsed)
        tags = {"sparktune.best_trial": str(best.number)}
        if stop_reason:
            tags["sparktune.stop_reason"] = str(stop_reason)
        best_params = {f"best.{k}": self._redactor.text(v) for k, v in params.items()}

        def action() -> None:
            self._ensure_parent()
            _log_batch(
                self._mlflow(),
                self.run_id,
                params=self._params_for_mlflow(best_params),
                metrics={**metrics, **counts},
                tags=tags,
            )

        return action

    def _artifacts(self, results: pd.DataFrame, best: Trial) -> dict[str, Any]:
        """The parent's files, built on the caller's thread: CSV text, figures, long params."""
        from sparktune.tracking import plots

        table = results.copy()
        for column in table.columns:
            if table[column].dtype == object:
                table[column] = table[column].map(
                    lambda v: v if v is None or _is_nan(v) else self._redactor.text(v)
                )
        files: dict[str, Any] = {"results.csv": table.to_csv(index=False)}
        long_params = {k: v for k, v in self._params.items() if len(v) > MAX_PARAM_LENGTH}
        for key, value in long_params.items():
            files[f"settings/{key}.txt"] = value
        try:
            figures = plots.search_figures(results, best.primary, self._larger_is_better)
        except Exception as exc:
            logger.warning("MLflow: could not draw the search plots: %s", describe_error(exc))
            figures = {}
        for name, figure in figures.items():
            files[f"plots/{name}.png"] = figure
        return files

    def _artifact_action(self, files: Mapping[str, Any]) -> Callable[[], None]:
        done: set[str] = set()

        def action() -> None:
            self._ensure_parent()
            client = self._mlflow()
            for name, content in files.items():
                if name in done:
                    continue
                if isinstance(content, str):
                    client.log_text(self.run_id, content, name)
                else:
                    client.log_figure(self.run_id, content, name, save_kwargs={"dpi": 110})
                done.add(name)

        return action

    def _model_action(self, model: Any) -> Callable[[], None]:
        signature, example = self._signature(model)
        requirements = pip_requirements(model)

        def action() -> None:
            import mlflow
            import mlflow.spark

            self._ensure_parent()
            # MLflow checks the input example by loading the model on this thread's active
            # session; without one it would reconfigure the session for a local[1] load.
            SparkSession.builder.getOrCreate()
            with _fluent_uri(self.uri), mlflow.start_run(run_id=self.run_id):
                mlflow.spark.log_model(
                    model,
                    artifact_path="model",
                    signature=signature,
                    input_example=example,
                    pip_requirements=requirements,
                )

        return action

    def _signature(self, model: Any) -> tuple[Any, Any]:
        """The model's signature and a 5-row input example, from the search's data."""
        if self.data is None:
            return None, None
        try:
            from mlflow.models import infer_signature

            columns = [c for c in self.data.columns if c != self.label]
            sample = self.data.select(*columns).limit(5)
            example = sample.toPandas()
            output = model.transform(sample)
            prediction = _prediction_column(model)
            if prediction not in output.columns:
                return None, example
            return infer_signature(example, output.select(prediction).toPandas()), example
        except Exception as exc:
            logger.warning("MLflow: no model signature: %s", describe_error(exc))
            return None, None

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


def track(validator: V, tracking: bool | str | Tracking = True, experiment: str | None = None) -> V:
    """Track every later ``fit`` of a drop-in CrossValidator / TrainValidationSplit in MLflow.

    Returns the validator, so ``track(CrossValidator(...)).fit(df)`` reads naturally;
    ``tracking=False`` turns it off again.
    """
    if not isinstance(validator, Params) or not validator.hasParam("estimatorParamMaps"):
        raise ValidationError(
            "track() takes a sparktune.CrossValidator or TrainValidationSplit, "
            f"got {type(validator).__name__}."
        )
    validator.tracking = resolve(tracking, experiment)
    return validator


@contextlib.contextmanager
def autolog_paused() -> Iterator[None]:
    """Keep ``mlflow.pyspark.ml`` autologging off inside the block (if it is on at all)."""
    restore = _pause_autolog()
    try:
        yield
    finally:
        restore()


def pip_requirements(model: Any) -> list[str]:
    """What loading ``model`` needs: pyspark, and xgboost when a stage comes from it."""
    requirements = [f"pyspark=={_version('pyspark')}"]
    modules = {type(stage).__module__.split(".")[0] for stage in _stages(model)}
    if "xgboost" in modules:
        requirements.append(f"xgboost=={_version('xgboost')}")
    return requirements


def _stages(model: Any) -> Iterator[Any]:
    yield model
    for stage in getattr(model, "stages", None) or []:
        yield from _stages(stage)


def _prediction_column(model: Any) -> str:
    last = list(_stages(model))[-1]
    if isinstance(last, Params) and last.hasParam("predictionCol"):
        return str(last.getOrDefault("predictionCol"))
    return "prediction"


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _no_op() -> None:
    """Nothing to restore."""


def _pause_autolog() -> Callable[[], None]:
    """Switch ``mlflow.pyspark.ml`` autologging off; return what switches it back on."""
    if "mlflow.utils.autologging_utils" not in sys.modules:
        return _no_op  # mlflow was never imported, so autologging cannot be on
    from mlflow.utils.autologging_utils import AUTOLOGGING_INTEGRATIONS

    config = AUTOLOGGING_INTEGRATIONS.get("pyspark.ml")
    if not config or config.get("disable", False):
        return _no_op
    config["disable"] = True
    logger.info("mlflow.pyspark.ml.autolog is paused while sparktune tracks the search")

    def restore() -> None:
        config["disable"] = False

    return restore


def _context_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """MLflow's usual run context (user, source, git commit) plus ``tags``."""
    from mlflow.tracking.context.registry import resolve_tags

    return {k: str(v) for k, v in resolve_tags(dict(tags)).items()}


def _log_batch(
    client: MlflowClient,
    run_id: str | None,
    *,
    params: Mapping[str, str] = (),
    metrics: Mapping[str, float] = (),
    tags: Mapping[str, str] = (),
    timestamp: int | None = None,
) -> None:
    """One ``log_batch`` (MLflow splits it at its own limits)."""
    from mlflow.entities import Metric, Param, RunTag

    stamp = timestamp or int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), stamp, 0) for k, v in dict(metrics).items()],
        params=[Param(k, str(v)) for k, v in dict(params).items()],
        tags=[RunTag(k, str(v)) for k, v in dict(tags).items()],
    )


_FLUENT_LOCK = threading.Lock()


@contextlib.contextmanager
def _fluent_uri(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API (used by ``mlflow.spark.log_model``) at ``uri`` for a while.

    The fluent tracking URI is process-wide: the caller's setting and environment variable
    are put back afterwards.
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils

    with _FLUENT_LOCK:
        if mlflow.get_tracking_uri() == uri:
            yield
            return
        previous, env = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous)
            if env is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = env
