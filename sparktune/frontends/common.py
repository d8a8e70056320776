"""What every ``tune()`` front end checks the same way: the callbacks and the trial limit."""

from __future__ import annotations

from collections.abc import Sequence

from sparktune.core.callbacks import Callback, Strategy
from sparktune.core.errors import ValidationError
from sparktune.core.settings import DEFAULT_TRIALS
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
