"""A finished search's MLflow store, as the command reads it: found without creating one,
and the command that opens its runs in the MLflow UI.

MLflow creates a local store (``mlflow.db``, ~1 MB, or a ``mlruns`` folder) wherever a
client first touches a URI that names none, so ``sparktune results`` run in the wrong
folder would leave one behind and report a missing run. :func:`local_store` says where a
local URI points; the command refuses it when nothing is there.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sparktune.core.errors import SparktuneError


class StoreNotFound(SparktuneError):
    """No MLflow store, or no such run in it, where ``sparktune results`` looked."""


def tracking_uri(uri: str | None) -> str:
    """``uri``, else MLflow's default (``MLFLOW_TRACKING_URI``, or ``./mlflow.db``)."""
    if uri:
        return uri
    import mlflow

    return str(mlflow.get_tracking_uri())


def local_store(uri: str) -> Path | None:
    """The file (sqlite) or folder (file store) a local tracking URI names; None for a
    server or any other remote store."""
    parsed = urlparse(uri)
    if parsed.scheme.startswith("sqlite"):
        path = unquote(parsed.path)
        if path.startswith("//"):  # sqlite:////abs/path: an absolute path
            path = path[1:]
        elif path.startswith("/"):  # sqlite:///rel/path: relative to the working directory
            path = path[1:]
        return Path(path).resolve() if path and path != ":memory:" else None
    if parsed.scheme == "file":
        return Path(unquote(parsed.path)).resolve()
    if parsed.scheme == "" and uri and not uri.startswith("databricks"):
        return Path(uri).resolve()
    return None


def open_run(run_id: str, uri: str | None) -> tuple[Any, str]:
    """An MlflowClient on the store that holds ``run_id``, and the store's URI.

    Raises StoreNotFound, saying where it looked, when a local store does not exist (none
    is created) or has no such run.
    """
    resolved = tracking_uri(uri)
    path = local_store(resolved)
    if path is not None and not path.exists():
        raise StoreNotFound(
            f"no MLflow tracking store at {path} (tracking URI {resolved}); run the command "
            "in the folder the search ran in, or give --tracking-uri (e.g. the spec's "
            "tracking.uri)"
        )
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=resolved)
    try:
        client.get_run(run_id)
    except MlflowException:
        raise StoreNotFound(
            f"no run {run_id!r} in the MLflow tracking store {resolved}; `sparktune run` "
            "prints the run id of its search"
        ) from None
    return client, resolved


def ui_command(uri: str, run_id: str | None = None, experiment_id: str | None = None) -> str:
    """How to see a search's runs: ``mlflow ui --backend-store-uri ...`` for a local store
    (then the run's address), or the server's own address for a tracking server."""
    page = f"#/experiments/{experiment_id}" if experiment_id is not None else ""
    page += f"/runs/{run_id}" if experiment_id is not None and run_id else ""
    if urlparse(uri).scheme in ("http", "https"):
        return f"open {uri.rstrip('/')}/{page}"
    path = local_store(uri)
    if path is None:
        return f"the runs are in the MLflow tracking store {uri}"
    store = f"sqlite:///{path}" if uri.startswith("sqlite") else uri
    return (
        f"mlflow ui --backend-store-uri {shlex.quote(store)}   "
        f"# then open http://127.0.0.1:5000/{page}"
    )
