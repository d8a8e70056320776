"""Spark sessions: embedded local Spark (a Java check, sensible local defaults) and the
interpreted clone that per-candidate fits run in."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping

from py4j.protocol import Py4JError
from pyspark.sql import SparkSession

from sparktune.core.errors import SetupError

logger = logging.getLogger(__name__)

#: Settings for the embedded ``local[*]`` mode; a cluster's own defaults win elsewhere.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.memory": "4g",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

MIN_JAVA = 17

#: Set on the session that per-candidate fits and scores run in (see interpreted_session).
INTERPRETED = ("spark.sql.codegen.factoryMode", "NO_CODEGEN")


def java_version() -> int:
    """Return the major version of the ``java`` that Spark will start; raise if there is none."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise SetupError(
            "Java was not found: pyspark 4 needs Java 17 or newer. Install a JDK 17+ "
            "(e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise SetupError(f"Could not read the Java version from `{java} -version`.")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


def check_java() -> None:
    """Fail with a clear message when Java is missing or older than pyspark 4 needs."""
    major = java_version()
    if major < MIN_JAVA:
        raise SetupError(
            f"Java {major} was found, but pyspark 4 needs Java {MIN_JAVA} or newer. "
            "Install a newer JDK or point JAVA_HOME at one."
        )


def under_spark_submit() -> bool:
    """Whether this process is a driver launched by spark-submit (its JVM is already up)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_session(
    master: str | None = None,
    conf: Mapping[str, str] | None = None,
    app_name: str = "sparktune",
) -> SparkSession:
    """Return the active SparkSession, or start one (``local[*]`` with LOCAL_DEFAULTS by default).

    Under spark-submit the session is spark-submit's: its ``--master`` and ``--conf`` win,
    and ``master``/``conf`` here are ignored. Python workers use this interpreter
    (``PYSPARK_PYTHON``) so that executors see the same packages as the driver, which
    ``xgboost.spark`` and pandas UDFs rely on.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if under_spark_submit():
        return SparkSession.builder.getOrCreate()  # spark-submit's --name, --master, --conf
    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    settings: dict[str, str] = {}
    if master is None or master.startswith("local"):
        settings.update(LOCAL_DEFAULTS)
    settings.update(conf or {})
    if master:
        builder = builder.master(master)
    elif not os.environ.get("SPARK_MASTER") and "spark.master" not in settings:
        builder = builder.master("local[*]")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    logger.info("Spark %s session on %s", session.version, session.sparkContext.master)
    return session


def interpreted_session(spark: SparkSession) -> SparkSession:
    """A clone of ``spark`` (same context, cache and settings) that evaluates SQL uncompiled.

    Spark ML's fits check their input with expressions over fresh lambda variables (e.g.
    ``exists(values, x_17 -> isnan(x_17))``); the variable's name lands in the generated
    Java source, so no two fits share a compiled class and each one pays a Janino compile
    plus the JIT's work on a class used once. The queries a candidate runs on a featurized
    fold are small next to that, so they run interpreted (docs/benchmarks.md has the
    figures). A ``spark.sql.codegen.factoryMode`` the user set wins, and ``spark`` itself
    is returned where it cannot be cloned (Spark Connect).
    """
    key, value = INTERPRETED
    try:
        if spark._jsparkSession.conf().contains(key):
            return spark
        clone = SparkSession(spark.sparkContext, spark._jsparkSession.cloneSession())
    except (AttributeError, Py4JError):
        logger.debug("cannot clone the session; candidates run with its codegen settings")
        return spark
    if SparkSession._instantiatedSession is clone:  # pyspark made the clone its default
        SparkSession._instantiatedSession = SparkSession._activeSession = spark
        jvm_class = SparkSession._get_j_spark_session_class(spark._jvm)
        jvm_class.setDefaultSession(spark._jsparkSession)
        jvm_class.setActiveSession(spark._jsparkSession)
    clone.conf.set(key, value)
    return clone
