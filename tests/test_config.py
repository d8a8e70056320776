"""Job specs: safe loading, every mistake reported at once with its key path, overrides, space.

None of these start Spark: a spec is validated from the stage classes' declared Params.
"""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from hyperopt.pyll import stochastic

from sparktune import ASHA, Hyperband, MedianStopping, Racing, ValidationError
from sparktune.jobs import config
from sparktune.jobs.config import SpecError

EXAMPLES = sorted((Path(__file__).parent.parent / "conf" / "examples").glob("*.yaml"))

BASE = {
    "data": {"dataset": "diamonds", "label": "price"},
    "pipeline": {
        "stages": [
            {
                "name": "assembler",
                "class": "pyspark.ml.feature.VectorAssembler",
                "params": {"inputCols": ["carat", "depth"], "outputCol": "features"},
            },
            {
                "name": "lr",
                "class": "pyspark.ml.regression.LinearRegression",
                "params": {"maxIter": 5},
            },
        ]
    },
    "search": {"strategy": "grid", "space": {"lr.regParam": [0.0, 0.1]}},
    "evaluation": {"metric": "rmse"},
}


def spec(**changes):
    """BASE with ``section__key`` -> value changes (None deletes the key)."""
    return changed(BASE, changes)


def changed(base, changes):
    """A copy of ``base`` with ``section__key`` -> value changes (None deletes the key)."""
    raw = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = raw
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return raw


def problems(raw) -> dict[str, str]:
    """Path -> the messages of every problem at that path (joined)."""
    with pytest.raises(SpecError) as info:
        config.parse(raw, "job.yaml")
    found: dict[str, str] = {}
    for problem in info.value.problems:
        found[problem.path] = "; ".join(filter(None, [found.get(problem.path), problem.message]))
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path):
    job = config.load(path)
    assert (job.stages or job.estimator) and job.search.space
    assert job.output.results and job.output.results.endswith(".csv")


def test_three_mistakes_are_reported_together_with_key_paths(tmp_path):
    text = yaml.safe_dump(BASE, sort_keys=False)
    text = text.replace("maxIter: 5", "maxIterr: 5")  # unknown param of a stage
    text = text.replace("pyspark.ml.feature.VectorAssembler", "pyspark.ml.feature.VectorAsembler")
    text = text.replace("metric: rmse", "metric: rsme")
    path = tmp_path / "three.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        config.load(path)
    found = {p.path: p.message for p in info.value.problems}
    assert set(found) == {
        "pipeline.stages[1].params.maxIterr",
        "pipeline.stages[0].class",
        "evaluation.metric",
    }
    assert "did you mean 'maxIter'" in found["pipeline.stages[1].params.maxIterr"]
    assert "did you mean 'VectorAssembler'" in found["pipeline.stages[0].class"]
    assert "did you mean 'rmse'" in found["evaluation.metric"]
    message = str(info.value)
    assert message.count(str(path)) == 4  # the header and each problem name the file
    assert isinstance(info.value, ValidationError)


def test_wrong_types_unknown_keys_and_missing_sections():
    raw = spec(
        search__parallelism="two",
        search__max_trial=3,
        evaluation__folds=1,
        tracking={"enabled": "yes"},
        pipeline=None,
        extra={"x": 1},
    )
    found = problems(raw)
    assert "expected a positive integer" in found["search.parallelism"]
    assert "did you mean 'max_trials'" in found["search.max_trial"]
    assert "an integer >= 2" in found["evaluation.folds"]
    assert "true or false" in found["tracking.enabled"]
    assert "required" in found["pipeline"]
    assert "unknown key; expected one of ['data'" in found["extra"]


def test_stage_param_values_are_checked_by_the_param_type():
    raw = spec()
    raw["pipeline"]["stages"][1]["params"] = {"maxIter": 2.5, "regParam": "high"}
    found = problems(raw)
    assert found["pipeline.stages[1].params.maxIter"].startswith("expected an integer")
    assert found["pipeline.stages[1].params.regParam"].startswith("expected a number")


