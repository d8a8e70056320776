"""Tree-structured Parzen Estimator search: hyperopt's ``tpe.suggest`` driven ask/tell.

Under successive halving TPE learns from every trial's largest budget, not only its first:
on a small budget some params do not show yet (a Spark GBT's first tree ignores
``stepSize``), so a model of the first rung alone learns only the others.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from hyperopt import STATUS_FAIL, STATUS_OK, Trials, tpe

from sparktune.compat.hyperopt import TPE_EI_CANDIDATES, TPE_GAMMA, TPE_PRIOR_WEIGHT
from sparktune.core.trial import Trial, TrialState
from sparktune.search.base import HyperoptSearch
from sparktune.search.space import SearchSpace

#: Random trials before TPE takes over: Optuna's default. hyperopt's 20 would leave TPE
#: only 4 of the 24-trial budgets that distributed fits usually allow.
N_STARTUP_JOBS = 10


class TPESearch(HyperoptSearch):
    """TPE with k trials in flight: running and failed trials count as loss +inf.

    The first ``n_startup_jobs`` trials are random; ``gamma``, ``n_ei_candidates`` and
    ``prior_weight`` are ``tpe.suggest``'s knobs, with hyperopt's defaults. Under a
    scheduler TPE ranks the trials by the largest budget each reached, then by its metric
    there, as Optuna's TPE ranks pruned trials: its "good" trials are those that went
    furthest and did best there.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        larger_is_better: bool = False,
        points_to_evaluate: Sequence[Mapping[Any, Any]] = (),
        n_startup_jobs: int = N_STARTUP_JOBS,
        gamma: float = TPE_GAMMA,
        n_ei_candidates: int = TPE_EI_CANDIDATES,
        prior_weight: float = TPE_PRIOR_WEIGHT,
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

    def standing(self, trial: Trial) -> tuple[float, float] | None:
        """Where a trial ranks under a scheduler: (minus the largest budget it reached, its
        loss there), or None (+inf) when it failed or has no metric."""
        if trial.state is TrialState.FAILED or not trial.rungs:
            return None
        last = trial.rungs[-1]
        return None if math.isnan(last.value) else (-last.resource, self.sign * last.value)

    def _history(self) -> Trials:
        """Without a scheduler, every trial's loss; with one, each trial's rank (TPE splits
        the trials into good and bad by the order of their losses only)."""
        if not any(trial.rungs for trial in self.latest.values()):
            return super()._history()
        standings = {tid: self.standing(trial) for tid, trial in self.latest.items()}
        order = sorted((s, tid) for tid, s in standings.items() if s is not None)
        rank = {tid: position for position, (_, tid) in enumerate(order)}
        history = Trials()
        history.insert_trial_docs(
            [
                {**doc, "result": _ranked(rank.get(doc["tid"]))}
                for doc in self.hyperopt_trials.trials
            ]
        )
        history.refresh()
        return history


def _ranked(rank: int | None) -> dict[str, Any]:
    """A document's result in the ranked history: its rank as the loss, or none (+inf)."""
    return {"status": STATUS_FAIL} if rank is None else {"status": STATUS_OK, "loss": float(rank)}
