"""Fixtures for the Spark Connect tests: one real Connect server on 127.0.0.1 and one
client session for the whole pytest process, plus small diamonds data on it.

``SparkSession.builder.remote(...)`` switches the *whole Python process* to Connect mode
(it sets ``SPARK_CONNECT_MODE_ENABLED``, which ``pyspark.sql.utils.is_remote()`` and so
every ``pyspark.ml`` class reads), so these tests cannot share a process with the classic
tests. ``tests/conftest.py`` leaves this folder out of a run that was not pointed at it,
and the guard below refuses a run that mixes the two; ``make test`` runs
``pytest tests/connect`` as a second process.

Here ``spark`` is the Connect session: it overrides the classic fixture of the same name,
so a Connect test can never start a classic JVM in this process by accident, and the
parent's ``diamonds`` fixture, built on ``spark``, is a Connect DataFrame too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.utils import is_remote

from connect.connect_server import MAX_STORAGE_SIZE, ConnectServer, start_connect_server
from sparktune.jobs.datasets import load_diamonds

CONNECT_DIR = Path(__file__).parent

os.environ["PYSPARK_PYTHON"] = sys.executable


def pytest_collection_modifyitems(config, items):
    """Mark every test in this folder ``connect`` and refuse to run beside classic tests."""
    classic = [item.nodeid for item in items if CONNECT_DIR not in Path(item.path).parents]
    if classic:
        raise pytest.UsageError(
            "Spark Connect tests must run in their own pytest process (a Connect session "
            "switches pyspark.ml to Connect process-wide): run `pytest tests/connect` apart "
            f"from the classic tests; this run also collected {classic[:3]}"
        )
    for item in items:
        item.add_marker(pytest.mark.connect)


@pytest.fixture(scope="session")
def connect_server(tmp_path_factory) -> ConnectServer:
    """The session's Connect server (``local[2]``, 127.0.0.1, free port), stopped at the end."""
    server = start_connect_server(tmp_path_factory.mktemp("connect-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spark(connect_server):
    """A Spark Connect client session on the test server (this folder's ``spark``)."""
    session = SparkSession.builder.remote(connect_server.url).getOrCreate()
    assert is_remote(), "pyspark.ml would take the classic path"
    yield session
    session.stop()


@pytest.fixture(scope="session")
def small_diamonds(spark):
    """400 rows of the bundled diamonds data on the Connect session, cached on the server.

    Small on purpose: every fit on 2 cores goes through the gRPC server, so a few hundred
    rows keep a cross-validation well under a minute while still fitting real models.
    """
    df = load_diamonds(spark).sample(fraction=0.02, seed=7).limit(400).cache()
    assert df.count() > 300
    yield df
    df.unpersist()


@pytest.fixture
def ml_cache_limit(spark):
    """Bound this session's server-side ML model cache to ``n`` bytes for one test.

    ``MAX_STORAGE_SIZE`` is a session conf the client may set: a fit that would take the
    cache past it fails with ``CONNECT_ML.ML_CACHE_SIZE_OVERFLOW_EXCEPTION``, so a test of
    model release sets it low (about 6 KB per 3-feature LinearRegressionModel: 20000 bytes
    let 3 such models live). Models cached by earlier tests on this session count too.
    The session's default (10g) is restored after the test.
    """

    def set_limit(n: int) -> None:
        spark.conf.set(MAX_STORAGE_SIZE, str(n))

    yield set_limit
    spark.conf.unset(MAX_STORAGE_SIZE)
