"""The bundled data set, the splits and the Java check."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest
from pyspark.sql import functions as F

from sparktune import SetupError, ValidationError
from sparktune.jobs import datasets
from sparktune.jobs.datasets import DIAMONDS_SCHEMA, diamonds_pandas, load_diamonds
from sparktune.spark import session as sessions
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


def test_diamonds_read_from_the_file_match_the_rows_sent_from_the_driver(spark, monkeypatch):
    """The local read: same values, order and partitions as createDataFrame, small tasks."""
    assert datasets.diamonds_path() is not None
    read = load_diamonds(spark)
    assert "FileScan" in read._jdf.queryExecution().executedPlan().toString()
    sent = spark.createDataFrame(diamonds_pandas(), schema=DIAMONDS_SCHEMA)
    sizes = [len(part) for part in read.rdd.glom().collect()]
    assert sizes == [len(part) for part in sent.rdd.glom().collect()]
    pd.testing.assert_frame_equal(read.toPandas(), sent.toPandas(), check_exact=True)
    pd.testing.assert_frame_equal(read.toPandas(), diamonds_pandas(), check_exact=True)
    monkeypatch.setattr(datasets, "_reads_driver_files", lambda spark: False)  # a cluster
    fallback = load_diamonds(spark)
    assert "FileScan" not in fallback._jdf.queryExecution().executedPlan().toString()
    assert fallback.count() == datasets.DIAMONDS_ROWS


def test_local_sessions_get_quiet_defaults_unless_the_user_configures_logging(
    tmp_path, monkeypatch
):
    for name in (*sessions._JAVA_OPTION_ENVS, "SPARK_LOCAL_IP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    quiet = sessions.quiet_defaults({"spark.driver.extraJavaOptions": "-Xss4m"})
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"
    options = quiet["spark.driver.extraJavaOptions"]
    assert options.startswith("-Xss4m -Dlog4j2.configurationFile=file:")
    config = sessions.log4j2_config_file()
    assert config.read_text() == sessions.LOG4J2_PROPERTIES and config.as_uri() in options
    monkeypatch.setenv("SPARK_LOCAL_IP", "10.0.0.5")  # the user's settings win
    assert sessions.quiet_defaults({"spark.driver.extraJavaOptions": "-Dlog4j2.level=INFO"}) == {}
    assert os.environ["SPARK_LOCAL_IP"] == "10.0.0.5"
    (tmp_path / "log4j2.properties").write_text("rootLogger.level = info\n")
    assert sessions.quiet_defaults({}) == {}
    (tmp_path / "log4j2.properties").unlink()
    (tmp_path / "spark-defaults.conf").write_text("spark.driver.extraJavaOptions -Xss4m\n")
    assert sessions.quiet_defaults({}) == {}


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
