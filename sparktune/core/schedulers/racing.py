"""Racing over folds (F-race; tidymodels finetune ``tune_race_anova`` / ``tune_race_win_loss``).

Every candidate first runs ``burn_in`` folds. Then, one fold at a time, a candidate is
compared with the current leader on the folds both ran (the leader: the best mean over
those folds among candidates still in the race that ran at least as many), and dropped
when a one-sided test says it is worse at level ``alpha``:

- ``"anova"``: a paired t-test of the per-fold differences (the two-candidate case of
  tidymodels' repeated-measures model, which pools the variance over all candidates);
- ``"win_loss"``: a sign test of its losses against its wins (tied folds left out), the
  pairwise form of tidymodels' Bradley-Terry win/loss model.

The leader and its ties are never dropped, nor is any candidate before its burn-in. New
candidates start before paused ones go on, so every candidate gets its burn-in before the
race (as in tidymodels); then the candidate with the fewest folds runs next. With few
folds, ``num_repeats`` repeats the k-fold with other seeds so the race has more steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sparktune.core.errors import ValidationError
from sparktune.core.schedulers.base import FOLDS, Decision, Scheduler, SchedulerRun, Step, better
from sparktune.core.schedulers.folds import FoldSteps

#: The tests :class:`Racing` takes.
TESTS = ("anova", "win_loss")


def p_worse(leader: list[float], other: list[float], test: str, larger_is_better: bool) -> float:
    """One-sided p-value that ``other`` is worse than ``leader`` on paired folds.

    Pairs with a NaN are left out; with no evidence (too few pairs, all ties) it is 1.
    """
    diffs = [
        (a - b) if larger_is_better else (b - a)
        for a, b in zip(leader, other)
        if not (math.isnan(a) or math.isnan(b))
    ]
    from scipy import stats

    if test == "win_loss":
        losses = sum(d > 0 for d in diffs)
        decided = losses + sum(d < 0 for d in diffs)
        if decided == 0:
            return 1.0
        return float(stats.binomtest(losses, decided, 0.5, alternative="greater").pvalue)
    if len(diffs) < 2:
        return 1.0
    mean = sum(diffs) / len(diffs)
    spread = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    if spread <= 1e-12 * max(1.0, abs(mean)):  # the same difference on every fold
        return 0.0 if mean > 0 else 1.0
    t = mean / (spread / math.sqrt(len(diffs)))
    return float(stats.t.sf(t, len(diffs) - 1))


@dataclass(frozen=True)
class Racing(Scheduler):
    """Racing over folds: drop candidates a paired test shows worse than the leader.

    ``burn_in`` folds run before the first test (at least 2); ``test`` is ``"anova"``
    (paired t-test) or ``"win_loss"`` (sign test); ``alpha`` the test's level;
    ``num_repeats`` repeats the k-fold split with other seeds (e.g. 5 folds x 2), so the
    race has ``num_folds * num_repeats`` steps. A dropped candidate ends ``pruned`` with
    its mean over the folds it ran; survivors run every fold.
    """

    burn_in: int = 3
    test: str = "anova"
    alpha: float = 0.05
    num_repeats: int = 1

    axis = FOLDS

    def __post_init__(self) -> None:
        def whole(value: object, low: int) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value >= low

        if not whole(self.burn_in, 2):
            raise ValidationError(
                f"burn_in must be an integer >= 2 (folds before the first test), "
                f"got {self.burn_in!r}."
            )
        if self.test not in TESTS:
            raise ValidationError(f"test must be one of {list(TESTS)}, got {self.test!r}.")
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
            raise ValidationError(f"alpha must be a number in (0, 1), got {alpha!r}.")
        if not whole(self.num_repeats, 1):
            raise ValidationError(f"num_repeats must be an integer >= 1, got {self.num_repeats!r}.")

    @property
    def name(self) -> str:
        """The scheduler's name in results, MLflow and job specs."""
        return "racing"

    def describe(self) -> dict[str, Any]:
        """The settings, for MLflow params and the checkpoint identity."""
        return {"scheduler": self.name, **asdict(self)}

    def check_folds(self, num_folds: int) -> None:
        """A race needs a fold after the burn-in to drop anything."""
        if num_folds <= self.burn_in:
            raise ValidationError(
                f"Racing needs more folds than burn_in ({self.burn_in}) to drop anything; "
                f"the search has {num_folds}. Raise num_folds or num_repeats, or lower burn_in."
            )

    def start(self, larger_is_better: bool, num_folds: int) -> SchedulerRun:
        """A race over ``num_folds`` folds (repeats included)."""
        self.check_folds(num_folds)
        return Race(self, num_folds, larger_is_better)


class Race(FoldSteps):
    """One search's race: fold values per candidate, the leader, who was dropped."""

    def __init__(self, racing: Racing, num_folds: int, larger_is_better: bool) -> None:
        super().__init__(num_folds, racing.burn_in, larger_is_better)
        self.racing = racing

    def on_result(
        self, number: int, step: Step, value: float, folds: Mapping[int, float]
    ) -> Decision:
        """Keep the folds; wait (paused) until the others caught up and the test ran."""
        self.record(number, folds)
        return Decision.PAUSE

    def leader(self, number: int) -> int:
        """The best candidate in the race over trial ``number``'s folds, among those that ran
        at least as many (``number`` itself if none beats it; ties keep ``number``)."""
        count = len(self.values[number])
        best, best_mean = number, self.mean(number, count)
        for other in sorted(self.live(exclude=number)):
            if len(self.values[other]) >= count:
                mean = self.mean(other, count)
                if better(mean, best_mean, self.larger_is_better):
                    best, best_mean = other, mean
        return best

    def drops(self, paused: Mapping[int, int]) -> list[int]:
        """Paused candidates past their burn-in that the test shows worse than the leader."""
        dropped = []
        for number in sorted(paused):
            values = self.values.get(number, [])
            if number in self.dropped or len(values) < self.racing.burn_in:
                continue
            leader = self.leader(number)
            if leader == number:
                continue
            count = len(values)
            p = p_worse(
                self.values[leader][:count], values, self.racing.test, self.larger_is_better
            )
            if p < self.racing.alpha:
                test = "paired t-test" if self.racing.test == "anova" else "sign test"
                self.dropped[number] = (
                    f"racing: worse than trial {leader} over {count} folds ({test} p={p:.3g})"
                )
                dropped.append(number)
        return dropped

    def choose(self, paused: Mapping[int, int], exhausted: bool) -> int | None:
        """Once no new candidate comes, the paused one with the fewest folds (then the best)."""
        resumed = super().choose(paused, exhausted)
        if resumed is not None:
            return resumed
        waiting = [n for n in paused if n not in self.dropped]
        if not exhausted or not waiting:
            return None
        sign = -1.0 if self.larger_is_better else 1.0

        def rank(n: int) -> tuple[int, float, int]:
            mean = self.mean(n, len(self.values[n]))
            return len(self.values[n]), sign * mean if not math.isnan(mean) else math.inf, n

        return min(waiting, key=rank)

    def next_count(self, number: int) -> int:
        """One fold, or every remaining fold once no other candidate is still racing."""
        unfinished = [n for n in self.live(exclude=number) if len(self.values[n]) < self.num_folds]
        return 1 if unfinished else self.num_folds