def test_stage_names_must_be_unique_identifiers():
    raw = spec()
    raw["pipeline"]["stages"][0]["name"] = "lr"
    raw["pipeline"]["stages"].append(
        {"name": "my.model", "class": "LinearRegression", "params": {}}
    )
    found = problems(raw)
    assert "used twice" in found["pipeline.stages[1].name"]
    assert "letters, digits and _" in found["pipeline.stages[2].name"]


def test_bare_class_names_resolve_and_non_stages_are_refused():
    raw = spec()
    raw["pipeline"]["stages"][1]["class"] = "GBTRegressor"
    raw["search"]["space"] = {"lr.maxDepth": [2, 3]}
    assert config.parse(raw).stages[1].cls.__name__ == "GBTRegressor"
    raw["pipeline"]["stages"][1]["class"] = "pyspark.ml.evaluation.RegressionEvaluator"
    raw["search"]["space"] = {}
    found = problems(raw)
    assert "not a pyspark.ml Estimator or Transformer" in found["pipeline.stages[1].class"]
    raw["pipeline"]["stages"][1]["class"] = "nosuchmodule.Thing"
    assert "cannot import module 'nosuchmodule'" in problems(raw)["pipeline.stages[1].class"]


def test_xgboost_params_and_constructor_aliases():
    raw = spec()
    raw["pipeline"]["stages"][1] = {
        "name": "xgb",
        "class": "xgboost.spark.SparkXGBRegressor",
        "params": {"num_workers": 1, "label_col": "price", "max_dept": 3},
    }
    raw["search"]["space"] = {"xgb.max_depth": [3, 5], "xgb.label_col": ["x"]}
    found = problems(raw)
    assert set(found) == {"pipeline.stages[1].params.max_dept", "search.space.xgb.label_col"}
    assert "did you mean 'max_depth'" in found["pipeline.stages[1].params.max_dept"]


def test_space_names_distributions_and_strategy_rules():
    raw = spec(
        search__space={
            "lr.regParm": [0.1],
            "gbt.maxIter": [5],
            "lr.elasticNetParam": {"uniform": [1.0, 0.0]},
            "lr.maxIter": {"loguniform": [0, 10]},
            "lr.tol": {"beta": [1, 2]},
            "lr.fitIntercept": [True, "maybe"],
            "lr.aggregationDepth": 3,
        }
    )
    found = problems(raw)
    assert "did you mean 'regParam'" in found["search.space.lr.regParm"]
    assert "no stage named 'gbt'" in found["search.space.gbt.maxIter"]
    assert "['assembler', 'lr']" in found["search.space.gbt.maxIter"]
    assert "low must be below high" in found["search.space.lr.elasticNetParam.uniform"]
    assert "low must be > 0" in found["search.space.lr.maxIter.loguniform"]
    assert "expected one distribution" in found["search.space.lr.tol"]
    assert "true or false" in found["search.space.lr.fitIntercept[1]"]
    assert "expected a list of values" in found["search.space.lr.aggregationDepth"]

    grid = spec(search__space={"lr.regParam": {"uniform": [0.0, 1.0]}})
    assert "needs strategy 'random' or 'tpe'" in problems(grid)["search.space.lr.regParam"]

    optuna = spec(
        search__strategy="cmaes",
        search__max_trials=5,
        search__space={"lr.regParam": {"normal": [0.0, 1.0]}, "lr.tol": {"loguniform": [0.1, 1]}},
    )
    found = problems(optuna)
    assert "no Optuna equivalent" in found["search.space.lr.regParam"]
    assert "search.space.lr.tol" not in found
    assert "needs max_trials" in problems(spec(search__strategy="qmc"))["search.max_trials"]
    tpe = spec(search__strategy="tpe", search__space={"lr.regParam": {"uniform": [0.0, 1.0]}})
    assert "needs max_trials" in problems(tpe)["search.max_trials"]


