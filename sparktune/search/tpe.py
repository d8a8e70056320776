"""Tree-structured Parzen Estimator search: hyperopt's ``tpe.suggest`` driven ask/tell."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from hyperopt import tpe

from sparktune.search.base import HyperoptSearch
from sparktune.search.space import SearchSpace

#: Random trials before TPE takes over: Optuna's default. hyperopt's 20 would leave TPE
#: only 4 of the 24-trial budgets that distributed fits usually allow.
N_STARTUP_JOBS = 10


class TPESearch(HyperoptSearch):
    """TPE with k trials in flight: running and failed trials count as loss +inf.

    The first ``n_startup_jobs`` trials are random; ``gamma``, ``n_ei_candidates`` and
    ``prior_weight`` are ``tpe.suggest``'s knobs, with hyperopt's defaults.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        larger_is_better: bool = False,
        points_to_evaluate: Sequence[Mapping[Any, Any]] = (),
        n_startup_jobs: int = N_STARTUP_JOBS,
        gamma: float = tpe._default_gamma,
        n_ei_candidates: int = tpe._default_n_EI_candidates,
        prior_weight: float = tpe._default_prior_weight,
    ) -> None:
        algo = functools.partial(
            tpe.suggest,
            n_startup_jobs=n_startup_jobs,
            gamma=gamma,
            n_EI_candidates=n_ei_candidates,
            prior_weight=prior_weight,
            verbose=False,
        )
        super().__init__(
            space,
            algo,
            seed=seed,
            larger_is_better=larger_is_better,
            points_to_evaluate=points_to_evaluate,
        )
