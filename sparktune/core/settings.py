"""One frozen description of a search, and the defaults every entry point shares.

:class:`SearchSettings` is built once per search by a front end (``tune()``, a drop-in's
``fit``, a job spec); the MLflow parent run's params, the checkpoint's identity and the
results table are all derived from it, so no two places describe the same search.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from sparktune.core.errors import ValidationError
from sparktune.core.schedulers import FOLDS, Scheduler
from sparktune.core.stopping import Stopper, check_parallelism, stoppers

#: The strategies searches take by name (the last three are Optuna samplers).
STRATEGIES = ("grid", "random", "tpe", "optuna-tpe", "cmaes", "qmc")
#: The name of a search given an Optuna sampler instance: this prefix, then its class name.
SAMPLER_PREFIX = "optuna:"
#: Trials of a random or TPE search when ``max_trials`` is not given.
DEFAULT_TRIALS = 20
#: Folds when no split is given.
DEFAULT_FOLDS = 3
#: The training share of a train/validation split when none is given (pyspark's default).
DEFAULT_TRAIN_RATIO = 0.75


class ErrorPolicy(str, Enum):
    """What a failing candidate does to the search."""

    CONTINUE = "continue"  # record the failure (NaN metric) and go on
    RAISE = "raise"  # stop the search and raise, as pyspark's tuning classes do

    @classmethod
    def parse(cls, value: ErrorPolicy | str, name: str = "error_policy") -> ErrorPolicy:
        """The policy named ``value``, or a ValidationError naming the argument ``name``."""
        try:
            return cls(value)
        except ValueError:
            raise ValidationError(
                f"{name} must be one of {[p.value for p in cls]}, got {value!r}."
            ) from None


@dataclass(frozen=True)
class Split:
    """How the data is cut into training and validation parts, described once.

    ``kind`` is ``"kfold"`` (``num_folds`` folds, by ``fold_col`` if given),
    ``"train_ratio"`` (one seeded random split), ``"validation_data"`` (a given DataFrame) or
    ``"function"`` (a training function validates inside its one call; no data is cut).
    A k-fold split may be repeated ``num_repeats`` times with other seeds (repeat r cuts
    folds ``r * num_folds`` to ``(r + 1) * num_folds - 1``), so racing has more steps.
    ``allow_empty_validation``: a random fold with no validation rows is warned about and
    scored as the evaluator scores no rows (pyspark's drop-ins), instead of refused.
    """

    kind: str = "kfold"
    num_folds: int = DEFAULT_FOLDS
    train_ratio: float | None = None
    fold_col: str | None = None
    num_repeats: int = 1
    allow_empty_validation: bool = False

    @property
    def total_folds(self) -> int:
        """Every train/validation pair the search scores on: folds times repeats."""
        return self.num_folds * self.num_repeats

    def __post_init__(self) -> None:
        """``Split(train_ratio=0.8)`` is a train/validation split; refuse mixed settings."""
        if self.kind == "kfold" and self.train_ratio is not None:
            if self.fold_col is not None or self.num_folds not in (DEFAULT_FOLDS, 1):
                raise ValidationError(
                    "A Split takes num_folds (and fold_col) for k-fold, or train_ratio for one "
                    f"split, not both: got num_folds={self.num_folds}, "
                    f"train_ratio={self.train_ratio}, fold_col={self.fold_col!r}."
                )
            object.__setattr__(self, "kind", "train_ratio")
            object.__setattr__(self, "num_folds", 1)
        if self.kind not in ("kfold", "train_ratio", "validation_data", "function"):
            raise ValidationError(
                "Split kind must be kfold, train_ratio, validation_data or function, got "
                f"{self.kind!r}."
            )

    def keywords(self) -> dict[str, Any]:
        """The flat keywords of ``tune()`` this split stands for (None: not given)."""
        if self.kind == "train_ratio":
            return {"train_ratio": self.train_ratio}
        if self.kind == "validation_data":
            raise ValidationError(
                "Split(kind='validation_data') is described by tune(); pass validation_data= "
                "(the DataFrame) instead."
            )
        return {"num_folds": self.num_folds, "fold_col": self.fold_col}

    @classmethod
    def of(
        cls,
        num_folds: int | None = None,
        train_ratio: float | None = None,
        validation_data: bool = False,
        fold_col: str | None = None,
    ) -> Split:
        """The split the arguments of ``tune()`` ask for (k-fold with 3 folds by default)."""
        given = [
            name
            for name, value in (
                ("num_folds", num_folds),
                ("train_ratio", train_ratio),
                ("validation_data", validation_data or None),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise ValidationError(
                f"Give one of num_folds, train_ratio and validation_data, not {given}."
            )
        if fold_col is not None and given and given != ["num_folds"]:
            raise ValidationError(
                f"fold_col assigns k-fold folds; it cannot be used with {given[0]}."
            )
        if validation_data:
            return cls("validation_data", 1)
        if train_ratio is not None:
            return cls("train_ratio", 1, train_ratio=train_ratio)
        return cls("kfold", DEFAULT_FOLDS if num_folds is None else num_folds, fold_col=fold_col)

    def describe(self) -> str:
        """``kfold``, ``foldCol=<col>``, ``train_ratio=<r>`` or ``validation_data``."""
        if self.kind == "train_ratio":
            return f"train_ratio={self.train_ratio}"
        if self.kind == "kfold" and self.fold_col:
            return f"foldCol={self.fold_col}"
        if self.kind == "kfold" and self.num_repeats > 1:
            return f"kfold x{self.num_repeats}"
        return self.kind


@dataclass(frozen=True)
class Budget:
    """How long a search runs: at most ``max_trials`` trials, ``timeout`` seconds, and
    ``early_stopping`` finished trials in a row without improvement (None: no such limit).

    Shared by ``tune()``, ``tune_groups`` (where ``timeout`` bounds the whole run) and the
    job spec; each limit is checked when the object is made.
    """

    max_trials: int | None = None
    timeout: float | None = None
    early_stopping: int | None = None

    def __post_init__(self) -> None:
        stoppers(self.max_trials, self.timeout, self.early_stopping)

    def keywords(self) -> dict[str, Any]:
        """The flat keywords of ``tune()`` this budget stands for (None: not given)."""
        return {
            "max_trials": self.max_trials,
            "timeout": self.timeout,
            "early_stopping": self.early_stopping,
        }


@dataclass(frozen=True)
class Checkpointing:
    """Where a search keeps its finished trials (a JSON file; per group, a folder) and
    whether this run resumes from them (:mod:`sparktune.tracking.checkpoint`)."""

    path: str | os.PathLike[str]
    resume: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | os.PathLike) or not str(self.path).strip():
            raise ValidationError(f"Checkpointing path must be a path, got {self.path!r}.")
        if not isinstance(self.resume, bool):
            raise ValidationError(f"resume must be True or False, got {self.resume!r}.")


@dataclass(frozen=True)
class SearchSettings:
    """Everything that defines one search, as plain values (no Spark objects).

    ``metrics`` are the evaluators' names, the primary (optimized) one first; ``space`` and
    ``estimator`` are one-line descriptions for people; ``params`` are the readable names of
    every param the space can set, ``log_params`` those drawn on a log scale.
    """

    entry_point: str
    strategy: str
    metrics: tuple[str, ...]
    larger_is_better: bool
    split: Split = field(default_factory=Split)
    seed: int | None = 0
    max_trials: int | None = None
    parallelism: int = 1
    timeout: float | None = None
    early_stopping: int | None = None
    error_policy: ErrorPolicy = ErrorPolicy.CONTINUE
    train_metrics: bool = False
    keep_models: bool = False
    space: str = ""
    estimator: str = ""
    params: tuple[str, ...] = ()
    scheduler: Scheduler | None = None
    #: Params drawn from a log distribution (``hp.loguniform`` ...): plotted on a log axis.
    log_params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check every limit once, before any Spark job (the stoppers repeat no check)."""
        name = self.strategy
        if name not in STRATEGIES and not (
            isinstance(name, str) and name.startswith(SAMPLER_PREFIX)
        ):
            raise ValidationError(
                f"strategy must be one of {list(STRATEGIES)}, got {self.strategy!r}."
            )
        seed = self.seed
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValidationError(f"seed must be an integer, got {seed!r}.")
        check_parallelism(self.parallelism)
        self.stoppers()
        object.__setattr__(self, "error_policy", ErrorPolicy.parse(self.error_policy))
        object.__setattr__(self, "split", fold_split(self.split, self.scheduler))

    def stoppers(self) -> list[Stopper]:
        """Fresh stoppers for this search's limits (max trials, timeout, early stopping)."""
        return stoppers(self.max_trials, self.timeout, self.early_stopping)

    @property
    def primary(self) -> str:
        """The metric the search optimizes."""
        return self.metrics[0]

    def described(self) -> dict[str, Any]:
        """The settings as the MLflow parent run's params (plain values)."""
        return {
            "entry_point": self.entry_point,
            "strategy": self.strategy,
            "metric": self.primary,
            "larger_is_better": self.larger_is_better,
            "split": self.split.describe(),
            "folds": self.split.total_folds,
            "seed": self.seed,
            "max_trials": self.max_trials,
            "parallelism": self.parallelism,
            "timeout": self.timeout,
            "early_stopping": self.early_stopping,
            "error_policy": self.error_policy.value,
            "space": self.space,
            "estimator": self.estimator,
            **(self.scheduler.describe() if self.scheduler is not None else {}),
        }

    def identity(self) -> Mapping[str, Any]:
        """What a checkpoint must match to be resumed by this search."""
        split = self.split
        return {
            "strategy": self.strategy,
            "seed": self.seed,
            "params": sorted(self.params),
            "metrics": list(self.metrics),
            "split": [split.kind, split.num_folds, split.train_ratio, split.fold_col]
            + ([split.num_repeats] if split.num_repeats > 1 else []),
            "scheduler": self.scheduler.describe() if self.scheduler is not None else None,
        }


def fold_split(split: Split, scheduler: Scheduler | None) -> Split:
    """The split a search under ``scheduler`` runs on: a scheduler over folds needs k-fold,
    repeated as it asks (``num_repeats``); other schedulers keep ``split``."""
    if scheduler is None or scheduler.axis != FOLDS:
        return split
    if split.kind != "kfold":
        raise ValidationError(
            f"scheduler {scheduler.name!r} steps over folds: it needs a k-fold split "
            f"(num_folds / numFolds), not {split.describe()}."
        )
    repeats = getattr(scheduler, "num_repeats", 1)
    if repeats > 1 and split.fold_col:
        raise ValidationError(
            f"num_repeats={repeats} cuts the folds again with other seeds; it cannot "
            f"repeat the fixed folds of foldCol {split.fold_col!r}."
        )
    split = replace(split, num_repeats=repeats)
    scheduler.check_folds(split.total_folds)
    return split
