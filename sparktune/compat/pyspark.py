"""pyspark internals sparktune relies on, and what differs between pyspark 3.5 and 4.x.

Spark Connect runs ``pyspark.ml`` only from pyspark 4.0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pyspark
from pyspark.ml.util import MLWriter
from pyspark.sql.utils import is_remote
from pyspark.util import inheritable_thread_target

from sparktune.compat.extras import version_tuple
from sparktune.core.errors import SetupError

T = TypeVar("T")

#: Whether the installed pyspark is 4.x (3.5.x otherwise: sparktune checks at import).
PYSPARK_4 = version_tuple(pyspark.__version__) >= (4, 0)


def is_connect() -> bool:
    """Whether this process talks to Spark through Spark Connect (``pyspark.ml`` follows it)."""
    return bool(is_remote())


def thread_target(session: Any, target: Callable[[], T]) -> Callable[[], T]:
    """``target`` wrapped to run on another thread with the caller's Spark thread-locals.

    pyspark 4.x also makes ``session`` the thread's active session (Spark Connect deletes
    released models through it); pyspark 3.5's form takes the function alone.
    """
    if PYSPARK_4:
        return inheritable_thread_target(session)(target)
    return inheritable_thread_target(target)


def check_connect(session: Any) -> None:
    """Refuse a Spark Connect session on pyspark 3.5, where ``pyspark.ml`` cannot run on it."""
    if not PYSPARK_4 and type(session).__module__.startswith("pyspark.sql.connect"):
        raise SetupError(
            f"sparktune on Spark Connect needs Spark 4 (pyspark.ml runs on Connect from "
            f"pyspark 4.0); this is pyspark {pyspark.__version__}. Use a classic session "
            "(SparkSession.builder.master(...)) or a Spark 4 runtime."
        )


def validator_writer(instance: Any, classic: MLWriter) -> MLWriter:
    """The writer for a Python-side tuning validator or model: ``classic`` on a classic
    session; on Spark Connect pyspark's own remote writer, which runs the same Python writer
    against the Connect session and handles ``overwrite()`` on the server.
    """
    if not is_connect():
        return classic
    from pyspark.ml.connect.readwrite import RemoteMLWriter

    return RemoteMLWriter(instance)


def load_validator(path: str, session: Any, cls: type) -> Any:
    """Load a validator saved by pyspark's Python writer at ``path`` as an instance of ``cls``.

    pyspark decodes saved param maps as Python-written only for classes under
    ``pyspark.ml.``, so the metadata's class is read as one of those. pyspark 3.5's readers
    take the SparkContext, 4.x's the session.
    """
    from pyspark.ml.tuning import _ValidatorSharedReadWrite
    from pyspark.ml.util import DefaultParamsReader

    if not PYSPARK_4:
        session = session.sparkContext
    metadata = DefaultParamsReader.loadMetadata(path, session)
    as_python = {**metadata, "class": f"pyspark.ml.{metadata['class']}"}
    metadata, estimator, evaluator, epm = _ValidatorSharedReadWrite.load(path, session, as_python)
    instance = cls(estimator=estimator, estimatorParamMaps=epm, evaluator=evaluator)
    instance = instance._resetUid(metadata["uid"])
    DefaultParamsReader.getAndSetParams(instance, metadata, skipParams=["estimatorParamMaps"])
    return instance


def release_remote_model(model: Any) -> None:
    """Free one fitted model's copy in a Spark Connect server's model cache now.

    Nothing happens for a model fitted on a classic session, or on pyspark 3.5 (no
    ``pyspark.ml`` on Connect there). The model is unusable afterwards.
    """
    try:
        from pyspark.ml.util import RemoteModelRef
    except ImportError:
        return
    ref = getattr(model, "_java_obj", None)
    if isinstance(ref, RemoteModelRef):
        model._java_obj = None  # its __del__ then finds nothing left to release
        ref.release_ref()


def cached_relation_frame(df: Any, session: Any) -> Any:
    """A DataFrame of ``session`` whose plan is just ``df``'s cached relation, or None.

    None where the relation cannot be reached: ``df`` not cached, or Spark Connect. The JVM
    class that builds a DataFrame from a plan is ``org.apache.spark.sql.classic.Dataset``
    from Spark 4 (the split of classic and Connect) and ``org.apache.spark.sql.Dataset`` in
    3.5.
    """
    from py4j.protocol import Py4JError
    from pyspark.sql import DataFrame

    spark = df.sparkSession
    try:
        cached = spark._jsparkSession.sharedState().cacheManager().lookupCachedData(df._jdf)
        if not cached.isDefined():
            return None
        relation = cached.get().cachedRepresentation()
        sql = spark._jvm.org.apache.spark.sql
        dataset = sql.classic.Dataset if PYSPARK_4 else sql.Dataset
        jdf = dataset.ofRows(session._jsparkSession, relation)
    except (AttributeError, Py4JError):
        return None
    return DataFrame(jdf, session)


def persisted_rdds(spark: Any) -> dict[int, Any]:
    """RDD id -> the JVM RDD, for every RDD a classic session's context holds persisted."""
    held = spark.sparkContext._jsc.getPersistentRDDs()
    return {int(rdd_id): held[rdd_id] for rdd_id in held.keys()}


