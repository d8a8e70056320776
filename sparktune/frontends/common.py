"""What every ``tune()`` front end does the same way: callbacks, the trial limit, the
strategy and checkpoint set up from the search's settings, and the settings objects
(``Split``, ``Budget``, ``Checkpointing``) unpacked into flat keywords."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sparktune.core.callbacks import Callback, Strategy
from sparktune.core.errors import ValidationError
from sparktune.core.settings import (
    DEFAULT_TRIALS,
    Budget,
    Checkpointing,
    SearchSettings,
    Split,
)
from sparktune.core.trial import Trial
from sparktune.search import GridSearch, make_strategy
from sparktune.search.space import SearchSpace
from sparktune.tracking import checkpoint as checkpointing

if TYPE_CHECKING:
    import optuna
    from optuna.samplers import BaseSampler


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


@dataclass(frozen=True)
class Prepared:
    """A search ready for ``run_search``: its strategy, its settings with the trial limit,
    the trials its checkpoint restores and its callbacks (the user's, then the checkpoint
    writer)."""

    search: Strategy
    settings: SearchSettings
    resumed: list[Trial]
    callbacks: list[Callback]


def prepare(
    settings: SearchSettings,
    space: SearchSpace,
    strategy: str | BaseSampler | optuna.Study,
    *,
    points_to_evaluate: Sequence[Mapping[str, Any]] | None,
    checkpoint: str | os.PathLike[str] | None,
    resume: bool,
    callbacks: Sequence[Callback],
    search: Strategy | None = None,
) -> Prepared:
    """Build the strategy (unless ``search`` is given), bound the trials by it, and open
    the checkpoint (refusing one of another search), before any Spark job runs."""
    hooks = checked_callbacks(callbacks)
    if search is None:
        search = make_strategy(
            strategy,
            space,
            seed=settings.seed,  # type: ignore[arg-type]  # as the caller gave it
            larger_is_better=settings.larger_is_better,
            points_to_evaluate=points_to_evaluate or (),
        )
    settings = replace(settings, max_trials=trial_limit(search, settings.max_trials))
    restored, saver = checkpointing.prepare(checkpoint, resume, space, settings)
    return Prepared(search, settings, restored, hooks + ([saver] if saver else []))


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
