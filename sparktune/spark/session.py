"""Spark sessions: embedded local Spark (a Java check, sensible local defaults) and the
interpreted clone that per-candidate fits run in."""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from sparktune.compat.pyspark import clone_session, default_session
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

#: Spark's own log4j2 defaults (console on stderr), at WARN, with the start-up and
#: internal messages a sparktune user cannot act on turned down to ERROR:
#: NativeCodeLoader (no native Hadoop library; the Java code is used, as it should be
#: for local work) and SparkStringUtils (a plan's debug string was truncated).
#: Real problems (failed tasks, large tasks, memory, lost executors) stay at WARN.
LOG4J2_PROPERTIES = """\
# Written by sparktune for its embedded Spark; a log4j2 config of your own wins.
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
logger.jetty2.name = org.sparkproject.jetty.util.component.AbstractLifeCycle
logger.jetty2.level = error
logger.metastore.name = org.apache.hadoop.hive.metastore.RetryingHMSHandler
logger.metastore.level = fatal
logger.metastore2.name = org.apache.hadoop.hive.metastore.ObjectStore
logger.metastore2.level = error
logger.parquet.name = org.apache.parquet.CorruptStatistics
logger.parquet.level = error
logger.parquet2.name = parquet.CorruptStatistics
logger.parquet2.level = error
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
logger.plantostring.name = org.apache.spark.util.SparkStringUtils
logger.plantostring.level = error
"""

#: Where a log4j2 config of the user's own may come from; any of them makes sparktune's
#: LOG4J2_PROPERTIES step aside.
_JAVA_OPTION_ENVS = (
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "_JAVA_OPTIONS",
    "SPARK_SUBMIT_OPTS",
    "PYSPARK_SUBMIT_ARGS",
)
_LOG4J2_FILES = ("log4j2.properties", "log4j2.xml", "log4j2.yaml", "log4j2.yml", "log4j2.json")
_DRIVER_OPTIONS = "spark.driver.extraJavaOptions"

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
    remote: str | None = None,
) -> SparkSession:
    """Return the running SparkSession, or start one (``local[*]`` with LOCAL_DEFAULTS by default).

    Under spark-submit the session is spark-submit's: its ``--master`` and ``--conf`` win,
    and ``master``/``conf`` here are ignored. Python workers use this interpreter
    (``PYSPARK_PYTHON``) so that executors see the same packages as the driver, which
    ``xgboost.spark`` and pandas UDFs rely on.

    A session this starts on a local master is quiet by default (see :func:`quiet_defaults`):
    ``SPARK_LOCAL_IP=127.0.0.1`` unless set, and Spark's log at WARN with a few known,
    harmless start-up messages at ERROR, unless you configure Spark's logging yourself
    (a log4j2 file in ``SPARK_CONF_DIR``, ``-Dlog4j2.configurationFile`` in the driver's
    Java options, or ``spark.log.level``, which Spark applies on top of either).

    ``remote`` (``sc://host:port``) connects to a Spark Connect server instead; ``conf``
    then sets the session's runtime conf.
    """
    if remote is not None:
        return connect_session(remote, conf)
    running = SparkSession.getActiveSession() or default_session()
    if running is not None:
        return running  # no builder: it would re-apply options and warn that they don't take
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
    effective = master or settings.get("spark.master") or os.environ.get("SPARK_MASTER")
    if effective is None or effective.startswith("local"):
        settings.update(quiet_defaults(settings))
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    logger.info("Spark %s session on %s", session.version, session.sparkContext.master)
    return session


def connect_session(remote: str, conf: Mapping[str, str] | None = None) -> SparkSession:
    """A Spark Connect session on ``remote`` (``sc://host:port``), with runtime ``conf``."""
    if not isinstance(remote, str) or not remote.startswith("sc://"):
        raise SetupError(f"A Spark Connect address looks like 'sc://host:15002', got {remote!r}.")
    builder = SparkSession.builder.remote(remote)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    logger.info("Spark %s Connect session on %s", session.version, remote)
    return session


def quiet_defaults(settings: Mapping[str, str]) -> dict[str, str]:
    """Settings (and environment) that keep a local Spark's start-up quiet; the user's win.

    * ``SPARK_LOCAL_IP=127.0.0.1`` when unset: a local master needs no other address,
      and without it Spark warns on hosts whose name resolves to a loopback address.
    * ``-Dlog4j2.configurationFile`` (LOG4J2_PROPERTIES) added to the driver's Java
      options, instead of Spark's default profile (whose start-up banner and INFO-level
      messages bury the output), unless :func:`user_log4j_config` finds a config of the
      user's own. It takes effect only when this call starts the JVM.
    """
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if user_log4j_config(settings):
        return {}
    option = f"-Dlog4j2.configurationFile={log4j2_config_file().as_uri()}"
    current = settings.get(_DRIVER_OPTIONS, "").strip()
    return {_DRIVER_OPTIONS: f"{current} {option}".strip()}


def user_log4j_config(settings: Mapping[str, str]) -> bool:
    """Whether the user configures Spark's logging (or driver Java options) elsewhere.

    True when a Java-options variable or ``spark.driver.extraJavaOptions`` names a log4j
    setting, when Spark's conf directory (``SPARK_CONF_DIR``, else ``$SPARK_HOME/conf``)
    holds a log4j2 file, or when its ``spark-defaults.conf`` sets the driver's Java
    options (sparktune's ``--conf`` would replace them).
    """
    if "log4j" in settings.get(_DRIVER_OPTIONS, ""):
        return True
    if any("log4j" in os.environ.get(name, "") for name in _JAVA_OPTION_ENVS):
        return True
    conf_dir = _spark_conf_dir()
    if any((conf_dir / name).is_file() for name in _LOG4J2_FILES):
        return True
    defaults = conf_dir / "spark-defaults.conf"
    try:
        return defaults.is_file() and _DRIVER_OPTIONS in defaults.read_text(errors="replace")
    except OSError:
        return False


def log4j2_config_file() -> Path:
    """LOG4J2_PROPERTIES in a private temporary file, removed when this process exits.

    The driver JVM reads it once, at start-up, and ends with this process.
    """
    global _log4j2_file
    if _log4j2_file is None or not _log4j2_file.is_file():
        fd, name = tempfile.mkstemp(prefix="sparktune-log4j2-", suffix=".properties")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(LOG4J2_PROPERTIES)
        _log4j2_file = Path(name)
        atexit.register(_log4j2_file.unlink, missing_ok=True)
    return _log4j2_file


_log4j2_file: Path | None = None


def _spark_conf_dir() -> Path:
    """The directory spark-submit takes ``spark-defaults.conf`` and log4j2 files from."""
    if os.environ.get("SPARK_CONF_DIR"):
        return Path(os.environ["SPARK_CONF_DIR"])
    import pyspark

    home = os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)
    return Path(home) / "conf"


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
    clone = clone_session(spark, {key: value})
    if clone is None:
        logger.debug("cannot clone the session; candidates run with its codegen settings")
        return spark
    return clone