def test_scheduler_settings_are_checked_by_the_scheduler_with_their_key_path():
    asha = {"type": "asha", "resource": "lr.maxIter", "min_resource": 1, "max_resource": 9}
    parsed = config.parse(spec(search__scheduler=asha))
    assert parsed.search.scheduler.build() == ASHA("lr.maxIter", 1, 9, 3)
    hyperband = config.parse(spec(search__scheduler={"type": "hyperband"}))
    assert hyperband.search.scheduler.build() == Hyperband()

    found = problems(spec(search__scheduler={**asha, "min_resource": 9, "max_resource": 3}))
    assert "min_resource (9) must be below max_resource (3)" in found["search.scheduler"]
    found = problems(spec(search__scheduler={"type": "asha", "reduction_factor": 1}))
    assert "reduction_factor must be a number >= 2" in found["search.scheduler.reduction_factor"]
    found = problems(
        spec(search__scheduler={"type": "asha", "resource": "rows", "max_resource": 2})
    )
    assert "fraction of each fold's training rows" in found["search.scheduler.max_resource"]
    found = problems(spec(search__scheduler={"type": "hyperbnd", "reduction_factr": 3}))
    assert "did you mean 'hyperband'" in found["search.scheduler.type"]
    assert "did you mean 'reduction_factor'" in found["search.scheduler.reduction_factr"]
    found = problems(spec(search__scheduler={**asha, "resource": "lr.maxIterr"}))
    assert "did you mean 'maxIter'" in found["search.scheduler.resource"]
    found = problems(spec(search__scheduler={**asha, "resource": "assembler.maxIter"}))
    assert "final estimator 'lr'" in found["search.scheduler.resource"]
    in_space = spec(search__scheduler={"type": "asha"}, search__space={"lr.maxIter": [5, 10]})
    assert "lr.maxIter is also in search.space" in problems(in_space)["search.scheduler"]
    found = problems(spec(search__scheduler={"type": "asha", "max_resource": "nine"}))
    assert found["search.scheduler.max_resource"] == "expected a number, got 'nine' (str)"


def test_racing_and_median_are_scheduler_types_checked_against_the_split():
    racing = {"type": "racing", "burn_in": 2, "test": "win_loss", "num_repeats": 2}
    parsed = config.parse(spec(search__scheduler=racing, evaluation__folds=3))
    assert parsed.search.scheduler.build() == Racing(burn_in=2, test="win_loss", num_repeats=2)
    median = config.parse(spec(search__scheduler={"type": "median", "min_trials": 2}))
    assert median.search.scheduler.build() == MedianStopping(min_trials=2)
    # racing sets no budget param, so lr.maxIter may be in the space
    in_space = spec(
        search__scheduler={"type": "racing"},
        search__space={"lr.maxIter": [5, 10]},
        evaluation__folds=5,
    )
    assert config.parse(in_space).search.scheduler.build() == Racing()

    found = problems(spec(search__scheduler={"type": "racing", "alpha": 2, "burn_in": 1}))
    assert "alpha must be a number in (0, 1)" in found["search.scheduler.alpha"]
    assert "burn_in must be an integer >= 2" in found["search.scheduler.burn_in"]
    found = problems(spec(search__scheduler={"type": "racing", "reduction_factor": 3}))
    assert "of scheduler 'asha' and 'hyperband', not of 'racing'" in found[
        "search.scheduler.reduction_factor"
    ]
    found = problems(spec(search__scheduler={"type": "racing"}, evaluation__folds=3))
    assert "more folds than burn_in (3)" in found["search.scheduler.type"]
    one_split = spec(
        search__scheduler={"type": "median"}, evaluation__folds=None, evaluation__train_ratio=0.8
    )
    assert "needs a k-fold split" in problems(one_split)["search.scheduler.type"]


def test_space_becomes_hyperopt_expressions_in_natural_units():
    raw = spec(
        search__strategy="tpe",
        search__max_trials=4,
        search__space={
            "lr.regParam": {"loguniform": [0.001, 10.0]},
            "lr.maxIter": {"uniformint": [2, 6]},
            "lr.elasticNetParam": [0.0, 0.5],
            "lr.fitIntercept": {"choice": [True, False]},
        },
    )
    space = config.parse(raw).search.hyperopt_space()
    assert space["lr.elasticNetParam"] == [0.0, 0.5]
    for seed in range(20):
        point = stochastic.sample(space, rng=np.random.default_rng(seed))
        assert 0.001 <= point["lr.regParam"] <= 10.0
        assert point["lr.maxIter"] in range(2, 7) and isinstance(point["lr.maxIter"], int)
        assert point["lr.fitIntercept"] in (True, False)
    labels = {str(node.arg["label"].obj) for node in _hyperparameters(space["lr.regParam"])}
    assert labels == {"lr.regParam"}


