"""pyspark internals sparktune relies on, and what differs between pyspark 3.5 and 4.x.

Spark Connect runs ``pyspark.ml`` only from pyspark 4.0.
"""

from __future__ import annotations

from typing import Any

from pyspark.ml.util import MLWriter
from pyspark.sql.utils import is_remote


def is_connect() -> bool:
    """Whether this process talks to Spark through Spark Connect (``pyspark.ml`` follows it)."""
    return bool(is_remote())


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
    ``pyspark.ml.``, so the metadata's class is read as one of those.
    """
    from pyspark.ml.tuning import _ValidatorSharedReadWrite
    from pyspark.ml.util import DefaultParamsReader

    metadata = DefaultParamsReader.loadMetadata(path, session)
    as_python = {**metadata, "class": f"pyspark.ml.{metadata['class']}"}
    metadata, estimator, evaluator, epm = _ValidatorSharedReadWrite.load(path, session, as_python)
    instance = cls(estimator=estimator, estimatorParamMaps=epm, evaluator=evaluator)
    instance = instance._resetUid(metadata["uid"])
    DefaultParamsReader.getAndSetParams(instance, metadata, skipParams=["estimatorParamMaps"])
    return instance
