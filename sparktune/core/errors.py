"""Exceptions raised by sparktune; each names the input at fault and how to fix it."""

from __future__ import annotations

from typing import Any


class SparktuneError(Exception):
    """Base class of every error sparktune raises on purpose."""


class SetupError(SparktuneError):
    """The machine is missing something sparktune needs (e.g. Java 17+)."""


class ValidationError(SparktuneError, ValueError):
    """Bad input, found before any Spark job ran."""


class SearchFailedError(SparktuneError, RuntimeError):
    """Every candidate of a search failed; the first failure is named and chained."""


class RefitError(SparktuneError, RuntimeError):
    """The search ended, but refitting its best params on the whole data failed.

    The search is not lost with the refit: ``results`` is its results table (one row per
    trial), ``best_params`` the best trial's params by name (as in the table), and
    ``run_id`` the MLflow run the trials were logged to (None when untracked). The refit's
    own error is chained.
    """

    def __init__(
        self, message: str, results: Any, best_params: dict[str, Any], run_id: str | None
    ) -> None:
        super().__init__(message)
        self.results = results
        self.best_params = best_params
        self.run_id = run_id

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy with every field (the default would call __init__ with the text)."""
        return (type(self), (str(self), self.results, self.best_params, self.run_id))


class CheckpointError(SparktuneError, RuntimeError):
    """Writing the checkpoint failed, so the search stopped: a search asked to be resumable
    does not go on unrecorded.

    ``path`` is the checkpoint file; ``trials`` every trial that ended before the failure
    (and those the stop cancelled), ``results`` their results table (set by the lifecycle).
    The checkpoint keeps what it held at its last successful write. The write's own error
    is chained.
    """

    def __init__(self, message: str, path: str, trials: Any = (), results: Any = None) -> None:
        super().__init__(message)
        self.path = path
        self.trials = tuple(trials)
        self.results = results

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy with every field."""
        return (type(self), (str(self), self.path, self.trials, self.results))


def describe_error(exc: BaseException) -> str:
    """A one-paragraph description of a failure, without a JVM stack trace."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            text = f"{java.getClass().getName()}: {java.getMessage()}"
        except Exception:  # the JVM may be gone; fall back to the Python text
            text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    lines = [line for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3])[:1000]