def _hyperparameters(expr):
    from hyperopt.pyll.base import dfs

    return [n for n in dfs(expr) if n.name == "hyperopt_param"]


def test_metric_forms():
    raw = spec(
        evaluation={
            "metric": {"binary": "areaUnderPR", "params": {"rawPredictionCol": "raw"}},
            "extra_metrics": ["accuracy", {"multiclass": "f1"}],
            "train_ratio": 0.8,
        }
    )
    raw["pipeline"]["stages"][1]["class"] = "LogisticRegression"  # a classifier's metrics
    evaluation = config.parse(raw).evaluation
    assert (evaluation.metric.kind, evaluation.metric.name) == ("binary", "areaUnderPR")
    assert evaluation.metric.params == {"rawPredictionCol": "raw"}
    assert [(m.kind, m.name) for m in evaluation.extra_metrics] == [
        ("multiclass", "accuracy"),
        ("multiclass", "f1"),
    ]
    assert evaluation.folds is None and math.isclose(evaluation.train_ratio, 0.8)
    bad = spec(
        evaluation={
            "metric": {"regression": "f1"},
            "extra_metrics": [
                {"ranking": "ndcgAtK"},
                {"binary": "areaUnderPR", "params": {"x": 1}},
            ],
            "folds": 3,
            "train_ratio": 0.5,
        }
    )
    found = problems(bad)
    assert "expected one of ['rmse'" in found["evaluation.metric.regression"]
    assert "expected one evaluator kind" in found["evaluation.extra_metrics[0]"]
    assert (
        "unknown param of BinaryClassificationEvaluator"
        in found["evaluation.extra_metrics[1].params.x"]
    )
    assert "not both" in found["evaluation"]


