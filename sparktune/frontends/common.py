"""What every ``tune()`` front end checks the same way: callbacks, the trial limit, and the
settings objects (``Split``, ``Budget``, ``Checkpointing``) unpacked into flat keywords."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sparktune.core.callbacks import Callback, Strategy
from sparktune.core.errors import ValidationError
from sparktune.core.settings import DEFAULT_TRIALS, Budget, Checkpointing, Split
from sparktune.search import GridSearch


def checked_callbacks(callbacks: Sequence[Callback]) -> list[Callback]:
    """The user's callbacks, each checked to be a :class:`Callback`."""
    for hook in callbacks:
        if not isinstance(hook, Callback):
            raise ValidationError(
                f"callbacks must be sparktune.Callback instances, got {type(hook).__name__}."
            )
    return list(callbacks)


def trial_limit(search: Strategy, max_trials: int | None) -> int | None:
    """``max_trials`` (at most the grid's size), or all of a grid, or :data:`DEFAULT_TRIALS`."""
    if isinstance(search, GridSearch):
        return search.size if max_trials is None else min(max_trials, search.size)
    return DEFAULT_TRIALS if max_trials is None else max_trials


def unpacked(arguments: Mapping[str, Any], entry_point: str) -> dict[str, Any]:
    """An entry point's ``arguments`` with ``split=`` (:class:`Split`), ``budget=``
    (:class:`Budget`) and a :class:`Checkpointing` as ``checkpoint=`` turned into the flat
    keywords they stand for (``num_folds``, ``max_trials``, ``resume`` ...).

    A setting given both ways, or one the entry point does not take, is a ValidationError.
    """
    out = dict(arguments)
    for name, kind in (("split", Split), ("budget", Budget)):
        given = out.pop(name, None)
        if given is None:
            continue
        if not isinstance(given, kind):
            raise ValidationError(
                f"{name} must be a sparktune.{kind.__name__}, got {type(given).__name__}."
            )
        for key, value in given.keywords().items():
            if value is None:
                continue
            if key not in out:
                raise ValidationError(f"{entry_point} does not take {name}.{key} ({value!r}).")
            if out[key] is not None:
                raise ValidationError(f"Give {name}={kind.__name__}(...) or {key}=, not both.")
            out[key] = value
    checkpoint = out.get("checkpoint")
    if isinstance(checkpoint, Checkpointing):
        if out.get("resume"):
            raise ValidationError(
                "Give checkpoint=Checkpointing(path, resume=True) or resume=True, not both."
            )
        out["checkpoint"], out["resume"] = checkpoint.path, checkpoint.resume
    return out
