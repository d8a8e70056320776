"""Search spaces: names resolved to Spark Params, values converted, conditional branches."""

from __future__ import annotations

import pytest
from conftest import featurizers
from hyperopt import hp
from pyspark.ml import Pipeline
from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor, LinearRegression
from xgboost.spark import SparkXGBRegressor

from sparktune import ValidationError
from sparktune.search.space import ESTIMATOR, resolve
from sparktune.spark import pipeline


@pytest.fixture
def lr(spark):
    return LinearRegression(featuresCol="features", labelCol="price")


@pytest.fixture
def pipe(lr):
    return Pipeline(stages=featurizers() + [lr])


def test_names_by_class_uid_prefix_and_param_object(pipe, lr):
    scaler = pipe.getStages()[3]
    space = resolve(
        pipe,
        {
            "LinearRegression.regParam": [0.1, 1.0],
            f"{lr.uid}.maxIter": [5],
            "StandardSc.withMean": [True, False],
            lr.elasticNetParam: [0.0, 0.5],
        },
    )
    assert space.params == {
        "LinearRegression.regParam": lr.regParam,
        f"{lr.uid}.maxIter": lr.maxIter,
        "StandardSc.withMean": scaler.withMean,
        "LinearRegression.elasticNetParam": lr.elasticNetParam,
    }
    assert space.options[lr.regParam] == [0.1, 1.0]
    assert space.options[scaler.withMean] == [True, False]


def test_reset_uid_names_a_stage(spark):
    lr = LinearRegression()._resetUid("lr")
    space = resolve(Pipeline(stages=featurizers() + [lr]), {"lr.regParam": [0.5]})
    (assignment,) = space.grid()
    candidate = space.candidate(assignment)
    assert candidate.params == {"lr.regParam": 0.5}
    assert candidate.param_map == {lr.regParam: 0.5}


def test_unknown_names_list_the_valid_ones(pipe):
    with pytest.raises(ValidationError, match=r"no stage is named 'lr'.*LinearRegression_"):
        resolve(pipe, {"lr.regParam": [0.1]})
    with pytest.raises(ValidationError, match=r"has no param 'regParm'.*'regParam'"):
        resolve(pipe, {"LinearRegression.regParm": [0.1]})
    with pytest.raises(ValidationError, match="not 'stage.param'"):
        resolve(pipe, {"regParam": [0.1]})
    other = LinearRegression()
    with pytest.raises(ValidationError, match=f"no stage is named '{other.uid}'"):
        resolve(pipe, {other.regParam: [0.1]})


def test_ambiguous_class_name_asks_for_a_uid(spark):
    first, second = LinearRegression(), LinearRegression()
    with pytest.raises(ValidationError, match="matches several stages"):
        resolve(Pipeline(stages=[first, second]), {"LinearRegression.regParam": [0.1]})


def test_integer_params_arrive_as_ints(pipe, lr):
    space = resolve(pipe, {"LinearRegression.maxIter": hp.quniform("iters", 2, 9, 1)})
    candidate = space.candidate({"iters": 4.0})
    assert candidate.param_map[lr.maxIter] == 4
    assert type(candidate.param_map[lr.maxIter]) is int


def test_xgboost_integer_params_arrive_as_ints(spark):
    xgb = SparkXGBRegressor(features_col="features", label_col="price")
    space = resolve(
        xgb,
        {
            "SparkXGBRegressor.max_depth": hp.quniform("depth", 2, 6, 1),
            "SparkXGBRegressor.n_estimators": [10.0, 20.0],
            "SparkXGBRegressor.learning_rate": hp.uniform("eta", 0.05, 0.3),
        },
    )
    values = space.candidate({"depth": 3.0, "SparkXGBRegressor.n_estimators": 1, "eta": 0.1})
    assert values.params["SparkXGBRegressor.max_depth"] == 3
    assert type(values.params["SparkXGBRegressor.max_depth"]) is int
    assert type(values.params["SparkXGBRegressor.n_estimators"]) is int
    assert type(values.params["SparkXGBRegressor.learning_rate"]) is float
    with pytest.raises(ValidationError, match="max_depth does not take.*takes integers"):
        resolve(xgb, {"SparkXGBRegressor.max_depth": hp.uniform("d", 2, 6)})


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"LinearRegression.maxIter": hp.uniform("u", 1, 5)}, "takes integers"),
        ({"LinearRegression.solver": ["l-bfgs", 3]}, "LinearRegression.solver does not take"),
        ({"LinearRegression.regParam": ["high"]}, "LinearRegression.regParam does not take"),
        ({"LinearRegression.regParam": []}, "empty list"),
        ({ESTIMATOR: ["not an estimator"]}, "must be a pyspark.ml Estimator"),
    ],
)
def test_wrong_value_types_fail_when_resolved(pipe, space, message):
    with pytest.raises(ValidationError, match=message):
        resolve(pipe, space)