def test_data_sources(tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text("carat,price\n0.3,400\n")
    job = config.parse(spec(data={"path": str(csv), "label": "price", "sample": 0.5}))
    assert (job.data.format, job.data.sample, job.data.dataset) == ("csv", 0.5, None)
    found = problems(
        spec(
            data={
                "path": str(tmp_path / "missing.parquet"),
                "dataset": "diamonds",
                "label": "price",
                "scale": 0,
                "limit": -5,
            }
        )
    )
    assert "no such file or directory" in found["data.path"]
    assert "exactly one of `dataset`" in found["data"]
    assert "positive integer" in found["data.scale"] and "it needs `dataset`" in found["data.scale"]
    assert "positive integer" in found["data.limit"]
    odd = problems(spec(data={"path": str(tmp_path), "label": "price", "format": "avro"}))
    assert "expected one of ['parquet'" in odd["data.format"]
    unknown = problems(spec(data={"dataset": "iris", "label": "species"}))
    assert "expected one of ['diamonds']" in unknown["data.dataset"]


def test_delta_needs_its_package(tmp_path):
    import importlib.util

    found = problems(spec(data={"path": str(tmp_path), "format": "delta", "label": "price"}))
    if importlib.util.find_spec("delta") is None:
        assert "pip install delta-spark" in found["data.format"]
    else:
        assert "data.format" not in found


def test_overrides_reach_nested_keys_list_items_and_dotted_keys():
    job = config.parse(
        copy.deepcopy(BASE),
        overrides=[
            "search.max_trials=4",
            "search.space.lr.elasticNetParam=[0.0, 1.0]",
            "pipeline.stages[lr].params.maxIter=3",
            "pipeline.stages[0].params.outputCol=feats",
            "spark.conf.spark.sql.shuffle.partitions=2",
            "tracking.enabled=false",
            "data.sample=0.1",
        ],
    )
    assert job.search.max_trials == 4
    assert job.search.space["lr.elasticNetParam"] == [0.0, 1.0]
    assert job.stages[1].params["maxIter"] == 3
    assert job.stages[0].params["outputCol"] == "feats"
    assert job.spark.conf == {"spark.sql.shuffle.partitions": "2"}
    assert job.tracking.enabled is False and job.data.sample == 0.1


def test_bad_overrides_are_problems_too():
    assert "an integer" in problems(config.apply_override(spec(), "search.seed=x"))["search.seed"]
    with pytest.raises(SpecError) as info:
        config.parse(
            copy.deepcopy(BASE),
            "job.yaml",
            ["pipeline.stages[gbt].params.maxIter=3", "no-equals-sign", "search.seed=[1"],
        )
    paths = [p.path for p in info.value.problems]
    assert paths == [
        "--set pipeline.stages[gbt].params.maxIter=3",
        "--set no-equals-sign",
        "--set search.seed=[1",
    ]


def test_safe_loader_and_unreadable_files(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("data: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        config.load(evil)
    with pytest.raises(SpecError, match="cannot read the spec file"):
        config.load(tmp_path / "absent.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(SpecError) as info:
        config.load(empty)
    assert {p.path for p in info.value.problems} == {"data", "pipeline", "search", "evaluation"}


ESTIMATOR = {
    "data": {"dataset": "diamonds", "label": "price", "features": ["carat", "depth"]},
    "estimator": {
        "class": "sklearn.ensemble.HistGradientBoostingRegressor",
        "params": {"max_iter": 20},
    },
    "search": {"strategy": "grid", "space": {"max_depth": [2, 4], "learning_rate": [0.1]}},
    "evaluation": {"metric": "neg_root_mean_squared_error"},
}


def estimator_spec(**changes):
    """ESTIMATOR with ``section__key`` -> value changes (None deletes the key)."""
    return changed(ESTIMATOR, changes)


def test_an_estimator_job_builds_a_scikit_learn_estimator_or_pipeline():
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline

    job = config.parse(estimator_spec())
    assert job.pipeline is None and job.stages == () and job.groups is None
    model = job.estimator.build()
    assert isinstance(model, HistGradientBoostingRegressor) and model.max_iter == 20
    assert job.estimator.build() is not model  # a new, unfitted instance each time
    assert job.evaluation.scoring == "neg_root_mean_squared_error"
    assert job.evaluation.metric is None and job.evaluation.folds == 3
    assert job.data.features == ("carat", "depth") and job.data.max_collect_rows == 1_000_000

    steps = [
        {"name": "scale", "class": "sklearn.preprocessing.StandardScaler"},
        {"name": "ridge", "class": "sklearn.linear_model.Ridge", "params": {"alpha": 2.0}},
    ]
    piped = config.parse(
        estimator_spec(
            estimator={"steps": steps},
            search__space={"ridge__alpha": [0.1, 1.0], "scale__with_mean": [True, False]},
        )
    )
    pipeline = piped.estimator.build()
    assert isinstance(pipeline, Pipeline) and list(pipeline.named_steps) == ["scale", "ridge"]
    assert pipeline.get_params()["ridge__alpha"] == 2.0
    assert piped.estimator.title == "Pipeline(scale, ridge)"


def test_an_estimators_scorer_is_metric_and_scoring_is_deprecated():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = config.parse(estimator_spec())
    deprecated = "evaluation.scoring is deprecated; write `metric:`"
    with pytest.warns(DeprecationWarning, match=deprecated):
        old = config.parse(estimator_spec(evaluation={"scoring": "neg_root_mean_squared_error"}))
    assert new.evaluation.scoring == old.evaluation.scoring == "neg_root_mean_squared_error"
    found = problems(estimator_spec(evaluation__metric="rmse"))
    assert "not by a Spark evaluator's metric" in found["evaluation.metric"]


def test_estimator_mistakes_have_key_paths_and_close_names():
    found = problems(
        estimator_spec(
            estimator__class="sklearn.ensemble.HistGradientBoostingRegresor",
            evaluation__metric="neg_root_mean_squred_error",
        )
    )
    assert "did you mean 'HistGradientBoostingRegressor'" in found["estimator.class"]
    assert "did you mean 'neg_root_mean_squared_error'" in found["evaluation.scoring"]

    found = problems(estimator_spec(estimator__params={"max_iterr": 5, "loss": "squared_error"}))
    assert (
        "unknown param of HistGradientBoostingRegressor; did you mean 'max_iter'"
        in (found["estimator.params.max_iterr"])
    )
    found = problems(estimator_spec(estimator__params={"max_iter": 0}))
    assert (
        "'max_iter' parameter of HistGradientBoostingRegressor must be an int in the range"
        in (found["estimator.params.max_iter"])
    )

    found = problems(
        estimator_spec(
            search__strategy="random",
            search__max_trials=3,
            search__space={
                "max_dept": [2],
                "min_samples_leaf": [1, "few"],
                "l2_regularization": {"choice": [0.0, -1.0]},
                "learning_rate": {"loguniform": [0.01, 0.3]},
            },
        )
    )
    assert (
        "unknown param of HistGradientBoostingRegressor; did you mean 'max_depth'"
        in (found["search.space.max_dept"])
    )
    assert "Got 'few' instead" in found["search.space.min_samples_leaf[1]"]
    assert "Got -1.0 instead" in found["search.space.l2_regularization.choice[1]"]
    assert len(found) == 3

    for path, message in [
        ("sklearn.ensemble.Nope", "module 'sklearn.ensemble' has no class 'Nope'"),
        ("nowhere.Model", "cannot import module 'nowhere'"),
        ("Ridge", "give the full class path (module.Class) of 'Ridge'"),
        ("pyspark.ml.regression.LinearRegression", "is not scikit-learn compatible"),
    ]:
        assert message in problems(estimator_spec(estimator__class=path))["estimator.class"]


def test_estimator_steps_are_checked_like_stages():
    steps = [
        {"name": "scale", "class": "sklearn.preprocessing.StandardScaler", "params": {"wm": 1}},
        {"name": "scale", "class": "sklearn.linear_model.Ridge"},
        {"name": "a__b", "class": "sklearn.linear_model.Ridge"},
    ]
    found = problems(estimator_spec(estimator={"steps": steps}, search__space={"x": [1]}))
    assert "unknown param of StandardScaler" in found["estimator.steps[0].params.wm"]
    assert "'scale' is used twice" in found["estimator.steps[1].name"]
    assert "cannot contain '__'" in found["estimator.steps[2].name"]
    assert "search.space.x" not in found  # not checked while the estimator is broken

    steps = [{"name": "scale", "class": "sklearn.preprocessing.StandardScaler"},
             {"name": "ridge", "class": "sklearn.linear_model.Ridge"}]  # fmt: skip
    found = problems(estimator_spec(estimator={"steps": steps}, search__space={"ridge_alpha": [1]}))
    assert (
        "unknown param of Pipeline; did you mean 'ridge__alpha'"
        in (found["search.space.ridge_alpha"])
    )
    both = {"class": "sklearn.linear_model.Ridge", "steps": steps, "params": {"alpha": 1.0}}
    found = problems(estimator_spec(estimator=both, search__space={"alpha": [1.0]}))
    assert "exactly one of `class` (one estimator) or `steps`" in found["estimator"]
    assert "`params` go with `class`" in found["estimator.params"]


def test_a_job_tunes_a_pipeline_or_an_estimator_with_the_keys_that_go_with_it():
    found = problems(estimator_spec(pipeline=copy.deepcopy(BASE["pipeline"])))
    assert "give `pipeline` (Spark ML stages) or `estimator`" in found[""]
    assert "required" in problems(estimator_spec(estimator=None))["pipeline"]

    found = problems(
        estimator_spec(
            evaluation={"metric": "rmse", "fold_col": "f", "extra_metrics": ["mae"]},
            search__scheduler={"type": "asha"},
        )
    )
    assert "scored by a scikit-learn scorer name" in found["evaluation.metric"]
    assert "missing" not in found.get("evaluation.scoring", "")
    for path in ("evaluation.fold_col", "evaluation.extra_metrics"):
        assert "applies to Spark ML pipelines only" in found[path]
    assert "search.scheduler" not in found  # halving works for an estimator too
    found = problems(estimator_spec(evaluation={"folds": 2}))
    assert "missing; an `estimator` needs a scikit-learn scorer name" in found["evaluation.metric"]
    found = problems(estimator_spec(evaluation={"scoring": "rmse"}))
    assert "e.g. neg_root_mean_squared_error, r2" in found["evaluation.scoring"]
    both = {"metric": "rmse", "scoring": "r2"}
    assert "not both" in problems(estimator_spec(evaluation=both))["evaluation.scoring"]

    found = problems(
        spec(
            evaluation={"scoring": "r2"},
            data__features=["carat"],
            data__max_collect_rows=10,
            groups={"group_by": ["cut"]},
        )
    )
    assert "a pipeline takes `metric`" in found["evaluation.scoring"]
    assert "scikit-learn `estimator` only" in found["data.features"]
    assert "scikit-learn `estimator` only" in found["data.max_collect_rows"]
    assert "needs a scikit-learn `estimator`" in found["groups"]
    assert (
        "missing; this key is required"
        in problems(spec(evaluation={"folds": 2}))["evaluation.metric"]
    )


def test_groups_section_takes_the_searchs_limits_and_refuses_what_does_not_apply():
    job = config.parse(estimator_spec(groups={"group_by": ["cut"], "max_group_rows": 500}))
    assert job.groups.group_by == ("cut",) and job.groups.max_group_rows == 500
    assert job.groups.warn_group_rows == 100_000 and job.groups.timeout is None

    limits = dict(
        groups={"group_by": ["cut"], "timeout": 30, "trials": "out/trials.csv"},
        search__parallelism=2, search__timeout=600, search__early_stopping=3,
        search__error_policy="raise",
        search__scheduler={"type": "asha", "resource": "max_iter", "min_resource": 2},
        evaluation__train_metrics=False, output={"checkpoint": "out/ckpt"},
    )  # fmt: skip
    job = config.parse(estimator_spec(**limits))
    assert job.groups.timeout == 30 and job.groups.trials == "out/trials.csv"
    assert job.search.scheduler.build().resource == "max_iter"

    found = problems(
        estimator_spec(
            groups={"group_by": ["cut", "price"], "max_group_rows": 1, "warn_group_row": 5},
            search__scheduler={"type": "asha", "resource": "n_estimators"},
            data__max_collect_rows=10,
        )
    )
    assert "did you mean 'warn_group_rows'" in found["groups.warn_group_row"]
    assert "expected an integer >= 2, got 1" in found["groups.max_group_rows"]
    assert "the label 'price' cannot be a group column" in found["groups.group_by"]
    assert "nothing is collected" in found["data.max_collect_rows"]
    assert "has no such param" in found["search.scheduler.resource"]
    found = problems(estimator_spec(groups={"group_by": []}, evaluation__train_ratio=0.8))
    assert "a non-empty list of column names" in found["groups.group_by"]
    assert "evaluation.train_ratio" not in found  # one split per group is fine
    found = problems(estimator_spec(groups={"group_by": "cut"}))
    assert "expected a non-empty list of column names, got 'cut' (str)" in found["groups.group_by"]
    # --set KEY=null (not given) passes: what the tests' shrinking flags rely on
    unset = config.parse(
        estimator_spec(groups={"group_by": ["cut"]}),
        overrides=["evaluation.train_metrics=null", "search.parallelism=null"],
    )
    assert unset.search.parallelism == 1


def test_validate_and_the_runner_check_an_estimator_job_without_spark(capsys):
    from types import SimpleNamespace

    from sparktune.jobs import cli, runner

    examples = Path(__file__).parent.parent / "conf" / "examples"
    assert cli.main(["validate", str(examples / "diamonds_groups.yaml")]) == 0
    out = capsys.readouterr().out
    assert "OK (Pipeline(scale, ridge) per group of cut, color; tpe search" in out
    assert "metric r2" in out
    job = config.parse(estimator_spec(groups={"group_by": ["cut", "colour"]}), "job.yaml")
    frame = SimpleNamespace(columns=["carat", "cut", "price"])
    with pytest.raises(SpecError) as info:
        runner.check_columns(job, frame)
    paths = [p.path for p in info.value.problems]
    assert paths == ["data.features[1]", "groups.group_by[1]"]
    assert "column 'colour' is not in the data" in str(info.value)
    with pytest.raises(SpecError, match="--resume needs output.checkpoint"):
        runner.run(job, resume=True)  # refused before Spark starts
    kept = config.parse(estimator_spec(groups={"group_by": ["cut"]}, output={"results": "o/r.csv"}))
    assert runner.checkpoint_path(kept) == str(Path("o") / "checkpoint")  # a folder per group
