"""MLflow internals sparktune relies on (imported only where MLflow is installed)."""

from __future__ import annotations

from typing import Any


def record_logged_model(client: Any, run_id: str, model: Any) -> None:
    """List ``model`` (an ``mlflow.models.Model`` uploaded as artifacts) on run ``run_id``.

    Private, and unavoidable for the run to list its model (the ``mlflow.log-model.history``
    tag the MLflow UI shows): no public API records a model logged as artifacts.
    """
    client._record_logged_model(run_id, model)
