"""Checkpoints: every finished trial written to a plain JSON file, so a killed search resumes.

:class:`Checkpoint` is an engine callback. After each finished trial it rewrites the whole
file atomically (a temporary file in the same folder, ``fsync``, ``os.replace``, then an
``fsync`` of the folder), so a kill at any moment leaves either the previous or the new
checkpoint, never a torn one. The file is readable by people and tools::

    {"format": 1, "search": {"strategy": "grid", "metric": "rmse", ...},
     "trials": [{"number": 0, "state": "complete", "params": {"lr.regParam": 0.01},
                 "assignment": {"lr.regParam": 0}, "value": 1234.5,
                 "folds": [{"fold": 0, "metrics": {"rmse": ...}, ...}], "error": null}, ...]}

``params`` are the readable values (as in the results table); ``assignment`` is the hyperopt
point (option indexes, numbers) that :func:`load` turns back into the very same candidate.
Only complete, failed and (under a scheduler) pruned and paused trials are kept, the last
two with their metric at every rung and whether a paused one was promoted: on resume a
paused trial waits for promotion again, a promoted one runs its next rung first, and no
finished rung runs again; a cancelled or unfinished trial runs again. NaN metrics are
written as ``null``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sparktune.core.callbacks import Callback
from sparktune.core.errors import CheckpointError, ValidationError, describe_error
from sparktune.core.settings import SearchSettings
from sparktune.core.trial import FoldResult, Rung, Trial, TrialState
from sparktune.search.space import SearchSpace

logger = logging.getLogger(__name__)

#: Version of the file layout; a different one is refused rather than misread.
FORMAT = 1
#: States worth keeping: what a resumed search does not run again.
KEPT = (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED, TrialState.PAUSED)


class Checkpoint(Callback):
    """Keeps ``path`` up to date with every finished trial of one search.

    ``search`` describes the search (strategy, metric, space names, folds, seed); :func:`load`
    refuses a checkpoint written by a different one. ``trials`` are restored trials, kept in
    the file from the start. It is ``critical``: a failing write raises
    :class:`~sparktune.core.errors.CheckpointError` naming the path, and the search stops
    (the file keeps its last good version), rather than go on with nothing to resume from.
    """

    critical = True

    def __init__(
        self, path: str | os.PathLike[str], search: Mapping[str, Any], trials: Sequence[Trial] = ()
    ) -> None:
        self.path = Path(path)
        self.search = dict(search)
        self._records: dict[int, dict[str, Any]] = {t.number: record(t) for t in trials}
        self._lock = threading.Lock()

    def on_search_start(self, engine: Any) -> None:
        """Write the (possibly empty) checkpoint, so a kill before the first trial leaves one."""
        self.write()

    def on_trial_end(self, trial: Trial) -> None:
        """Add a trial that ended in a kept state and rewrite the file."""
        if trial.state not in KEPT:
            return
        with self._lock:
            self._records[trial.number] = record(trial)
        self.write()

    def on_trial_update(self, trial: Trial) -> None:
        """Keep a paused (or just promoted) trial's rungs, so a resume does not rerun them."""
        self.on_trial_end(trial)

    def write(self) -> None:
        """Rewrite the file atomically with every trial kept so far (CheckpointError if not)."""
        with self._lock:
            document = {
                "format": FORMAT,
                "search": self.search,
                "updated": time.time(),
                "trials": [self._records[n] for n in sorted(self._records)],
            }
            try:
                write_json(self.path, document)
            except (OSError, TypeError, ValueError) as exc:
                raise CheckpointError(
                    f"Writing the checkpoint {str(self.path)!r} failed ({describe_error(exc)}); "
                    "the search stopped so that it does not go on without one. The finished "
                    "trials are on this error's .trials and .results, and the checkpoint keeps "
                    "those of its last successful write: fix the path (free space, "
                    "permissions) and resume with resume=True.",
                    str(self.path),
                ) from exc


def prepare(
    path: str | os.PathLike[str] | None,
    resume: bool,
    space: SearchSpace,
    settings: SearchSettings,
) -> tuple[list[Trial], Checkpoint | None]:
    """The trials to resume and the callback that keeps the checkpoint, for one search.

    The checkpoint is identified by ``settings.identity()``: a checkpoint of a search with
    other settings is refused rather than resumed.

    Without ``path`` nothing is checkpointed (and ``resume`` is a mistake); without
    ``resume`` an existing checkpoint at ``path`` is replaced by this search's.
    """
    if not isinstance(resume, bool):
        raise ValidationError(f"resume must be True or False, got {resume!r}.")
    if path is None:
        if resume:
            raise ValidationError(
                "resume=True needs the checkpoint path of the search to resume: pass "
                "checkpoint='path/to/checkpoint.json' (the same path as the first run)."
            )
        return [], None
    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise ValidationError(f"checkpoint must be a file path, got {path!r}.")
    if Path(path).is_dir():
        raise ValidationError(
            f"checkpoint {str(path)!r} is a directory; give a file path such as "
            f"'{Path(path) / 'checkpoint.json'}'."
        )
    search = _json_value(settings.identity())
    restored = load(path, space, search, settings.primary) if resume else []
    return restored, Checkpoint(path, search, restored)


