"""Optuna samplers as search strategies: ask/tell on an Optuna study, over hyperopt spaces.

Users write hyperopt spaces, and :class:`~sparktune.search.space.SearchSpace` normalizes
them into one hyperopt expression. :func:`dimensions` converts each of its distributions to
an Optuna distribution once, when the strategy is built (refusing, before any Spark job,
those Optuna has no equivalent for). Each ask is define-by-run: the expression is walked,
every label reached is suggested to the study's trial, and of a choice only the chosen
option is walked, so a conditional space sets only its chosen branch's params. The
suggested values become a hyperopt *assignment* and :meth:`SearchSpace.candidate` turns it
into the candidate, exactly as for the hyperopt strategies, so results, checkpoints and
resume are the same whichever strategy asked.

What is told to the study:

- any number of trials may be asked before any is told (the study holds them as running);
  ``optuna-tpe`` uses Optuna's constant liar so that it does not propose the same region k
  times, CMA-ES draws the in-flight ones from the same generation;
- a trial without a metric (failed, or cancelled by a timeout or an interrupt) is told
  ``FAIL``: it stays in the study's history, and its ``sparktune_state`` user attribute
  says which it was. A cancelled trial says nothing about its params' quality, and Optuna
  has no state for it: ``PRUNED`` would mean a scheduler judged it on intermediate results;
- a proposal whose params were already asked is not evaluated again: its study trial is told
  the earlier trial's result (as soon as that one is told). After ``retries`` repeated
  proposals the next ones are random draws, then, for a small finite space, the points not
  tried yet; when none is left :meth:`OptunaSearch.ask` returns None and the search ends;
- a trial the search did not ask (restored from a checkpoint) is added to the study as a
  finished trial, so the sampler learns from it and its params are not asked again.

The study is the search's own in-memory study, or the user's ``optuna.Study`` (its sampler,
its storage, so optuna-dashboard shows the trials, and its direction, which must be the
metric's). The finished trials a user's study already holds are history: the sampler learns
from them and their params are not asked again, so a study in a database continues across
runs. Multi-objective studies are refused: a sparktune trial has one metric.

Optuna is imported when a strategy is built, not when sparktune is.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from hyperopt.pyll import Apply

from sparktune.compat.extras import require
from sparktune.core.errors import ValidationError
from sparktune.core.trial import Candidate, Trial
from sparktune.search import pyll
from sparktune.search.dimensions import SAMPLERS, dimensions
from sparktune.search.space import SearchSpace
from sparktune.search.tpe import N_STARTUP_JOBS

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.samplers import BaseSampler

logger = logging.getLogger(__name__)

#: A key of :meth:`SearchSpace.key`: the identity of a candidate's param values.
Key = tuple[Any, ...]


def sampler(name: str, seed: int) -> BaseSampler:
    """The Optuna sampler called ``name`` (one of :data:`SAMPLERS`), seeded with ``seed``.

    - ``optuna-tpe``: multivariate TPE (``group=True``: the params of each branch of a
      conditional space are modelled jointly), random for its first 10 trials as sparktune's
      hyperopt TPE, with the constant liar for the trials in flight;
    - ``cmaes``: CMA-ES over the float and integer params; choices (and lists) have no place
      in its continuous model and are drawn at random (its independent sampler), as are
      params inside ``hp.choice`` branches that not every trial has;
    - ``qmc``: a scrambled Sobol sequence (the seed picks the scrambling); choices take one
      coordinate of it, params inside branches are drawn at random.

    The options chosen here are marked experimental by Optuna; their warnings are silenced.
    """
    optuna = require("optuna", f"strategy={name!r}")
    if name == "cmaes":
        require("cmaes", "strategy='cmaes'")
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        if name == "optuna-tpe":
            return optuna.samplers.TPESampler(
                seed=seed,
                multivariate=True,
                group=True,
                n_startup_trials=N_STARTUP_JOBS,
                constant_liar=True,
            )
        if name == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        if name == "qmc":
            return optuna.samplers.QMCSampler(
                seed=seed, scramble=True, warn_independent_sampling=False
            )
    raise ValidationError(f"Optuna sampler must be one of {list(SAMPLERS)}, got {name!r}.")


class OptunaSearch:
    """Proposes distinct candidates with an Optuna sampler (ask/tell on an Optuna study).

    ``larger_is_better`` sets the study's direction (a given ``study`` must have it);
    ``points_to_evaluate`` (name -> value dicts) are enqueued, so they are asked first.
    ``seed`` seeds the random draws that replace repeated proposals (the sampler has its
    own). The study is :attr:`study`.
    """

    retries = 10
    random_retries = 100

    def __init__(
        self,
        space: SearchSpace,
        sampler: BaseSampler,
        *,
        seed: int = 0,
        larger_is_better: bool = False,
        points_to_evaluate: Sequence[Mapping[Any, Any]] = (),
        study: optuna.Study | None = None,
    ) -> None:
        self.space = space
        self.dimensions = dimensions(space.expr)
        if study is None:
            self.study = _study(sampler, larger_is_better)
        else:
            self.study = _checked(study, larger_is_better)
        self._rng = np.random.default_rng(seed)
        #: Asked and not told yet: the study trial and the candidate's key, by study trial number.
        self._asked: dict[int, tuple[optuna.trial.Trial, Key]] = {}
        #: sparktune trial numbers already told: the study takes one value per trial.
        self._told: set[int] = set()
        #: Told: the metric, or None for a trial without one (failed, cancelled).
        self._outcomes: dict[Key, float | None] = {}
        #: Asked and not told yet: the study trials that repeated them, told when they are.
        self._repeats: dict[Key, list[optuna.trial.Trial]] = {}
        #: Enqueued at the first ask (nothing is written to a user's study before the search).
        self._points = [space.assignment(point) for point in points_to_evaluate or ()]
        if study is not None:
            self._know_earlier_trials()

    def _know_earlier_trials(self) -> None:
        """The finished trials a given study already holds: their params are not asked
        again (trials over other params, or outside this space, are left to the sampler)."""
        from optuna.trial import TrialState as StudyState

        finished = (StudyState.COMPLETE, StudyState.FAIL, StudyState.PRUNED)
        for trial in self.study.get_trials(deepcopy=False, states=finished):
            cancelled = trial.user_attrs.get("sparktune_state") == "cancelled"
            if cancelled or not trial.params or set(trial.params) - set(self.dimensions):
                continue  # a cancelled trial says nothing of its params: it may be asked again
            try:
                point = {k: self.dimensions[k].hyperopt(v) for k, v in trial.params.items()}
                key = self.space.key(self.space.candidate(point))
            except Exception:  # params this space cannot read (e.g. one it gained since)
                continue
            self._outcomes[key] = trial.value if trial.state is StudyState.COMPLETE else None

    def ask(self) -> Candidate | None:
        """The next candidate with params not asked before, or None when none is left.

        Its ``tid`` is its study trial's number.
        """
        for point in self._points:
            if self.space.key(self.space.candidate(point)) not in self._outcomes:
                self.study.enqueue_trial(self._params(point))
        self._points = []
        for assignment, trial in self._proposals():
            candidate = self.space.candidate(assignment)
            key = self.space.key(candidate)
            if self._known(key):
                if trial is not None:
                    self._repeat(trial, key)
                continue
            if trial is None:
                self.study.enqueue_trial(self._params(assignment))
                trial = self.study.ask()
                popped = self._suggested(trial)
                if popped != assignment:  # a point enqueued elsewhere was waiting before it
                    candidate = self.space.candidate(popped)
                    key = self.space.key(candidate)
                    if self._known(key):
                        self._repeat(trial, key)
                        continue
            self._asked[trial.number] = (trial, key)
            self._repeats[key] = []
            return replace(candidate, tid=trial.number)
        tried = len(self._outcomes) + len(self._repeats)
        logger.info("no proposal is new; the search ends after %d distinct candidates", tried)
        return None

    def _known(self, key: Key) -> bool:
        """Whether the params ``key`` were asked already (told or in flight)."""
        return key in self._outcomes or key in self._repeats

    def tell(self, trial: Trial) -> None:
        """Tell the study a finished trial: its metric, or ``FAIL`` (failed or cancelled).

        The study takes one value per trial: the first told (under a scheduler, the first
        rung's); a trial told again after a later rung is not told to the study.
        """
        if trial.number in self._told:
            return
        self._told.add(trial.number)
        value = trial.first_value
        outcome = None if math.isnan(value) else value
        tid = trial.candidate.tid
        asked = self._asked.pop(tid, None) if tid is not None else None
        if asked is None:
            self._adopt(trial, outcome)
            return
        study_trial, key = asked
        study_trial.set_user_attr("sparktune_trial", trial.number)
        study_trial.set_user_attr("sparktune_state", trial.state.value)
        self._outcomes[key] = outcome
        for told in [study_trial, *self._repeats.pop(key, [])]:
            self._tell(told, outcome)

    def _adopt(self, trial: Trial, outcome: float | None) -> None:
        """Add a trial this search did not ask (restored from a checkpoint) to the study,
        unless the study holds it already (a study kept in storage)."""
        from optuna.trial import TrialState as StudyState
        from optuna.trial import create_trial

        assignment = trial.candidate.assignment
        if assignment is None or self.space.key(trial.candidate) in self._outcomes:
            return
        self.study.add_trial(
            create_trial(
                state=StudyState.FAIL if outcome is None else StudyState.COMPLETE,
                value=outcome,
                params=self._params(assignment),
                distributions={label: self.dimensions[label].distribution for label in assignment},
                user_attrs={"sparktune_trial": trial.number, "sparktune_state": trial.state.value},
            )
        )
        self._outcomes[self.space.key(trial.candidate)] = outcome

    def _repeat(self, trial: optuna.trial.Trial, key: Key) -> None:
        """A study trial that repeats asked params gets their result, now or once told."""
        trial.set_user_attr("sparktune_repeat", True)
        if key in self._outcomes:
            self._tell(trial, self._outcomes[key])
        else:
            self._repeats[key].append(trial)

    def _tell(self, trial: optuna.trial.Trial, outcome: float | None) -> None:
        from optuna.trial import TrialState as StudyState

        if outcome is None:
            self.study.tell(trial, state=StudyState.FAIL)
        else:
            self.study.tell(trial, outcome)

    def _proposals(self) -> Iterator[tuple[dict[str, Any], optuna.trial.Trial | None]]:
        """Assignments to try in turn: the sampler's (with their study trial), random, the rest.

        The study asks enqueued points first.
        """
        for _ in range(self.retries):
            trial = self.study.ask()
            yield self._suggested(trial), trial
        for _ in range(self.random_retries):
            yield self._walk(self._draw), None
        every = self._every_point
        yield from ((every[i], None) for i in self._rng.permutation(len(every)))

    @functools.cached_property
    def _every_point(self) -> list[dict[str, Any]]:
        """All assignments of a small finite space (empty for others), enumerated once."""
        return self.space.enumerate() or []

    def _suggested(self, trial: optuna.trial.Trial) -> dict[str, Any]:
        """The assignment the study's ``trial`` suggests, define-by-run."""
        return self._walk(functools.partial(_suggest, trial))

    def _walk(self, choose: Callable[[str, BaseDistribution], Any]) -> dict[str, Any]:
        """An assignment giving each label reached ``choose(label, distribution)``.

        Of a choice, only the chosen option is walked: its labels are the only ones set.
        """
        assignment: dict[str, Any] = {}
        seen: set[int] = set()

        def visit(node: Apply) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            if node.name == "hyperopt_param":
                label = node.arg["label"].obj
                dim = self.dimensions[label]
                assignment[label] = dim.hyperopt(choose(label, dim.distribution))
            elif node.name == "switch":
                index, *options = node.pos_args
                visit(index)
                visit(options[int(pyll.evaluate(index, assignment))])
            else:
                for child in node.inputs():
                    visit(child)

        visit(self.space.expr)
        return assignment

    def _draw(self, label: str, dist: BaseDistribution) -> Any:
        """A random value of ``dist`` (uniform; log-uniform for a log distribution)."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        rng = self._rng
        if isinstance(dist, CategoricalDistribution):
            return dist.choices[int(rng.integers(len(dist.choices)))]
        if dist.log:
            value = math.exp(rng.uniform(math.log(dist.low), math.log(dist.high)))
            return int(round(value)) if isinstance(dist, IntDistribution) else value
        if dist.step is not None:
            return dist.low + dist.step * int(
                rng.integers(round((dist.high - dist.low) / dist.step) + 1)
            )
        return float(rng.uniform(dist.low, dist.high))

    def _params(self, assignment: Mapping[str, Any]) -> dict[str, Any]:
        """The study's params for a hyperopt assignment."""
        return {label: self.dimensions[label].optuna(v) for label, v in assignment.items()}


def _suggest(trial: optuna.trial.Trial, label: str, dist: BaseDistribution) -> Any:
    """Ask the study's ``trial`` for ``label`` in ``dist`` (define-by-run)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(label, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(label, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(label, dist.low, dist.high, step=dist.step, log=dist.log)


def _checked(study: optuna.Study, larger_is_better: bool) -> optuna.Study:
    """The user's study, if it has one objective in the metric's direction."""
    from optuna.study import StudyDirection

    if len(study.directions) != 1:
        raise ValidationError(
            f"Study {study.study_name!r} has {len(study.directions)} objectives; a sparktune "
            "trial has one metric: give a study made with direction= (not directions=)."
        )
    wanted = StudyDirection.MAXIMIZE if larger_is_better else StudyDirection.MINIMIZE
    if study.direction != wanted:
        name = wanted.name.lower()
        raise ValidationError(
            f"Study {study.study_name!r} is to {study.direction.name.lower()}, but the metric "
            f"is to {name}: create the study with direction={name!r}."
        )
    return study


def _study(sampler: BaseSampler, larger_is_better: bool) -> optuna.Study:
    """An in-memory study in the metric's direction.

    Optuna logs every study's creation at INFO; sparktune's study is an implementation detail,
    so that line is kept out of the user's console.
    """
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(verbosity, optuna.logging.WARNING))
    try:
        return optuna.create_study(
            direction="maximize" if larger_is_better else "minimize", sampler=sampler
        )
    finally:
        optuna.logging.set_verbosity(verbosity)
