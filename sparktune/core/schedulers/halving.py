"""Successive halving over a budget: :class:`ASHA` and :class:`Hyperband`, peers.

:class:`ASHA` (Li et al., MLSys 2020) starts every new trial on the smallest budget (rung 0)
and promotes a trial that finished rung k to rung k + 1 as soon as it ranks in the top
``1 / reduction_factor`` of the trials that finished rung k, so no slot waits for a rung
to fill; trials never promoted end ``pruned``. :class:`Hyperband` runs brackets of such
halving that start on larger budgets, new trials assigned round-robin. The budget is a
``resource``: an iteration param of the final estimator (``maxIter``, ``numTrees``,
``n_estimators``) or :data:`ROWS`, a fraction of each fold's training part. Both run as a
:class:`~sparktune.core.schedulers.ladder.Ladder`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from sparktune.core.errors import ValidationError
from sparktune.core.schedulers.base import ROWS, Scheduler, SchedulerRun, number
from sparktune.core.schedulers.ladder import Ladder


@dataclass(frozen=True)
class _Budgets(Scheduler):
    """The settings both halving schedulers share: a resource and its budgets."""

    resource: str | None = None
    min_resource: float | None = None
    max_resource: float | None = None
    reduction_factor: float = 3

    def __post_init__(self) -> None:
        if self.resource is not None and (not isinstance(self.resource, str) or not self.resource):
            raise ValidationError(
                f"resource must be a param name of the final estimator or 'rows', "
                f"got {self.resource!r}."
            )
        eta = self.reduction_factor
        if not number(eta) or eta < 2:
            raise ValidationError(
                f"reduction_factor must be a number >= 2 (3 keeps a third per rung), got {eta!r}."
            )
        for name in ("min_resource", "max_resource"):
            value = getattr(self, name)
            if value is not None and (not number(value) or value <= 0):
                raise ValidationError(f"{name} must be a positive number, got {value!r}.")
        low, high = self.min_resource, self.max_resource
        if low is not None and high is not None and low >= high:
            raise ValidationError(
                f"min_resource ({low}) must be below max_resource ({high}): successive "
                "halving needs at least two budgets."
            )
        if self.resource == ROWS:
            for name in ("min_resource", "max_resource"):
                value = getattr(self, name)
                if value is not None and value > 1:
                    raise ValidationError(
                        f"With resource='rows', {name} is a fraction of each fold's training "
                        f"rows in (0, 1]; got {value}."
                    )

    @property
    def name(self) -> str:
        """The scheduler's name in results, MLflow and job specs."""
        raise NotImplementedError

    @property
    def integral(self) -> bool:
        """Whether budgets are whole numbers (an iteration param, not a rows fraction)."""
        return self.resource != ROWS

    def completed(self, resource: str, max_resource: float) -> Any:
        """This scheduler with ``resource`` and the budgets filled in (defaults resolved)."""
        high = self.max_resource if self.max_resource is not None else max_resource
        low = self.min_resource
        if low is None:
            low = high / self.reduction_factor**2
            low = max(1, round(low)) if resource != ROWS else low
        return type(self)(resource, low, high, self.reduction_factor)

    def budgets(self, low: float) -> tuple[float, ...]:
        """The rung budgets from ``low``: ``low * eta**k`` below ``max_resource``, then it."""
        high = self._need("max_resource")
        eta = self.reduction_factor
        count = math.floor(math.log(high / low, eta) + 1e-9)
        steps = [low * eta**k for k in range(count)] + [high]
        if self.integral:
            steps = [float(max(1, round(step))) for step in steps]
        return tuple(dict.fromkeys(steps))

    def brackets(self) -> list[tuple[float, ...]]:
        """The budgets of each bracket's rungs."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The settings, for MLflow params and the checkpoint identity."""
        return {"scheduler": self.name, **asdict(self)}

    def start(self, larger_is_better: bool, num_folds: int) -> SchedulerRun:
        """A ladder of this scheduler's brackets."""
        return Ladder(self.brackets(), larger_is_better, self.reduction_factor)

    def _need(self, name: str) -> float:
        value = getattr(self, name)
        if value is None:
            raise ValidationError(f"The scheduler's {name} is not set yet (call completed()).")
        return float(value)


@dataclass(frozen=True)
class ASHA(_Budgets):
    """Asynchronous successive halving over ``resource`` from ``min_resource`` to ``max_resource``.

    ``resource`` is a param name of the final estimator (``"maxIter"`` or
    ``"GBTRegressor.maxIter"``) or ``"rows"``; None picks the estimator's usual one
    (``maxIter`` for GBTs and linear models, ``numTrees`` for random forests,
    ``n_estimators`` for XGBoost, else rows). Budgets grow by ``reduction_factor`` per rung;
    the top rung is ``max_resource`` (by default the estimator's own value of the param, or
    all rows), and ``min_resource`` defaults to ``max_resource / reduction_factor**2``.
    """

    @property
    def name(self) -> str:
        """The scheduler's name in results, MLflow and job specs."""
        return "asha"

    def brackets(self) -> list[tuple[float, ...]]:
        """One bracket, from ``min_resource``."""
        return [self.budgets(self._need("min_resource"))]


@dataclass(frozen=True)
class Hyperband(_Budgets):
    """Hyperband: brackets of asynchronous halving, bracket s starting at ``min_resource * eta**s``.

    New trials go to the brackets in turn, so aggressive brackets (many cheap trials) and
    conservative ones (fewer trials, larger first budget, down to the full budget) share
    the search, hedging against a smallest budget too small to rank trials. Settings as
    :class:`ASHA`'s.
    """

    @property
    def name(self) -> str:
        """The scheduler's name in results, MLflow and job specs."""
        return "hyperband"

    def brackets(self) -> list[tuple[float, ...]]:
        """One bracket per rung of ASHA's, each starting one rung higher."""
        first = self.budgets(self._need("min_resource"))
        return [self.budgets(low) if low != first[-1] else (low,) for low in first]
