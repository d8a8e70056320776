"""What of the Spark conf reaches MLflow, and with which secrets removed.

A key (conf entry or environment variable) whose name looks secret has its value replaced
by :data:`REDACTED` wherever that value appears; ``name=value`` pairs with a secret-looking
name (say, in JVM options) and passwords in URLs are hidden too.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: A key (Spark conf or environment variable name) that holds a secret.
SECRET_NAME = re.compile(r"password|secret|token|key|credential", re.IGNORECASE)
REDACTED = "*********(redacted)"
#: ``name=value`` and ``"name": "value"`` where the name looks secret (e.g. in JVM options).
_ASSIGNMENT = re.compile(
    r"(?P<name>[\w.\-]*(?:password|secret|token|key|credential)[\w.\-]*)"
    r"(?P<sep>\"?\s*[=:]\s*\"?|=)(?P<value>[^\s,;&\"']+)",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][\w+.\-]*://)[^/\s:@]+:[^/\s@]+@")
#: Spark conf entries logged on the parent run (prefixes), minus the noisy ones below.
RELEVANT_CONF = (
    "spark.app.name",
    "spark.submit.deployMode",
    "spark.driver.",
    "spark.executor.",
    "spark.task.",
    "spark.cores.max",
    "spark.default.parallelism",
    "spark.dynamicAllocation.",
    "spark.memory.",
    "spark.sql.shuffle.partitions",
    "spark.sql.adaptive.",
    "spark.hadoop.",
    "spark.kubernetes.",
    "spark.yarn.",
    "spark.jars",
    "spark.python.",
)
_NOISY_CONF = re.compile(r"extraJavaOptions|\.host$|\.port$|\.id$|startTime|bindAddress")


class Redactor:
    """Removes secrets from text bound for MLflow.

    Values of secret-looking Spark conf keys and environment variables are replaced wherever
    they appear, as are ``name=value`` pairs whose name looks secret and passwords in URLs.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        words = {"true", "false", "none", "null", "yes", "no"}
        kept = {s for s in secrets if isinstance(s, str) and len(s) >= 6 and s.lower() not in words}
        self._secrets = sorted(kept, key=len, reverse=True)

    @classmethod
    def for_session(cls, conf: Mapping[str, str]) -> Redactor:
        """Know the values of secret-named conf keys and environment variables."""
        values = [v for k, v in conf.items() if SECRET_NAME.search(k)]
        values += [v for k, v in os.environ.items() if SECRET_NAME.search(k)]
        return cls(values)

    def text(self, value: Any) -> str:
        """``str(value)`` with every known secret, secret assignment and URL password hidden."""
        text = str(value)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _ASSIGNMENT.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
        return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)

    def conf(self, conf: Mapping[str, str]) -> dict[str, str]:
        """Conf entries with the value of every secret-looking key replaced."""
        return {k: REDACTED if SECRET_NAME.search(k) else self.text(v) for k, v in conf.items()}


def spark_conf(spark: Any) -> dict[str, str]:
    """The session's Spark conf: the context's settings plus runtime (SQL) settings.

    A Spark Connect session has no context on the client: its runtime conf, as the server
    reports it, is all there is.
    """
    conf: dict[str, str] = {}
    with contextlib.suppress(AttributeError):  # Spark Connect: no SparkContext
        conf.update(spark.sparkContext.getConf().getAll())
    with contextlib.suppress(Exception):  # an older pyspark
        conf.update(spark.conf.getAll)
    return conf


def relevant_conf(conf: Mapping[str, str]) -> dict[str, str]:
    """The entries that describe resources and storage (see :data:`RELEVANT_CONF`)."""
    return {
        k: v
        for k, v in sorted(conf.items())
        if k.startswith(RELEVANT_CONF) and not _NOISY_CONF.search(k)
    }
