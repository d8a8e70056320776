"""Logging the refit best model: Spark flavor, signature, input example, pip requirements.

The model is saved with ``mlflow.spark.save_model`` to a local temporary directory (on the
caller's thread: a Spark Connect model is written through that thread's session) and
uploaded with ``MlflowClient.log_artifacts`` to the parent run, by run id and tracking URI.
(``mlflow.spark.log_model`` would log to the fluent API's active run in the process-wide
tracking URI, which another thread may be using.) Giving the pip requirements spares MLflow
inferring them by reloading the model (15 s against 1 s, measured).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pyspark.ml.param import Params
from pyspark.sql import DataFrame

from sparktune.compat.mlflow import record_logged_model
from sparktune.compat.pyspark import is_remote_model
from sparktune.core.errors import describe_error

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

#: Where in the parent run the model goes.
MODEL_PATH = "model"
#: Rows of the search's data kept as the model's input example.
EXAMPLE_ROWS = 5


def installed_version(package: str) -> str:
    """The installed version of ``package``, or "unknown"."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def is_spark_model(model: Any) -> bool:
    """Whether ``model`` is a Spark ML model (else a scikit-learn-compatible one)."""
    return isinstance(model, Params)


def pip_requirements(model: Any) -> list[str]:
    """What loading ``model`` needs: pyspark (or scikit-learn), and xgboost when it uses it."""
    if not is_spark_model(model):
        requirements = [f"scikit-learn=={installed_version('scikit-learn')}"]
        if _is_xgboost(model):
            requirements.append(f"xgboost=={installed_version('xgboost')}")
        return requirements
    requirements = [f"pyspark=={installed_version('pyspark')}"]
    modules = {type(stage).__module__.split(".")[0] for stage in _stages(model)}
    if "xgboost" in modules:
        requirements.append(f"xgboost=={installed_version('xgboost')}")
    return requirements


def signature_and_example(model: Any, data: Any, label: str | None) -> tuple[Any, Any]:
    """The model's signature and a few rows of input example, from the search's data.

    ``data`` is a Spark DataFrame, or a pandas frame for a scikit-learn model. (None, None)
    without data or when the model cannot score a sample; the model is logged all the same.
    """
    if data is None:
        return None, None
    try:
        from mlflow.models import infer_signature

        if not isinstance(data, DataFrame):
            example = data.drop(columns=[label]).head(EXAMPLE_ROWS)
            return infer_signature(example, model.predict(example)), example

        columns = [c for c in data.columns if c != label]
        sample = data.select(*columns).limit(EXAMPLE_ROWS)
        example = sample.toPandas()
        output = model.transform(sample)
        prediction = _prediction_column(model)
        if prediction not in output.columns:
            return None, example
        return infer_signature(example, output.select(prediction).toPandas()), example
    except Exception as exc:
        logger.warning("MLflow: no model signature: %s", describe_error(exc))
        return None, None


def save_model(
    model: Any, *, signature: Any, input_example: Any, requirements: list[str]
) -> tempfile.TemporaryDirectory[str]:
    """Save ``model`` in the Spark flavor to a new temporary folder, on the calling thread.

    The calling thread matters on Spark Connect: a model is written through the thread's
    active session, and the tracker's writer thread has none. MLflow's Spark flavor cannot
    save a Connect model (it needs a local JVM): such a model is saved in pyspark's own
    format instead, which the *server* writes, so it reaches the folder only when the
    server shares this machine's file system. The folder's ``model`` subfolder holds the
    saved model until :func:`upload_model` sends it.
    """
    import mlflow.spark

    folder = tempfile.TemporaryDirectory(prefix="sparktune-model-")
    local = os.path.join(folder.name, MODEL_PATH)
    if not is_spark_model(model):
        try:
            _save_single_machine(model, local, signature, input_example, requirements)
        except BaseException:
            folder.cleanup()
            raise
        return folder
    try:
        try:
            mlflow.spark.save_model(
                model, local, **_flavor_args(signature, input_example, requirements)
            )
        except AttributeError as exc:  # MLflow's Spark flavor reaches for a local JVM
            if not _fitted_on_connect(model):
                raise
            logger.warning(
                "MLflow's Spark flavor cannot save a Spark Connect model (%s); logging it "
                "in pyspark's own format instead (load it with PipelineModel.load)",
                describe_error(exc),
            )
            shutil.rmtree(local, ignore_errors=True)
            model.write().overwrite().save(local)  # written by the server, see above
    except BaseException:
        folder.cleanup()
        raise
    return folder


def _save_single_machine(
    model: Any, local: str, signature: Any, input_example: Any, requirements: list[str]
) -> None:
    """Save a scikit-learn model with MLflow's xgboost flavor (an xgboost model) or sklearn's."""

    if _is_xgboost(model) and not hasattr(model, "steps"):
        import mlflow.xgboost

        save: Any = mlflow.xgboost.save_model
    else:
        import mlflow.sklearn

        save = mlflow.sklearn.save_model
    save(model, local, **_flavor_args(signature, input_example, requirements))


def _flavor_args(signature: Any, input_example: Any, requirements: list[str]) -> dict[str, Any]:
    """The keyword arguments every MLflow flavor's ``save_model`` takes from sparktune."""
    from mlflow.models import Model

    return {
        "mlflow_model": Model(artifact_path=MODEL_PATH),
        "signature": signature,
        "input_example": input_example,
        "pip_requirements": requirements,
    }


def _is_xgboost(model: Any) -> bool:
    """Whether ``model`` (or a step of a scikit-learn Pipeline) is an xgboost model."""
    steps = [step for _, step in getattr(model, "steps", None) or []] or [model]
    return any(type(step).__module__.split(".")[0] == "xgboost" for step in steps)


def upload_model(
    client: MlflowClient, run_id: str, folder: tempfile.TemporaryDirectory[str]
) -> None:
    """Name ``run_id`` in the saved model's MLmodel and upload it to :data:`MODEL_PATH`."""
    from mlflow.models import Model

    local = os.path.join(folder.name, MODEL_PATH)
    if not os.path.exists(os.path.join(local, "MLmodel")):  # pyspark's own format
        client.log_artifacts(run_id, local, MODEL_PATH)
        return
    description = Model.load(local)
    description.run_id = run_id
    description.save(os.path.join(local, "MLmodel"))
    client.log_artifacts(run_id, local, MODEL_PATH)
    try:
        record_logged_model(client, run_id, description)
    except Exception as exc:  # the model is logged; only the run's listing of it is missing
        logger.warning("MLflow: could not record the model on run %s: %s", run_id, exc)


def _fitted_on_connect(model: Any) -> bool:
    """Whether ``model`` lives on a Spark Connect server (a stage refers to it remotely)."""
    return any(is_remote_model(stage) for stage in _stages(model))


def _stages(model: Any) -> Iterator[Any]:
    yield model
    for stage in getattr(model, "stages", None) or []:
        yield from _stages(stage)


def _prediction_column(model: Any) -> str:
    last = list(_stages(model))[-1]
    if isinstance(last, Params) and last.hasParam("predictionCol"):
        return str(last.getOrDefault("predictionCol"))
    return "prediction"
