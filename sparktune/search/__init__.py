"""Search strategies: what to evaluate next. The engine decides how (ask/tell)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sparktune.core.callbacks import Strategy
from sparktune.core.errors import ValidationError
from sparktune.core.settings import SAMPLER_PREFIX, STRATEGIES
from sparktune.search.base import HyperoptSearch
from sparktune.search.grid import GridSearch
from sparktune.search.optuna import SAMPLERS, OptunaSearch, sampler
from sparktune.search.random import RandomSearch
from sparktune.search.space import SearchSpace
from sparktune.search.tpe import TPESearch

if TYPE_CHECKING:
    import optuna
    from optuna.samplers import BaseSampler

__all__ = [
    "STRATEGIES",
    "GridSearch",
    "HyperoptSearch",
    "OptunaSearch",
    "RandomSearch",
    "TPESearch",
    "is_study",
    "make_strategy",
    "strategy_name",
]


def strategy_name(strategy: str | BaseSampler | optuna.Study) -> str:
    """The name settings and checkpoints record: ``strategy`` itself, for an Optuna sampler
    instance ``"optuna:<its class>"``, for an Optuna study ``"optuna:<its sampler's
    class>@<study name>"``.
    """
    if isinstance(strategy, str):
        return strategy
    from optuna import Study
    from optuna.samplers import BaseSampler

    if isinstance(strategy, BaseSampler):
        return f"{SAMPLER_PREFIX}{type(strategy).__name__}"
    if isinstance(strategy, Study):
        return f"{SAMPLER_PREFIX}{type(strategy.sampler).__name__}@{strategy.study_name}"
    raise ValidationError(
        f"strategy must be one of {list(STRATEGIES)}, an optuna.samplers.BaseSampler or an "
        f"optuna.Study, got {type(strategy).__name__}."
    )


def is_study(strategy: Any) -> bool:
    """Whether ``strategy`` is an Optuna study (Optuna is imported only for a non-name)."""
    if isinstance(strategy, str):
        return False
    from optuna import Study

    return isinstance(strategy, Study)


def make_strategy(
    name: str | BaseSampler | optuna.Study,
    space: SearchSpace,
    *,
    seed: int = 0,
    larger_is_better: bool = False,
    points_to_evaluate: Sequence[Mapping[Any, Any]] = (),
) -> Strategy:
    """Build the strategy called ``name`` over ``space`` (points are checked against it).

    ``name`` may also be an Optuna sampler instance, used as given (with its own seed), or
    an Optuna study, whose sampler, storage and direction the search uses.
    """
    if not isinstance(name, str):
        strategy_name(name)  # refuses anything but a sampler or a study
        study = name if is_study(name) else None
        return OptunaSearch(
            space,
            name.sampler if study is not None else name,
            seed=seed,
            larger_is_better=larger_is_better,
            points_to_evaluate=points_to_evaluate,
            study=study,
        )
    if name in SAMPLERS:
        return OptunaSearch(
            space,
            sampler(name, seed),
            seed=seed,
            larger_is_better=larger_is_better,
            points_to_evaluate=points_to_evaluate,
        )
    if name == "grid":
        return GridSearch(space, points_to_evaluate=points_to_evaluate)
    if name == "random":
        return RandomSearch(
            space,
            seed=seed,
            larger_is_better=larger_is_better,
            points_to_evaluate=points_to_evaluate,
        )
    if name == "tpe":
        return TPESearch(
            space,
            seed=seed,
            larger_is_better=larger_is_better,
            points_to_evaluate=points_to_evaluate,
        )
    raise ValidationError(f"strategy must be one of {list(STRATEGIES)}, got {name!r}.")
