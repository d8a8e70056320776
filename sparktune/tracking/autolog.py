"""Pausing MLflow autologging while sparktune tracks a search, so no fit is logged twice.

``mlflow.pyspark.ml.autolog`` would log the validator and every candidate fit as runs of
their own next to sparktune's parent and child runs (and it is not thread-safe: concurrent
fits give empty runs). Pauses nest: a tracked drop-in ``fit`` pauses around the search, and
the tracker inside it pauses again; autologging comes back when the outermost pause ends.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_depth = 0
_pause: contextlib.ExitStack | None = None


@contextlib.contextmanager
def autolog_paused() -> Iterator[None]:
    """Keep MLflow autologging (``mlflow.pyspark.ml`` included) off inside the block."""
    _enter()
    try:
        yield
    finally:
        _exit()


def _enter() -> None:
    global _depth, _pause
    with _LOCK:
        _depth += 1
        if _depth > 1 or "mlflow.utils.autologging_utils" not in sys.modules:
            return  # paused already, or mlflow was never imported so autologging cannot be on
        # No documented API reads or pauses an integration's autologging without resetting the
        # user's settings (autolog(disable=True) replaces them); disable_autologging() is
        # MLflow's own context manager for this, used around its internal fits.
        from mlflow.utils.autologging_utils import autologging_is_disabled, disable_autologging

        if not autologging_is_disabled("pyspark.ml"):
            logger.info("mlflow.pyspark.ml.autolog is paused while sparktune tracks the search")
        _pause = contextlib.ExitStack()
        _pause.enter_context(disable_autologging())


def _exit() -> None:
    global _depth, _pause
    with _LOCK:
        _depth -= 1
        if _depth == 0 and _pause is not None:
            _pause.close()
            _pause = None
