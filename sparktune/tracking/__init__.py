"""MLflow tracking of searches (see :mod:`sparktune.tracking.tracker` for what is logged)."""

from sparktune.tracking.redaction import REDACTED
from sparktune.tracking.settings import Tracking, track
from sparktune.tracking.tracker import MlflowTracker

__all__ = ["REDACTED", "MlflowTracker", "Tracking", "track"]
