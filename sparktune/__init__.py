"""sparktune: parallel hyperparameter tuning for distributed Spark ML pipelines."""

from sparktune.api import TuneResult, tune
from sparktune.engine import Callback, ErrorPolicy
from sparktune.errors import (
    RefitError,
    SearchFailedError,
    SetupError,
    SparktuneError,
    ValidationError,
)
from sparktune.trial import Candidate, Trial, TrialState
from sparktune.tuning import (
    CrossValidator,
    CrossValidatorModel,
    TrainValidationSplit,
    TrainValidationSplitModel,
)

__all__ = [
    "Callback",
    "Candidate",
    "CrossValidator",
    "CrossValidatorModel",
    "ErrorPolicy",
    "RefitError",
    "SearchFailedError",
    "SetupError",
    "SparktuneError",
    "TrainValidationSplit",
    "TrainValidationSplitModel",
    "Trial",
    "TrialState",
    "TuneResult",
    "ValidationError",
    "tune",
]

__version__ = "0.1.0"
