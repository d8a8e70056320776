"""Train/validation folds, computed the way pyspark's tuning classes compute them.

For the same seed, k-fold and train/validation splits select exactly the rows that
``pyspark.ml.tuning.CrossValidator`` / ``TrainValidationSplit`` select: a ``rand(seed)``
column cut into equal ranges, or the user's ``foldCol``. The helper column is dropped
before any stage sees the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparktune.core.errors import ValidationError
from sparktune.core.settings import Split

_RAND_COL = "__sparktune_rand"


@dataclass(frozen=True)
class Fold:
    """One train/validation pair of a search; ``index`` is its position.

    ``source``, where known, is the DataFrame both sides filter and the condition that
    selects the validation rows (the training rows are the others): the fold checks then
    count every fold's rows in one aggregate job.
    """

    index: int
    train: DataFrame
    validation: DataFrame
    source: tuple[DataFrame, Column] | None = field(default=None, compare=False)


def kfold(dataset: DataFrame, num_folds: int, seed: int, fold_col: str | None = None) -> list[Fold]:
    """Split ``dataset`` into ``num_folds`` folds by ``rand(seed)``, or by ``fold_col``."""
    if not isinstance(num_folds, int) or num_folds < 2:
        raise ValidationError(f"numFolds must be an integer >= 2, got {num_folds!r}.")
    if fold_col:
        check_fold_column(dataset, fold_col, num_folds)
        return [
            Fold(
                i,
                dataset.filter(F.col(fold_col) != F.lit(i)),
                dataset.filter(F.col(fold_col) == F.lit(i)),
            )
            for i in range(num_folds)
        ]
    width = 1.0 / num_folds
    df = dataset.select("*", F.rand(seed).alias(_RAND_COL))
    return [
        _split(i, df, (df[_RAND_COL] >= i * width) & (df[_RAND_COL] < (i + 1) * width))
        for i in range(num_folds)
    ]


def _split(index: int, df: DataFrame, validating: Column) -> Fold:
    """Fold ``index`` of ``df``: the rows where ``validating`` holds validate, the rest train."""
    train = df.filter(~validating).drop(_RAND_COL)
    return Fold(index, train, df.filter(validating).drop(_RAND_COL), source=(df, validating))


def train_validation(dataset: DataFrame, train_ratio: float, seed: int) -> list[Fold]:
    """Split ``dataset`` once: rows with ``rand(seed) < train_ratio`` train, the rest validate."""
    if not 0.0 < float(train_ratio) < 1.0:
        raise ValidationError(f"trainRatio must be strictly between 0 and 1, got {train_ratio!r}.")
    df = dataset.select("*", F.rand(seed).alias(_RAND_COL))
    return [_split(0, df, df[_RAND_COL] >= train_ratio)]


def given(train: DataFrame, validation: DataFrame) -> list[Fold]:
    """Use a validation DataFrame the user already holds."""
    return [Fold(0, train, validation)]


def check_fold_column(dataset: DataFrame, fold_col: str, num_folds: int) -> None:
    """Check that ``fold_col`` exists, is integral, and fills every fold in ``[0, num_folds)``."""
    if fold_col not in dataset.columns:
        raise ValidationError(
            f"foldCol {fold_col!r} is not a column of the data; columns: {dataset.columns}."
        )
    dtype = dataset.schema[fold_col].dataType
    if not isinstance(dtype, T.IntegralType):
        raise ValidationError(
            f"foldCol {fold_col!r} must be an integer column, but it is {dtype.simpleString()}; "
            "cast it with .withColumn(name, col(name).cast('int'))."
        )
    counts = {row[0]: row[1] for row in dataset.groupBy(fold_col).count().collect()}
    bad = sorted((v for v in counts if v is None or not 0 <= v < num_folds), key=str)
    if bad:
        first = "NULL" if bad[0] is None else bad[0]
        raise ValidationError(
            f"foldCol {fold_col!r} has values outside [0, {num_folds}): {bad[:10]}. "
            f"Fold number must be in range [0, {num_folds}), but got {first}: fold numbers "
            f"must be 0..{num_folds - 1} (or raise numFolds)."
        )
    empty = [i for i in range(num_folds) if i not in counts]
    if empty:
        raise ValidationError(
            f"foldCol {fold_col!r} has no rows for fold(s) {empty}: The validation data at "
            f"fold {empty[0]} is empty. Every fold in 0..{num_folds - 1} needs validation "
            "rows (or lower numFolds)."
        )


def make_folds(
    data: DataFrame, split: Split, seed: int, validation_data: DataFrame | None = None
) -> list[Fold]:
    """The folds ``split`` describes: k-fold, one train/validation split, or given data."""
    if split.kind == "validation_data":
        if validation_data is None:
            raise ValidationError("The split scores on validation_data, but none was given.")
        return given(data, validation_data)
    if split.kind == "train_ratio":
        assert split.train_ratio is not None
        return train_validation(data, split.train_ratio, seed)
    if split.num_repeats > 1:
        return repeated(data, split.num_folds, split.num_repeats, seed)
    return kfold(data, split.num_folds, seed, split.fold_col)


def repeated(dataset: DataFrame, num_folds: int, num_repeats: int, seed: int) -> list[Fold]:
    """``num_repeats`` k-fold splits, repeat r by ``rand(seed + r)`` (the first is pyspark's),
    numbered on: fold i of repeat r is fold ``r * num_folds + i``."""
    return [
        replace(fold, index=r * num_folds + fold.index)
        for r in range(num_repeats)
        for fold in kfold(dataset, num_folds, seed + r)
    ]
