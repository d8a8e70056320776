"""One search's successive-halving state: brackets, rungs, who was promoted.

The rule pauses trials and keeps synchronous halving's bound: of n trials that finished a
rung, at most ``n // reduction_factor`` are ever promoted from it, each in the top
``n // reduction_factor`` when promoted. (Optuna's ``SuccessiveHalvingPruner`` decides at
once whether a trial goes on, and so does the ASHA paper's rule when the ranking shifts: in
a rising sequence they promote nearly every trial.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sparktune.core.errors import ValidationError
from sparktune.core.schedulers.base import Decision, SchedulerRun, Step
from sparktune.core.trial import Trial


class Ladder(SchedulerRun):
    """Rungs of budgets per bracket; every trial below its top rung pauses for promotion."""

    def __init__(
        self, brackets: list[tuple[float, ...]], larger_is_better: bool, eta: float
    ) -> None:
        self.brackets = list(brackets)
        self.larger_is_better = larger_is_better
        self.eta = eta
        self._bracket: dict[int, int] = {}
        self._results: list[list[dict[int, float]]] = [[{} for _ in b] for b in self.brackets]
        self._promoted: list[list[set[int]]] = [[set() for _ in b] for b in self.brackets]
        self._pending: list[int] = []
        self._started = 0

    def add(self, number: int) -> None:
        """Place a new trial in the next bracket (round-robin)."""
        self._bracket[number] = self._started % len(self.brackets)
        self._started += 1

    def step(self, number: int, index: int) -> Step | None:
        """Rung ``index`` of the trial's bracket: every fold at that rung's budget."""
        rungs = self.brackets[self._bracket[number]]
        return Step(index, rungs[index]) if index < len(rungs) else None

    def on_result(
        self, number: int, step: Step, value: float, folds: Mapping[int, float]
    ) -> Decision:
        """Record the rung's metric (NaN: never ranked); wait for a promotion."""
        self._results[self._bracket[number]][step.index][number] = value
        return Decision.PAUSE

    def restore(self, trial: Trial) -> None:
        """Re-enter a trial: its bracket from its first budget, its rungs and promotions.

        A trial that was promoted but had not finished its next rung is promoted first.
        """
        if not trial.rungs:
            self.add(trial.number)
            return
        number, first = trial.number, trial.rungs[0].resource
        bracket = next((i for i, b in enumerate(self.brackets) if b[0] == first), None)
        if bracket is None:
            raise ValidationError(
                f"Trial {number} of the checkpoint started on budget {first}, which no bracket "
                f"of this scheduler has ({self.brackets}); resume with the same scheduler."
            )
        self._bracket[number] = bracket
        self._started += 1
        for rung in trial.rungs[:-1]:
            self._promoted[bracket][rung.index].add(number)
        if trial.promoted:
            self._promoted[bracket][trial.rungs[-1].index].add(number)
            self._pending.append(number)
        for rung in trial.rungs:
            self._results[bracket][rung.index][number] = rung.value

    def choose(self, paused: Mapping[int, int], exhausted: bool) -> int | None:
        """Checkpointed promotions first; then, highest rungs first, the best trial that
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
        self._promoted[self._bracket[number]][rung].add(number)
        return number

    def reason(self, number: int) -> str | None:
        """A trial still paused when the search ended was never promoted."""
        return "not promoted before the search ended"

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
