"""sparktune: parallel hyperparameter tuning for distributed Spark ML pipelines."""

from sparktune.core.callbacks import Callback
from sparktune.core.errors import (
    CheckpointError,
    RefitError,
    SearchFailedError,
    SetupError,
    SparktuneError,
    ValidationError,
)
from sparktune.core.schedulers import ASHA, Hyperband, MedianStopping, Racing
from sparktune.core.settings import ErrorPolicy
from sparktune.core.trial import Candidate, Trial, TrialState
from sparktune.frontends.groups import GroupModels, load_group_models, tune_groups
from sparktune.frontends.halving import HalvingCrossValidator
from sparktune.frontends.racing import RacingCrossValidator
from sparktune.frontends.tune import tune
from sparktune.frontends.validators import (
    CrossValidator,
    CrossValidatorModel,
    TrainValidationSplit,
    TrainValidationSplitModel,
)
from sparktune.lifecycle.result import TuneResult
from sparktune.spark.local_fit import fold_indices

__all__ = [
    "ASHA",
    "Callback",
    "Candidate",
    "CheckpointError",
    "CrossValidator",
    "CrossValidatorModel",
    "ErrorPolicy",
    "GroupModels",
    "HalvingCrossValidator",
    "Hyperband",
    "MedianStopping",
    "Racing",
    "RacingCrossValidator",
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
    "fold_indices",
    "load_group_models",
    "tune",
    "tune_groups",
]

__version__ = "0.1.0"
