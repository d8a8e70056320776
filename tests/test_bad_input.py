"""A catalogue of bad input: each fails with a clear sparktune error naming the input and the fix.

Python API (``tune``), drop-in classes and job specs (``sparktune run``/``validate``). Where the
mistake can be known before any fit, a :class:`tests.stages.CountingStage` at the head of the
pipeline shows that nothing was fitted; no case may surface a bare py4j traceback.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from hyperopt import hp
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import ParamGridBuilder
from pyspark.sql import functions as F
from stages import FITS, CountingStage

import sparktune
from sparktune import ValidationError
from sparktune.jobs import cli

ROOT = Path(__file__).parent.parent
GRID_SPEC = ROOT / "conf" / "examples" / "diamonds_grid.yaml"
SPARKTUNE = Path(sys.executable).parent / "sparktune"


@pytest.fixture(scope="module")
def data(spark):
    """40 rows: two numeric features, a string column, a numeric label and a string label."""
    rows = [(float(i), float(i % 7), f"c{i % 3}", 2.0 * i + 1.0, f"y{i % 2}") for i in range(40)]
    frame = spark.createDataFrame(rows, "x1 double, x2 double, cat string, y double, ylab string")
    return frame.cache()


def build(label: str = "y", inputs: tuple[str, ...] = ("x1", "x2")):
    """CountingStage -> VectorAssembler -> LinearRegression, with a fresh counter."""
    counter = CountingStage()
    lr = LinearRegression(featuresCol="features", labelCol=label, maxIter=2)
    assembler = VectorAssembler(inputCols=list(inputs), outputCol="features")
    pipe = Pipeline(stages=[counter, assembler, lr])
    return pipe, lr, counter


def tune_fails(data, match: str, *, pipe=None, space=None, evaluator=None, **kwargs):
    """Run ``tune`` expecting a ValidationError matching ``match``, with no fit started."""
    built_pipe, lr, counter = build()
    pipe = pipe or built_pipe
    counter = next((s for s in pipe.getStages() if isinstance(s, CountingStage)), counter)
    FITS.clear()
    options = {"strategy": "grid", "tracking": False, "progress": False, "num_folds": 2}
    options.update(kwargs)
    with pytest.raises(ValidationError, match=match) as info:
        sparktune.tune(
            pipe,
            space if space is not None else {"LinearRegression.regParam": [0.0, 0.1]},
            data,
            evaluator or RegressionEvaluator(labelCol="y"),
            **options,
        )
    assert FITS[counter.uid] == 0, "a fit ran before the bad input was reported"
    assert "py4j" not in str(info.value).lower() and "Traceback" not in str(info.value)
    return info.value


# -- data ------------------------------------------------------------------------------------


def test_missing_label_column(data):
    pipe, _, _ = build(label="price")
    tune_fails(data, r"labelCol='price'.*\['price'\]", pipe=pipe)


def test_missing_evaluator_label_column(data):
    tune_fails(data, r"labelCol='pricee'", evaluator=RegressionEvaluator(labelCol="pricee"))


def test_string_label_for_a_regressor(data):
    pipe, _, _ = build(label="ylab")
    tune_fails(
        data,
        r"label column 'ylab' is string.*StringIndexer",
        pipe=pipe,
        evaluator=RegressionEvaluator(labelCol="ylab"),
    )


def test_non_numeric_feature_to_vector_assembler(data):
    pipe, _, _ = build(inputs=("x1", "cat"))
    tune_fails(data, r"VectorAssembler.*'cat'.*string.*StringIndexer", pipe=pipe)


def test_missing_feature_column(data):
    pipe, _, _ = build(inputs=("x1", "x9"))
    tune_fails(data, r"inputCols=.*\['x9'\]", pipe=pipe)


@pytest.mark.parametrize("bad", [math.nan, None], ids=["nan", "null"])
def test_nan_or_null_labels(spark, data, bad):
    broken = data.withColumn("y", F.when(F.col("x1") == 5.0, F.lit(bad)).otherwise(F.col("y")))
    tune_fails(broken, r"label column 'y' has NaN or null values.*dropna")


def test_empty_dataframe(data):
    tune_fails(data.limit(0), r"empty")


def test_a_fold_with_no_rows(data):
    tune_fails(data.limit(3), r"Fold \d+ has no validation rows.*num_folds", num_folds=8)


def test_a_train_ratio_that_leaves_no_training_rows(data):
    tune_fails(
        data.limit(3), r"Fold 0 has no training rows.*train_ratio", train_ratio=1e-9, num_folds=None
    )


def test_empty_validation_data(data):
    tune_fails(
        data,
        r"Fold 0 has no validation rows",
        validation_data=data.limit(0),
        num_folds=None,
    )


def test_fold_column_missing_a_fold(data):
    with_folds = data.withColumn("fold", F.lit(0))
    tune_fails(with_folds, r"foldCol 'fold' has no rows for fold\(s\) \[1\]", fold_col="fold")


def test_data_is_not_a_dataframe(data):
    tune_fails(data.toPandas(), r"data must be a Spark DataFrame")


def test_validation_data_lacks_columns(data):
    tune_fails(
        data, r"validation_data lacks column", validation_data=data.drop("x2"), num_folds=None
    )


# -- metric, limits, strategy ----------------------------------------------------------------


def test_unknown_metric(data):
    tune_fails(data, r"metricName 'rmsee'", evaluator=RegressionEvaluator(metricName="rmsee"))


def test_evaluator_is_not_an_evaluator(data):
    tune_fails(data, r"evaluator must be a pyspark.ml.evaluation.Evaluator", evaluator="rmse")


@pytest.mark.parametrize("max_trials", [0, -3])
def test_max_trials_not_positive(data, max_trials):
    tune_fails(data, r"max_trials must be a positive integer", max_trials=max_trials)


@pytest.mark.parametrize("parallelism", [0, -2])
def test_parallelism_not_positive(data, parallelism):
    tune_fails(data, r"parallelism must be a positive integer", parallelism=parallelism)


def test_unknown_strategy(data):
    tune_fails(data, r"strategy must be one of", strategy="bayes")


def test_two_kinds_of_split(data):
    tune_fails(data, r"Give one of num_folds, train_ratio", train_ratio=0.7)


def test_train_ratio_out_of_range(data):
    tune_fails(
        data, r"trainRatio must be strictly between 0 and 1", train_ratio=1.5, num_folds=None
    )


def test_one_fold(data):
    tune_fails(data, r"numFolds must be an integer >= 2", num_folds=1)


def test_negative_timeout(data):
    tune_fails(data, r"timeout must be positive", timeout=-1)


def test_unknown_error_policy(data):
    tune_fails(data, r"error_policy must be one of", error_policy="ignore")


# -- the search space ------------------------------------------------------------------------


def test_space_with_an_empty_choice(data):
    tune_fails(data, r"LinearRegression.regParam.*empty", space={"LinearRegression.regParam": []})


def test_loguniform_low_above_high(data):
    space = {"LinearRegression.regParam": hp.loguniform("reg", math.log(1.0), math.log(0.01))}
    tune_fails(data, r"reg.*low.*high", space=space, strategy="random", max_trials=2)


def test_unknown_stage_name(data):
    tune_fails(data, r"no stage is named 'Lasso'", space={"Lasso.regParam": [0.1]})


def test_unknown_param_name(data):
    tune_fails(data, r"regParm", space={"LinearRegression.regParm": [0.1]})


def test_param_of_the_wrong_type(data):
    tune_fails(data, r"maxIter.*'ten'", space={"LinearRegression.maxIter": ["ten"]})


def test_grid_over_a_continuous_distribution(data):
    space = {"LinearRegression.regParam": hp.uniform("reg", 0.0, 1.0)}
    tune_fails(data, r"grid strategy takes lists", space=space)


def test_point_to_evaluate_outside_the_space(data):
    tune_fails(data, r"is not in the space", points_to_evaluate=[{"LinearRegression.regParam": 5}])


# -- the drop-in classes ---------------------------------------------------------------------


def drop_in_fails(
    data, match: str, *, grid=None, evaluator=None, cls=sparktune.CrossValidator, **params
):
    pipe, lr, counter = build()
    FITS.clear()
    validator = cls(
        estimator=pipe,
        estimatorParamMaps=grid(lr)
        if grid
        else ParamGridBuilder().addGrid(lr.regParam, [0.1]).build(),
        evaluator=evaluator or RegressionEvaluator(labelCol="y"),
        **params,
    )
    with pytest.raises(ValidationError, match=match) as info:
        validator.fit(data)
    assert FITS[counter.uid] == 0
    assert "py4j" not in str(info.value).lower()


def test_drop_in_empty_param_maps(data):
    drop_in_fails(data, r"estimatorParamMaps is empty", grid=lambda lr: [])


def test_drop_in_param_map_value_of_the_wrong_type(data):
    drop_in_fails(data, r"maxIter.*'ten'", grid=lambda lr: [{lr.maxIter: "ten"}])


def test_drop_in_param_of_another_estimator(data):
    other = LinearRegression()
    drop_in_fails(data, r"not a stage of the estimator", grid=lambda lr: [{other.regParam: 0.1}])


def test_drop_in_unknown_metric(data):
    drop_in_fails(data, r"metricName 'rmsee'", evaluator=RegressionEvaluator(metricName="rmsee"))


def test_drop_in_one_fold(data):
    drop_in_fails(data, r"numFolds must be an integer >= 2", numFolds=1)


def test_drop_in_train_ratio_out_of_range(data):
    drop_in_fails(
        data,
        r"trainRatio must be strictly between",
        cls=sparktune.TrainValidationSplit,
        trainRatio=0.0,
    )


# -- job specs (the CLI: one line per problem, exit status 2, no traceback) -------------------


def cli_fails(capsys, spec: Path, *overrides: str, command: str = "validate") -> str:
    flags = [arg for item in overrides for arg in ("--set", item)]
    status = cli.main([command, str(spec), *flags])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and "py4j" not in err.lower()
    return err


def test_spec_that_is_not_yaml(tmp_path, capsys):
    spec = tmp_path / "job.yaml"
    spec.write_text("data: [unclosed\n  label: : price\n")
    assert "not valid YAML" in cli_fails(capsys, spec)


def test_spec_that_is_not_a_mapping(tmp_path, capsys):
    spec = tmp_path / "job.yaml"
    spec.write_text("- just\n- a list\n")
    assert "job.yaml" in cli_fails(capsys, spec)


def test_spec_file_missing(tmp_path, capsys):
    assert "cannot read the spec file" in cli_fails(capsys, tmp_path / "nope.yaml")


def test_spec_data_path_that_does_not_exist(tmp_path, capsys):
    err = cli_fails(capsys, GRID_SPEC, "data.dataset=null", f"data.path={tmp_path}/none.csv")
    assert "data.path: no such file or directory" in err


def test_spec_unknown_stage_class(capsys):
    err = cli_fails(capsys, GRID_SPEC, "pipeline.stages[lr].class=pyspark.ml.regression.Lasso")
    assert "pipeline.stages[4].class" in err


def test_spec_max_trials_zero(capsys):
    assert "search.max_trials" in cli_fails(capsys, GRID_SPEC, "search.max_trials=0")


def test_spec_negative_parallelism(capsys):
    assert "search.parallelism" in cli_fails(capsys, GRID_SPEC, "search.parallelism=-1")


def test_spec_unknown_metric(capsys):
    assert "evaluation.metric" in cli_fails(capsys, GRID_SPEC, "evaluation.metric=rmsee")


def test_spec_loguniform_low_above_high(capsys):
    err = cli_fails(
        capsys,
        GRID_SPEC,
        "search.strategy=tpe",
        "search.max_trials=2",
        "search.space.lr.regParam={loguniform: [1.0, 0.01]}",
    )
    assert "low must be below high" in err


def test_spec_space_names_an_unknown_stage(capsys):
    err = cli_fails(capsys, GRID_SPEC, "search.space.lasso.regParam=[0.1]")
    assert "no stage named 'lasso'" in err


def test_spec_label_not_in_the_data(tmp_path, capsys, spark):
    out = tmp_path / "out"
    err = cli_fails(
        capsys,
        GRID_SPEC,
        "data.label=prise",
        "data.sample=0.01",
        "tracking.enabled=false",
        f"output.results={out}/results.csv",
        "output.model=null",
        command="run",
    )
    assert "data.label: column 'prise'" in err
    assert not out.exists()


def test_spec_resume_without_a_checkpoint_path(tmp_path, capsys):
    status = cli.main(
        [
            "run",
            str(GRID_SPEC),
            "--resume",
            "--set",
            "output.results=null",
            "--set",
            "output.model=null",
            "--set",
            "output.checkpoint=null",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "--resume needs output.checkpoint" in err


def test_cli_bad_input_from_a_fresh_process(tmp_path):
    """The installed command prints one line and exits 2 (no traceback) for a non-YAML spec."""
    spec = tmp_path / "job.yaml"
    spec.write_text("{{{ not yaml")
    done = subprocess.run(
        [str(SPARKTUNE), "run", str(spec)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "not valid YAML" in done.stderr
