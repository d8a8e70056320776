"""Search strategies: what to evaluate next. The engine decides how (ask/tell)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sparktune.core.callbacks import Strategy
from sparktune.core.errors import ValidationError
from sparktune.core.settings import STRATEGIES
from sparktune.search.base import HyperoptSearch
from sparktune.search.grid import GridSearch
from sparktune.search.random import RandomSearch
from sparktune.search.space import SearchSpace
from sparktune.search.tpe import TPESearch

__all__ = [
    "STRATEGIES",
    "GridSearch",
    "HyperoptSearch",
    "RandomSearch",
    "TPESearch",
    "make_strategy",
]


def make_strategy(
    name: str,
    space: SearchSpace,
    *,
    seed: int = 0,
    larger_is_better: bool = False,
    points_to_evaluate: Sequence[Mapping[Any, Any]] = (),
) -> Strategy:
    """Build the strategy called ``name`` over ``space`` (points are checked against it)."""
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
