"""Grid search: every combination of the space's lists (and ``hp.choice`` options)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sparktune.core.trial import Candidate, Trial
from sparktune.search.candidates import CandidateList
from sparktune.search.space import SearchSpace


class GridSearch(CandidateList):
    """Asks each distinct point of the grid once, first name varying slowest.

    ``points_to_evaluate`` are asked first; grid points equal to one of them are skipped.
    """

    def __init__(
        self, space: SearchSpace, *, points_to_evaluate: Sequence[Mapping[Any, Any]] = ()
    ) -> None:
        assignments = [space.assignment(p) for p in points_to_evaluate or ()] + space.grid()
        candidates: list[Candidate] = []
        seen: set[tuple[Any, ...]] = set()
        for assignment in assignments:
            candidate = space.candidate(assignment)
            key = space.key(candidate)
            if key not in seen:
                seen.add(key)
                candidates.append(candidate)
        super().__init__(candidates)
        #: How many candidates the grid holds.
        self.size = len(candidates)
        self._space = space
        self._done: set[tuple[Any, ...]] = set()

    def ask(self) -> Candidate | None:
        """The next grid point whose params were not told yet (e.g. restored from a checkpoint)."""
        candidate = super().ask()
        while candidate is not None and self._space.key(candidate) in self._done:
            candidate = super().ask()
        return candidate

    def tell(self, trial: Trial) -> None:
        """Remember the trial's params, so the grid does not ask for them again."""
        self._done.add(self._space.key(trial.candidate))
