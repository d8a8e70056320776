"""A progress bar for searches: trials done of total, best so far, elapsed and ETA.

``tqdm.auto`` renders as a widget in Jupyter and as a text bar in a terminal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tqdm.auto import tqdm

from sparktune.core.callbacks import Callback
from sparktune.core.engine import Engine
from sparktune.core.trial import Trial, TrialState


class ProgressBar(Callback):
    """Shows one tick per finished trial with the best primary metric so far."""

    def __init__(self, total: int | None, larger_is_better: bool, desc: str = "sparktune") -> None:
        self.total = total
        self.larger_is_better = larger_is_better
        self.desc = desc
        self.best = math.nan
        self.failed = 0
        self._counted: set[int] = set()
        self._bar: tqdm | None = None

    def on_search_start(self, engine: Engine) -> None:
        """Open the bar."""
        self._bar = tqdm(total=self.total, desc=self.desc, unit="trial", dynamic_ncols=True)

    def on_trial_update(self, trial: Trial) -> None:
        """Count a trial once it has its first result (under a scheduler: its first rung)."""
        if trial.number not in self._counted:
            self._counted.add(trial.number)
            self._advance()

    def on_trial_end(self, trial: Trial) -> None:
        """Advance the bar (once per trial) and show the best full-budget metric so far."""
        if trial.state is TrialState.FAILED:
            self.failed += 1
        value = trial.value
        if trial.state is TrialState.COMPLETE and (
            math.isnan(self.best)
            or (value > self.best if self.larger_is_better else value < self.best)
        ):
            self.best = value
        if trial.number not in self._counted:
            self._counted.add(trial.number)
            self._advance()
        elif self._bar is not None:
            self._bar.set_postfix(best=f"{self.best:.6g}", failed=self.failed)

    def _advance(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix(best=f"{self.best:.6g}", failed=self.failed, refresh=False)
            self._bar.update(1)

    def on_search_end(self, trials: Sequence[Trial], error: BaseException | None) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
