"""Successive halving: how much budget each trial gets (the strategy chooses *what* to try).

:class:`ASHA` (Li et al., MLSys 2020) starts every new trial on the smallest budget (rung 0)
and promotes a trial that finished rung k to rung k + 1 as soon as it ranks in the top
``1 / reduction_factor`` of the trials that finished rung k, so no slot waits for a rung
to fill; trials never promoted end ``pruned``. :class:`Hyperband` runs brackets of ASHA that
start on larger budgets, new trials assigned round-robin. The budget is a ``resource``: an
iteration param of the final estimator (``maxIter``, ``numTrees``, ``n_estimators``) or
:data:`ROWS`, a fraction of each fold's training part.

Optuna's ``SuccessiveHalvingPruner`` decides at once whether a trial goes on (it cannot
pause one), and so does the paper's rule when the ranking shifts: in a rising sequence they
promote nearly every trial. The rule here pauses trials and keeps synchronous halving's
bound: of n trials that finished a rung, at most ``n // reduction_factor`` are ever promoted
from it, each in the top ``n // reduction_factor`` when promoted. It is Spark-free;
:class:`Ladder` is one search's state.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sparktune.core.errors import ValidationError

#: The resource that subsamples each fold's training part instead of setting a param.
ROWS = "rows"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ASHA:
    """Asynchronous successive halving over ``resource`` from ``min_resource`` to ``max_resource``.

    ``resource`` is a param name of the final estimator (``"maxIter"`` or
    ``"GBTRegressor.maxIter"``) or ``"rows"``; None picks the estimator's usual one
    (``maxIter`` for GBTs and linear models, ``numTrees`` for random forests,
    ``n_estimators`` for XGBoost, else rows). Budgets grow by ``reduction_factor`` per rung;
    the top rung is ``max_resource`` (by default the estimator's own value of the param, or
    all rows), and ``min_resource`` defaults to ``max_resource / reduction_factor**2``.
    """

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
        if not _number(eta) or eta < 2:
            raise ValidationError(
                f"reduction_factor must be a number >= 2 (3 keeps a third per rung), got {eta!r}."
            )
        for name in ("min_resource", "max_resource"):
            value = getattr(self, name)
            if value is not None and (not _number(value) or value <= 0):
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
        return "asha"

    @property
    def integral(self) -> bool:
        """Whether budgets are whole numbers (an iteration param, not a rows fraction)."""
        return self.resource != ROWS

    def completed(self, resource: str, max_resource: float) -> ASHA:
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
        """The budgets of each bracket's rungs (ASHA: one bracket)."""
        return [self.budgets(self._need("min_resource"))]

    def describe(self) -> dict[str, Any]:
        """The settings, for MLflow params and the checkpoint identity."""
        return {"scheduler": self.name, **asdict(self)}

    def _need(self, name: str) -> float:
        value = getattr(self, name)
        if value is None:
            raise ValidationError(f"The scheduler's {name} is not set yet (call completed()).")
        return float(value)


@dataclass(frozen=True)
class Hyperband(ASHA):
    """Hyperband as brackets of ASHA: bracket s starts at ``min_resource * eta**s``.

    New trials go to the brackets in turn, so aggressive brackets (many cheap trials) and
    conservative ones (fewer trials, larger first budget, down to the full budget) share
    the search, hedging against a smallest budget too small to rank trials.
    """

    @property
    def name(self) -> str:
        """The scheduler's name in results, MLflow and job specs."""
        return "hyperband"

    def brackets(self) -> list[tuple[float, ...]]:
        """One bracket per rung of ASHA's, each starting one rung higher."""
        first = ASHA.brackets(self)[0]
        return [self.budgets(low) if low != first[-1] else (low,) for low in first]


class Ladder:
    """One search's rungs: which trial is in which bracket, its results, who was promoted.

    Without a scheduler it has one bracket of one rung whose budget is None (the full
    budget), so every trial completes on its first rung.
    """

    def __init__(
        self, brackets: list[tuple[float, ...]] | None, larger_is_better: bool, eta: float = 3
    ) -> None:
        self.brackets: list[tuple[float | None, ...]] = list(brackets or [(None,)])
        self.larger_is_better = larger_is_better
        self.eta = eta
        self._bracket: dict[int, int] = {}
        self._results = [[{} for _ in b] for b in self.brackets]
        self._promoted: list[list[set[int]]] = [[set() for _ in b] for b in self.brackets]
        self._pending: list[int] = []
        self._started = 0

    def start(self, number: int) -> None:
        """Place a new trial in the next bracket (round-robin)."""
        self._bracket[number] = self._started % len(self.brackets)
        self._started += 1

    def budget(self, number: int, rung: int) -> float | None:
        """The budget of trial ``number`` at ``rung`` (None: the full budget, no scheduler)."""
        return self.brackets[self._bracket[number]][rung]

    def is_top(self, number: int, rung: int) -> bool:
        """Whether ``rung`` is the last of the trial's bracket."""
        return rung == len(self.brackets[self._bracket[number]]) - 1

    def report(self, number: int, rung: int, value: float) -> None:
        """Record the trial's metric at ``rung`` (NaN: never ranked)."""
        self._results[self._bracket[number]][rung][number] = value

    def promote(self, number: int, rung: int) -> None:
        """Mark trial ``number`` as promoted from ``rung`` to the next."""
        self._promoted[self._bracket[number]][rung].add(number)

    def restore(self, number: int, budgets: Collection[float], promoted: bool) -> None:
        """Re-enter a trial from a checkpoint: its bracket from its first budget, its rungs.

        A trial that was promoted but had not finished its next rung is promoted first.
        """
        first = next(iter(budgets))
        bracket = next((i for i, b in enumerate(self.brackets) if b[0] == first), None)
        if bracket is None:
            raise ValidationError(
                f"Trial {number} of the checkpoint started on budget {first}, which no bracket "
                f"of this scheduler has ({self.brackets}); resume with the same scheduler."
            )
        self._bracket[number] = bracket
        self._started += 1
        for rung in range(len(budgets) - 1):
            self.promote(number, rung)
        if promoted:
            self.promote(number, len(budgets) - 1)
            self._pending.append(number)

    def promotion(self, paused: Mapping[int, int]) -> int | None:
        """A paused trial to promote now (``paused``: trial -> last rung finished), or None.

        Checkpointed promotions come first; then, highest rungs first, the best trial that
        ranks in the top ``n // eta`` of the ``n`` ranked results at its rung and was not
        promoted from it yet, while fewer than ``n // eta`` were promoted from that rung.
        """
        while self._pending:
            number = self._pending.pop(0)
            if number in paused:
                return number
        found: list[tuple[int, int]] = []
        for bracket, rungs in enumerate(self._results):
            for rung in range(len(rungs) - 2, -1, -1):
                number = self._promotable(bracket, rung, paused)
                if number is not None:
                    found.append((rung, number))
                    break
        if not found:
            return None
        rung, number = max(found)
        self.promote(number, rung)
        return number

    def _promotable(self, bracket: int, rung: int, paused: Mapping[int, int]) -> int | None:
        ranked = [(v, n) for n, v in self._results[bracket][rung].items() if not math.isnan(v)]
        ranked.sort(key=lambda item: -item[0] if self.larger_is_better else item[0])
        quota = int(len(ranked) // self.eta)
        promoted = self._promoted[bracket][rung]
        if len(promoted) >= quota:
            return None
        for _, number in ranked[:quota]:
            if number not in promoted and paused.get(number) == rung:
                return number
        return None
