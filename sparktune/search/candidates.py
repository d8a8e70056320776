"""The simplest strategy: a fixed list of candidates, asked in order (the drop-ins' grid)."""

from __future__ import annotations

from collections.abc import Sequence

from sparktune.core.trial import Candidate, Trial


class CandidateList:
    """Asks each of ``candidates`` once, in order; learns nothing from results."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self._candidates = list(candidates)
        self._next = 0

    def ask(self) -> Candidate | None:
        """The next candidate, or None once all were asked."""
        if self._next >= len(self._candidates):
            return None
        self._next += 1
        return self._candidates[self._next - 1]

    def tell(self, trial: Trial) -> None:
        """A fixed list learns nothing from results."""
