"""The bundled data set, the splits and the Java check."""

from __future__ import annotations

import stat

import pytest
from pyspark.sql import functions as F

from sparktune import SetupError, ValidationError
from sparktune.jobs.datasets import load_diamonds
from sparktune.spark.session import check_java, java_version
from sparktune.spark.splits import kfold, train_validation


def test_diamonds_has_every_row_and_scales_with_jitter(spark):
    df = load_diamonds(spark)
    assert df.count() == 53940
    assert df.columns == [
        "carat",
        "cut",
        "color",
        "clarity",
        "depth",
        "table",
        "price",
        "x",
        "y",
        "z",
    ]
    assert df.select(F.countDistinct("cut")).first()[0] == 5
    big = load_diamonds(spark, scale=2)
    assert big.count() == 2 * 53940
    stats = big.agg(F.sum("price"), F.countDistinct("price")).first()
    base = df.agg(F.sum("price"), F.countDistinct("price")).first()
    assert stats[1] > base[1]
    assert abs(stats[0] - 2 * base[0]) / (2 * base[0]) < 0.01
    with pytest.raises(ValidationError, match="scale"):
        load_diamonds(spark, scale=0)


def test_kfold_covers_every_row_once_and_hides_its_helper_column(spark, diamonds):
    folds = kfold(diamonds, 3, seed=5)
    total = diamonds.count()
    assert sum(f.validation.count() for f in folds) == total
    for fold in folds:
        assert fold.train.columns == diamonds.columns
        assert fold.validation.columns == diamonds.columns
        assert fold.train.count() + fold.validation.count() == total
    (tv,) = train_validation(diamonds, 0.8, seed=5)
    assert tv.train.columns == diamonds.columns
    assert 0.7 < tv.train.count() / total < 0.9


def test_fold_column_must_be_integral_and_complete(spark, diamonds):
    with pytest.raises(ValidationError, match="not a column"):
        kfold(diamonds, 3, 0, fold_col="nope")
    with pytest.raises(ValidationError, match="must be an integer column"):
        kfold(diamonds.withColumn("f", F.lit("a")), 3, 0, fold_col="f")
    with pytest.raises(ValidationError, match=r"no rows for fold\(s\) \[2\]"):
        kfold(diamonds.withColumn("f", (F.col("price") % 2).cast("int")), 3, 0, fold_col="f")


def test_java_check_names_the_version_it_needs(tmp_path, monkeypatch):
    assert java_version() >= 17
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(SetupError, match="Java 11 was found, but pyspark 4 needs Java 17"):
        check_java()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "missing"))
    with pytest.raises(SetupError, match="Java was not found"):
        check_java()
