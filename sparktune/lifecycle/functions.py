"""The evaluation step of a search over a training function, for ``run_search``.

A :class:`FunctionProblem` is what :class:`~sparktune.lifecycle.search.SearchProblem` is for
Spark pipelines: here only the function, the session its trials run on and where they run.
Its :meth:`FunctionProblem.evaluate` runs the shared engine with a
:class:`~sparktune.spark.function_objective.FunctionObjective`; tracker, progress bar,
checkpoint, best trial and result are run_search's, as for every other kind of trial.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sparktune.core.callbacks import Callback, Strategy
from sparktune.core.engine import Engine, Outcome
from sparktune.core.settings import SearchSettings
from sparktune.core.stopping import Stopper
from sparktune.core.trial import Candidate, Trial
from sparktune.spark.function_objective import FunctionObjective
from sparktune.spark.port import port_for


@dataclass(frozen=True)
class FunctionProblem:
    """A function's search: ``fn``, what it receives per candidate, the session, placement.

    ``resource`` names the param a scheduler's budget sets in ``fn``'s params;
    ``stoppers`` are added to the settings' own (the hyperopt drop-in's ``early_stop_fn``).
    """

    spark: Any
    fn: Callable[[Any], Any]
    argument: Callable[[Candidate], Any]
    placement: str = "executors"
    resource: str | None = None
    stoppers: Sequence[Stopper] = ()

    data = None
    label = None

    def evaluate(
        self,
        settings: SearchSettings,
        strategy: Strategy,
        callbacks: Sequence[Callback],
        resumed: Sequence[Trial],
    ) -> Outcome:
        """Run the engine: one call of ``fn`` per trial, ``parallelism`` at a time."""
        scheduler = settings.scheduler
        objective = FunctionObjective(
            self.fn,
            self.argument,
            self.spark,
            metric=settings.primary,
            larger_is_better=settings.larger_is_better,
            placement=self.placement,
            resource=self.resource,
            integral=scheduler is None or scheduler.integral,
        )
        engine = Engine(
            objective,
            port_for(self.spark),
            settings.parallelism,
            settings.error_policy,
            callbacks,
            scheduler,
        )
        return engine.run(strategy, [*settings.stoppers(), *self.stoppers], resumed)