def is_local_master(spark: Any) -> bool:
    """Whether a classic session's context runs in local mode (``local[N]``)."""
    return bool(spark.sparkContext._jsc.sc().isLocal())


def concurrent_task_slots(spark: Any) -> int:
    """The task slots Spark's barrier check compares a barrier stage against, right now."""
    sc = spark.sparkContext._jsc.sc()
    profile = sc.resourceProfileManager().resourceProfileFromId(0)
    return int(sc.maxNumConcurrentTasks(profile))


def conf_seconds(spark: Any, key: str, default: str) -> float:
    """A time setting of a classic session's context in seconds (``"30s"``, ``"2min"``...)."""
    return float(spark.sparkContext._jsc.sc().conf().getTimeAsSeconds(key, default))


def default_session() -> Any:
    """The process's default classic session while its context runs (None otherwise), even
    when it is not active on this thread."""
    from pyspark.sql import SparkSession

    session = SparkSession._instantiatedSession
    if session is None or getattr(session, "_sc", None) is None or session._sc._jsc is None:
        return None
    return session


def clone_session(spark: Any, conf: dict[str, str]) -> Any:
    """A clone of a classic ``spark`` (same context, cache and settings) with ``conf`` set,
    ``spark`` staying the process's default and active session; None where it cannot be
    cloned (Spark Connect) or where the session already sets a key of ``conf``.
    """
    from py4j.protocol import Py4JError
    from pyspark.sql import SparkSession

    try:
        jsession = spark._jsparkSession
        if any(jsession.conf().contains(key) for key in conf):
            return None
        clone = SparkSession(spark.sparkContext, jsession.cloneSession())
    except (AttributeError, Py4JError):
        return None
    if SparkSession._instantiatedSession is clone:  # pyspark made the clone its default
        SparkSession._instantiatedSession = SparkSession._activeSession = spark
        if PYSPARK_4:
            jvm_class = SparkSession._get_j_spark_session_class(spark._jvm)
        else:
            jvm_class = spark._jvm.SparkSession
        jvm_class.setDefaultSession(jsession)
        jvm_class.setActiveSession(jsession)
    for key, value in conf.items():
        clone.conf.set(key, value)
    return clone


def is_remote_model(stage: Any) -> bool:
    """Whether ``stage`` (a fitted model) lives on a Spark Connect server."""
    try:
        from pyspark.ml.util import RemoteModelRef
    except ImportError:  # pyspark 3.5: no pyspark.ml on Connect
        return False
    return isinstance(getattr(stage, "_java_obj", None), RemoteModelRef)


def is_remote_stage(stage: Any) -> bool:
    """Whether a ``pyspark.ml`` Java stage or evaluator is only named here and lives on a
    Spark Connect server (its JVM object is a class name, not a py4j handle)."""
    return isinstance(getattr(stage, "_java_obj", None), str)


def push_params_to_jvm(stage: Any) -> None:
    """Set a classic Java stage's (or evaluator's) Python params on its JVM object, so the
    JVM checks them now (e.g. an unknown metricName) rather than at the first job."""
    stage._transfer_params_to_java()
