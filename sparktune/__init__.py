"""sparktune: parallel hyperparameter tuning for distributed Spark ML pipelines."""

from sparktune.compat.extras import PYSPARK_VERSION
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
from sparktune.core.settings import Budget, Checkpointing, ErrorPolicy, Split
from sparktune.core.trial import Candidate, Trial, TrialState
from sparktune.core.version import __version__
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
from sparktune.tracking.settings import Tracking

__all__ = [
    "ASHA",
    "Budget",
    "Callback",
    "Candidate",
    "CheckpointError",
    "Checkpointing",
    "CrossValidator",
    "CrossValidatorModel",
    "ErrorPolicy",
    "GroupModels",
    "HalvingCrossValidator",
    "Hyperband",
    "MedianStopping",
    "PYSPARK_VERSION",
    "Racing",
    "RacingCrossValidator",
    "RefitError",
    "SearchFailedError",
    "SetupError",
    "Split",
    "SparktuneError",
    "Tracking",
    "TrainValidationSplit",
    "TrainValidationSplitModel",
    "Trial",
    "TrialState",
    "TuneResult",
    "ValidationError",
    "__version__",
    "fold_indices",
    "load_group_models",
    "tune",
    "tune_groups",
]
