"""MLflow tracking of searches (see :mod:`sparktune.tracking.tracker` for what is logged)."""

from sparktune.tracking.tracker import REDACTED, MlflowTracker, Tracking, track

__all__ = ["REDACTED", "MlflowTracker", "Tracking", "track"]