def test_grid_is_every_combination_first_name_slowest(pipe):
    space = resolve(
        pipe, {"LinearRegression.regParam": [0.0, 1.0], "LinearRegression.elasticNetParam": [0, 1]}
    )
    points = [space.candidate(a).params for a in space.grid()]
    assert points == [
        {"LinearRegression.regParam": r, "LinearRegression.elasticNetParam": e}
        for r in (0.0, 1.0)
        for e in (0.0, 1.0)
    ]


def test_grid_rejects_continuous_distributions(pipe):
    space = resolve(pipe, {"LinearRegression.regParam": hp.loguniform("reg", -5, 0)})
    with pytest.raises(ValidationError, match=r"\['reg'\] are continuous"):
        space.grid()


def test_list_of_dicts_is_a_conditional_grid(pipe, lr):
    space = resolve(
        pipe,
        {
            "loss": [
                {"LinearRegression.loss": "huber", "LinearRegression.epsilon": [1.35, 2.0]},
                {
                    "LinearRegression.loss": "squaredError",
                    "LinearRegression.elasticNetParam": [0.5],
                },
            ]
        },
    )
    points = [space.candidate(a).param_map for a in space.grid()]
    assert points == [
        {lr.loss: "huber", lr.epsilon: 1.35},
        {lr.loss: "huber", lr.epsilon: 2.0},
        {lr.loss: "squaredError", lr.elasticNetParam: 0.5},
    ]


def test_choice_between_final_estimators_keeps_the_featurizers_apart(pipe, lr):
    tree = DecisionTreeRegressor(featuresCol="features", labelCol="price")
    gbt = GBTRegressor(featuresCol="features", labelCol="price")
    space = resolve(
        pipe,
        {
            ESTIMATOR: hp.choice(
                "model",
                [
                    {ESTIMATOR: lr, "LinearRegression.regParam": hp.loguniform("reg", -4, 0)},
                    {ESTIMATOR: tree, "DecisionTreeRegressor.maxDepth": hp.quniform("d", 2, 6, 1)},
                    {ESTIMATOR: gbt, "GBTRegressor.maxIter": hp.choice("iters", [3, 5])},
                ],
            )
        },
    )
    holder = space.estimator.getStages()[-1]
    assert space.options[holder.stages] == [[lr], [tree], [gbt]]
    plan = pipeline.plan(space.estimator, space.options)
    assert [type(s).__name__ for s in plan.prefix] == [
        type(s).__name__ for s in pipe.getStages()[:-1]
    ]
    assert plan.suffix == (holder,)
    tree_point = space.candidate({"model": 1, "d": 3.0})
    assert tree_point.params == {ESTIMATOR: tree, "DecisionTreeRegressor.maxDepth": 3}
    assert tree_point.param_map == {holder.stages: [tree], tree.maxDepth: 3}
    gbt_point = space.candidate({"model": 2, "iters": 1})
    assert gbt_point.param_map == {holder.stages: [gbt], gbt.maxIter: 5}


def test_a_list_inside_hp_choice_is_one_value_as_in_hyperopt(pipe):
    space = {"m": hp.choice("m", [{"LinearRegression.maxIter": [3, 5]}])}
    with pytest.raises(ValidationError, match="inside hp.choice a list is one value"):
        resolve(pipe, space)


def test_choice_of_whole_stage_lists_through_a_pipelines_stages(lr):
    tree = DecisionTreeRegressor(featuresCol="features", labelCol="price")
    head = Pipeline(stages=[lr])
    outer = Pipeline(stages=featurizers() + [head])
    space = resolve(outer, {head.stages: [[lr], [tree]], "DecisionTreeRegressor.maxDepth": [2]})
    assert space.options[head.stages] == [[lr], [tree]]
    assert [space.candidate(a).param_map[head.stages] for a in space.grid()] == [[lr], [tree]]


def test_points_map_back_to_assignments(pipe, lr):
    tree = DecisionTreeRegressor(featuresCol="features", labelCol="price")
    space = resolve(
        pipe,
        {
            ESTIMATOR: hp.choice(
                "model",
                [
                    {ESTIMATOR: lr, "LinearRegression.regParam": hp.loguniform("reg", -4, 0)},
                    {ESTIMATOR: tree, "DecisionTreeRegressor.maxDepth": hp.choice("d", [2, 4])},
                ],
            ),
        },
    )
    point = {ESTIMATOR: tree, tree.maxDepth: 4}
    assignment = space.assignment(point)
    assert space.candidate(assignment).param_map[tree.maxDepth] == 4
    assert space.candidate(space.assignment({ESTIMATOR: lr, lr.regParam: 0.3})).params == {
        ESTIMATOR: lr,
        "LinearRegression.regParam": 0.3,
    }
    with pytest.raises(ValidationError, match="not in the space"):
        space.assignment({ESTIMATOR: tree, tree.maxDepth: 3})
    with pytest.raises(ValidationError, match="not in the space"):
        space.assignment({ESTIMATOR: lr})
