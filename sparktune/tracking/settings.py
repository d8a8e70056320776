"""Where a search is tracked and how hard the tracker tries: :class:`Tracking` and its parsing.

Every entry point takes ``tracking`` as ``None`` (the default: MLflow's default store when
MLflow is installed, else off with one log line), ``True`` (MLflow's default store; without
MLflow a clear error naming the ``mlflow`` extra), ``False`` (off), a tracking URI or a
:class:`Tracking`; :func:`resolve` turns any of them into one settings object (or None), and
:func:`track` attaches them to a drop-in validator.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import TypeVar

from pyspark.ml.param import Params

from sparktune.compat.extras import available, require
from sparktune.core.errors import ValidationError

V = TypeVar("V")

logger = logging.getLogger(__name__)

_said_untracked = threading.Event()


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

    None: MLflow's default store when MLflow is installed, else off (said once per process);
    ``True``: MLflow's default store; a string: that tracking URI; ``False``: off. Asking
    for tracking without MLflow raises :class:`~sparktune.compat.extras.MissingExtraError`.
    """
    if tracking is False:
        return None
    if tracking is None:
        if not available("mlflow"):
            if not _said_untracked.is_set():
                _said_untracked.set()
                logger.warning(
                    "MLflow is not installed: searches are not tracked "
                    "(pip install 'sparktune[mlflow]' to track them)."
                )
            return None
        tracking = True
    if tracking is True:
        options = Tracking(experiment=experiment)
    elif isinstance(tracking, str):
        options = Tracking(uri=tracking, experiment=experiment)
    elif isinstance(tracking, Tracking):
        options = tracking
        if experiment is not None and tracking.experiment is None:
            options = replace(tracking, experiment=experiment)
    else:
        raise ValidationError(
            "tracking must be True, False, an MLflow tracking URI or a "
            f"sparktune.tracking.Tracking, got {tracking!r}."
        )
    require("mlflow", f"tracking={tracking!r}")
    return options


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
