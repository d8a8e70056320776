"""The compatibility shims (``sparktune.compat``), each on the real pyspark of the environment
this runs in (pyspark 4.x in the main environment, 3.5 in ``.venv-compat``), and a scan of
the source: private attributes of pyspark, py4j, MLflow, hyperopt, Optuna, scikit-learn and
XGBoost are touched only in ``sparktune/compat``."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pyspark
import pytest
from pyspark import StorageLevel
from pyspark.ml import tuning as pt
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator

from sparktune import SetupError
from sparktune.compat import pyspark as compat
from sparktune.compat import spark_status
from sparktune.compat.extras import version_tuple

pytestmark = pytest.mark.compat

SOURCE = Path(__file__).resolve().parent.parent / "sparktune"

#: The Params idioms every custom pyspark.ml class uses, allowed where they are written.
PARAMS_IDIOMS = {"_set", "_setDefault", "_dummy", "_copyValues", "_resetUid", "_input_kwargs"}
DEPENDENCIES = ("pyspark", "py4j", "mlflow", "hyperopt", "optuna", "sklearn", "xgboost")


def private_accesses(tree: ast.AST) -> list[str]:
    """``obj._name`` (not on self/cls/super()), ``getattr(obj, "_name")`` and imports of
    private names from the dependencies, as ``line: text``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            own = isinstance(base, ast.Name) and base.id in ("self", "cls")
            parent = isinstance(base, ast.Call) and ast.unparse(base.func) == "super"
            if not own and not parent and node.attr not in PARAMS_IDIOMS:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
            "getattr",
            "setattr",
            "hasattr",
        ):
            name = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                if _private(name.value):
                    found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] in DEPENDENCIES:
                for alias in node.names:
                    if any(_private(p) for p in [*parts, alias.name]):
                        found.append(f"{node.lineno}: from {node.module} import {alias.name}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def test_private_apis_are_reached_only_from_the_compat_modules():
    offenders = {}
    for path in sorted(SOURCE.rglob("*.py")):
        if "compat" in path.relative_to(SOURCE).parts:
            continue
        found = private_accesses(ast.parse(path.read_text(), str(path)))
        if found:
            offenders[str(path.relative_to(SOURCE.parent))] = found
    assert offenders == {}, (
        "private attributes of dependencies belong in sparktune/compat (one module per "
        f"dependency): {offenders}"
    )


def test_the_scan_finds_what_it_must():
    code = (
        "from pyspark.ml.tuning import _ValidatorSharedReadWrite\n"
        "x = spark._jsparkSession\n"
        "y = getattr(model, '_java_obj', None)\n"
        "self._own = 1\n"
        "stage._set(a=1)\n"
    )
    found = private_accesses(ast.parse(code))
    assert [f.split(":")[0] for f in found] == ["1", "2", "3"]


def test_connect_is_refused_on_pyspark_35_only():
    class RemoteLike:
        """Stands for a Connect session by its module, as the check reads it."""

    RemoteLike.__module__ = "pyspark.sql.connect.session"
    if version_tuple(pyspark.__version__) < (4, 0):
        with pytest.raises(SetupError, match="needs Spark 4"):
            compat.check_connect(RemoteLike())
    else:
        compat.check_connect(RemoteLike())
    assert compat.PYSPARK_4 == (version_tuple(pyspark.__version__) >= (4, 0))


def test_thread_target_carries_thread_locals(spark):
    sc = spark.sparkContext
    sc.setLocalProperty("sparktune.test", "carried")
    seen = []
    try:
        target = compat.thread_target(
            spark, lambda: seen.append(sc.getLocalProperty("sparktune.test"))
        )
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    finally:
        sc.setLocalProperty("sparktune.test", None)
    assert seen == ["carried"]


def test_cached_relation_frame_and_size(spark):
    df = spark.range(1000).selectExpr("id", "id * 2 AS twice")
    assert compat.cached_relation_frame(df, spark) is None  # not cached
    df.persist(StorageLevel.MEMORY_ONLY)
    try:
        assert df.count() == 1000
        frame = compat.cached_relation_frame(df, spark)
        assert frame is not None and frame.columns == ["id", "twice"]
        assert sorted(r.twice for r in frame.limit(3).collect()) == sorted(
            r.twice for r in df.limit(3).collect()
        )
        assert spark_status.persisted_bytes(df) > 0
    finally:
        df.unpersist()
    assert spark_status.storage_memory(spark).total > 0


def test_stage_totals_read_the_status_store(spark):
    before = spark_status.stage_totals(spark)
    spark.range(5000).selectExpr("id % 7 AS k").groupBy("k").count().collect()
    after = spark_status.stage_totals(spark)
    assert after, "the status store's stages could not be read"
    assert set(spark_status.STAGE_METRICS) <= set(after["collect"])
    added = after["collect"]["tasks"] - before.get("collect", {}).get("tasks", 0)
    assert added > 0
    assert after["collect"]["executorRunTime"] >= before.get("collect", {}).get(
        "executorRunTime", 0
    )
    assert spark_status.stage_totals(object()) == {}


def test_validator_round_trip_and_model_release(spark, tmp_path):
    lr = LogisticRegression(maxIter=2)
    cv = pt.CrossValidator(
        estimator=lr,
        estimatorParamMaps=pt.ParamGridBuilder().addGrid(lr.regParam, [0.1]).build(),
        evaluator=BinaryClassificationEvaluator(),
        numFolds=2,
    )
    writer = compat.validator_writer(cv, pt.CrossValidatorWriter(cv))
    assert isinstance(writer, pt.CrossValidatorWriter) != compat.is_connect()
    writer.save(str(tmp_path / "cv"))
    loaded = compat.load_validator(str(tmp_path / "cv"), spark, pt.CrossValidator)
    assert loaded.uid == cv.uid and loaded.getNumFolds() == 2
    assert [m[lr.regParam] for m in loaded.getEstimatorParamMaps()] == [0.1]
    compat.release_remote_model(lr)  # a classic stage: nothing to release, nothing raised


def test_session_shims(spark):
    assert compat.default_session() is spark
    assert compat.is_local_master(spark)
    assert compat.concurrent_task_slots(spark) == 2  # the test session is local[2]
    assert compat.conf_seconds(spark, "spark.sparktune.test.unset", "2min") == 120.0
    clone = compat.clone_session(spark, {"spark.sql.codegen.factoryMode": "NO_CODEGEN"})
    assert clone is not None and clone is not spark
    assert clone.conf.get("spark.sql.codegen.factoryMode") == "NO_CODEGEN"
    assert spark.conf.get("spark.sql.codegen.factoryMode", None) != "NO_CODEGEN"
    assert compat.default_session() is spark  # the clone did not become the default
    rdd = spark.sparkContext.parallelize(range(10)).persist()
    try:
        rdd.count()
        assert rdd.id() in compat.persisted_rdds(spark)
    finally:
        rdd.unpersist()
    assert rdd.id() not in compat.persisted_rdds(spark)


def test_java_stage_shims(spark):
    good = BinaryClassificationEvaluator()
    assert not compat.is_remote_stage(good)
    compat.push_params_to_jvm(good)
    with pytest.raises(Exception, match="nonsense"):
        compat.push_params_to_jvm(BinaryClassificationEvaluator(metricName="nonsense"))
    assert not compat.is_remote_model(LogisticRegression())


def test_hyperopt_tpe_defaults_are_suggests():
    import inspect

    from hyperopt import tpe

    from sparktune.compat import hyperopt as compat_hyperopt

    defaults = inspect.signature(tpe.suggest).parameters
    assert defaults["gamma"].default == compat_hyperopt.TPE_GAMMA
    assert defaults["n_EI_candidates"].default == compat_hyperopt.TPE_EI_CANDIDATES
    assert defaults["prior_weight"].default == compat_hyperopt.TPE_PRIOR_WEIGHT


def test_sklearn_constraints():
    from sklearn.linear_model import Ridge

    from sparktune.compat import sklearn as compat_sklearn

    assert "alpha" in compat_sklearn.parameter_constraints(Ridge())
    assert compat_sklearn.validate_params(Ridge(alpha=1.0)) is True
    with pytest.raises(ValueError, match="alpha"):
        compat_sklearn.validate_params(Ridge(alpha=-1.0))
    assert compat_sklearn.validate_params(object()) is False
    assert compat_sklearn.parameter_constraints(object()) == {}
    assert compat_sklearn.scorer_function("r2").__name__ == "r2_score"
    assert compat_sklearn.scorer_function("no_such_scorer") is None


def test_xgboost_mirrored_class():
    from xgboost import XGBRegressor
    from xgboost.spark import SparkXGBRegressor

    from sparktune.compat import xgboost as compat_xgboost

    assert compat_xgboost.mirrored_sklearn_class(SparkXGBRegressor()) is XGBRegressor
    assert compat_xgboost.mirrored_sklearn_class(LogisticRegression()) is None


def test_mlflow_record_logged_model(tmp_path):
    from mlflow import MlflowClient
    from mlflow.models import Model

    from sparktune.compat import mlflow as compat_mlflow

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("compat"))
    model = Model(artifact_path="model", run_id=run.info.run_id)
    compat_mlflow.record_logged_model(client, run.info.run_id, model)
    tags = client.get_run(run.info.run_id).data.tags
    assert "model" in tags.get("mlflow.log-model.history", "")