def record(trial: Trial) -> dict[str, Any]:
    """One trial as plain JSON values (NaN as None)."""
    return {
        "number": trial.number,
        "state": trial.state.value,
        "params": {name: _readable(value) for name, value in trial.params.items()},
        "assignment": _json_value(trial.candidate.assignment),
        "value": _number(trial.value),
        "folds": [
            {
                "fold": fold.fold,
                "metrics": {k: _number(v) for k, v in fold.metrics.items()},
                "train_metrics": {k: _number(v) for k, v in fold.train_metrics.items()},
                "fit_time": fold.fit_time,
            }
            for fold in trial.folds
        ],
        "error": trial.error,
        "started": trial.started,
        "finished": trial.finished,
        **(
            {
                "rungs": [
                    {"rung": r.index, "resource": r.resource, "value": _number(r.value)}
                    for r in trial.rungs
                ],
                "promoted": trial.promoted,
            }
            if trial.rungs
            else {}
        ),
        **({"reason": trial.reason} if trial.reason else {}),
    }


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` to ``path`` so that a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=1, allow_nan=False)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def read(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The checkpoint document at ``path``, or None if there is no file."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(
            f"The checkpoint {str(path)!r} cannot be read ({exc}); delete it to start afresh."
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValidationError(
            f"{str(path)!r} is not a sparktune checkpoint of format {FORMAT}; delete it or "
            "give another checkpoint path."
        )
    return document


def load(
    path: str | os.PathLike[str], space: SearchSpace, search: Mapping[str, Any], primary: str
) -> list[Trial]:
    """The finished trials of the checkpoint at ``path``, rebuilt as trials of ``space``.

    No file means nothing to resume (an empty list). A checkpoint of another search (its
    ``search`` description differs) or whose params no longer match the space is refused.
    """
    document = read(path)
    if document is None:
        logger.info("no checkpoint at %s yet; the search starts from the first trial", path)
        return []
    stored = document.get("search", {})
    differ = sorted(k for k in {*stored, *search} if stored.get(k) != _json_value(search.get(k)))
    if differ:
        details = "; ".join(
            f"{k}: checkpoint {stored.get(k)!r}, now {_json_value(search.get(k))!r}" for k in differ
        )
        raise ValidationError(
            f"The checkpoint {str(path)!r} was written by a different search ({details}). "
            "Resume with the same settings, or delete the checkpoint to start afresh."
        )
    trials = [_trial(entry, space, primary, path) for entry in document.get("trials", [])]
    logger.info("resuming from %s: %d finished trial(s) restored", path, len(trials))
    return trials


def _trial(entry: Mapping[str, Any], space: SearchSpace, primary: str, path: Any) -> Trial:
    assignment = entry.get("assignment")
    if not isinstance(assignment, dict):
        raise ValidationError(
            f"Trial {entry.get('number')} of the checkpoint {str(path)!r} has no assignment; "
            "it was not written by sparktune.tune. Delete it to start afresh."
        )
    candidate = space.candidate(assignment)
    readable = {name: _readable(value) for name, value in candidate.params.items()}
    if _comparable(readable) != _comparable(entry.get("params") or {}):
        raise ValidationError(
            f"Trial {entry['number']} of the checkpoint {str(path)!r} had params "
            f"{entry.get('params')}, but the search space now gives {readable}: the space "
            "changed. Resume with the same space, or delete the checkpoint to start afresh."
        )
    folds = tuple(
        FoldResult(
            fold=f["fold"],
            metrics={k: _float(v) for k, v in f["metrics"].items()},
            train_metrics={k: _float(v) for k, v in f["train_metrics"].items()},
            fit_time=f["fit_time"],
        )
        for f in entry["folds"]
    )
    return Trial(
        number=entry["number"],
        candidate=candidate,
        state=TrialState(entry["state"]),
        folds=folds,
        primary=primary,
        error=entry.get("error"),
        started=entry.get("started", 0.0),
        finished=entry.get("finished", 0.0),
        rungs=tuple(
            Rung(r["rung"], float(r["resource"]), _float(r["value"]))
            for r in entry.get("rungs", [])
        ),
        promoted=bool(entry.get("promoted", False)),
        reason=entry.get("reason"),
    )


def _json_value(value: Any) -> Any:
    """``value`` with numpy scalars and containers turned into JSON's own types."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _readable(value: Any) -> Any:
    """A JSON value for a param: numbers, strings, booleans as they are, anything else as text."""
    value = _json_value(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list) and all(isinstance(v, bool | int | float | str) for v in value):
        return value
    return str(value)


def _comparable(params: Mapping[str, Any]) -> dict[str, Any]:
    """Names and numeric values (objects are shown by uid, which may change between runs)."""
    return {
        k: v if isinstance(v, bool | int | float) else type(v).__name__ for k, v in params.items()
    }


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)
