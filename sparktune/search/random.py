"""Random search: hyperopt's ``rand.suggest``, seeded, over the same spaces as TPE."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hyperopt import rand

from sparktune.search.base import HyperoptSearch
from sparktune.search.space import SearchSpace


class RandomSearch(HyperoptSearch):
    """Independent random draws; the same seed gives the same candidates at any parallelism."""

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        larger_is_better: bool = False,
        points_to_evaluate: Sequence[Mapping[Any, Any]] = (),
    ) -> None:
        super().__init__(
            space,
            rand.suggest,
            seed=seed,
            larger_is_better=larger_is_better,
            points_to_evaluate=points_to_evaluate,
        )
