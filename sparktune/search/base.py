"""Ask/tell around a hyperopt ``suggest`` function, with any number of trials in flight.

hyperopt's ``fmin`` evaluates one trial after another; here the engine asks for a candidate
whenever a slot is free and tells each finished trial. Every asked candidate becomes a
trial document of :attr:`HyperoptSearch.hyperopt_trials`: *running* while it is evaluated
(TPE counts its loss as +inf, so it does not propose the same region k times), then *ok*
with its loss, or *fail* with its error kept (TPE counts it as +inf too: it learns to
avoid what fails instead of forgetting it). Under a scheduler a trial is told after every
rung: its document keeps its first rung's result, and :attr:`HyperoptSearch.latest` keeps
what was told last, for a strategy that learns from larger budgets
(:class:`~sparktune.search.tpe.TPESearch`).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from hyperopt import STATUS_FAIL, STATUS_OK, STATUS_RUNNING, Trials, rand
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_RUNNING

from sparktune.core.trial import Candidate, Trial
from sparktune.search.space import SearchSpace

logger = logging.getLogger(__name__)

#: hyperopt's suggest signature: (new_ids, domain, trials, seed) -> trial documents.
Suggest = Callable[[list[int], Any, Trials, int], list[dict[str, Any]]]


class HyperoptSearch:
    """Proposes distinct candidates with a hyperopt suggest function (ask/tell).

    ``points_to_evaluate`` (name -> value dicts) are asked first. A proposal whose params
    were already asked is drawn again: ``retries`` times from ``algo``, then from random
    search, then (for a finite space) from the points not yet tried; when none is left,
    :meth:`ask` returns None and the search ends.
    """

    retries = 10
    random_retries = 100

    def __init__(
        self,
        space: SearchSpace,
        algo: Suggest,
        *,
        seed: int = 0,
        larger_is_better: bool = False,
        points_to_evaluate: Sequence[Mapping[Any, Any]] = (),
    ) -> None:
        self.space = space
        self.algo = algo
        self.seed = seed
        self.sign = -1.0 if larger_is_better else 1.0
        #: hyperopt's record of every asked candidate (tid = order of asking).
        self.hyperopt_trials = Trials()
        self._points = [space.assignment(point) for point in points_to_evaluate or ()]
        self._seen: set[tuple[Any, ...]] = set()
        self._docs: dict[int, dict[str, Any]] = {}
        #: Trial number -> its document: every tell of one trial carries its number.
        self._numbers: dict[int, dict[str, Any]] = {}
        #: The last snapshot told of each trial, by hyperopt trial id.
        self.latest: dict[int, Trial] = {}

    def ask(self) -> Candidate | None:
        """The next candidate with params not asked before, or None when none is left."""
        tid = self._next_tid()
        for assignment in self._proposals(tid):
            candidate = self.space.candidate(assignment)
            key = self.space.key(candidate)
            if key in self._seen:
                continue
            self._seen.add(key)
            self._insert(tid, assignment)
            return replace(candidate, tid=tid)
        logger.info("every candidate of the space was tried; the search ends after %d", tid)
        return None

    def tell(self, trial: Trial) -> None:
        """Record a trial's result: its loss, or STATUS_FAIL with its error.

        Under a scheduler the loss is the first rung's metric: a trial told again (after a
        later rung, or when it ends) keeps it, and :attr:`latest` is updated.
        """
        tid = trial.candidate.tid
        doc = self._numbers.get(trial.number)
        if doc is None:
            doc = (self._docs.get(tid) if tid is not None else None) or self._adopt(trial)
        if doc is None:
            return
        self._numbers[trial.number] = doc
        self.latest[doc["tid"]] = trial
        if doc["state"] == JOB_STATE_DONE:
            return
        value = trial.first_value
        if not math.isnan(value):
            result: dict[str, Any] = {"status": STATUS_OK, "loss": self.sign * value}
        else:
            error = trial.error or f"trial {trial.state.value} without a metric"
            result = {"status": STATUS_FAIL, "error": error}
        doc["result"] = {**result, "trial": trial.number, "state": trial.state.value}
        doc["state"] = JOB_STATE_DONE
        doc["refresh_time"] = time.time()
        self.hyperopt_trials.refresh()

    def _adopt(self, trial: Trial) -> dict[str, Any] | None:
        """Take in a trial this search did not ask (one restored from a checkpoint).

        It becomes a trial document, so TPE learns from it, and its params are not asked again.
        """
        assignment = trial.candidate.assignment
        if assignment is None:
            return None
        tid = self._next_tid()
        self._seen.add(self.space.key(trial.candidate))
        self._insert(tid, assignment)
        return self._docs[tid]

    def _next_tid(self) -> int:
        return max(self._docs, default=-1) + 1

    def _proposals(self, tid: int) -> Iterator[dict[str, Any]]:
        while self._points:
            yield self._points.pop(0)
        history = self._history()
        for attempt in range(self.retries):
            yield self._suggest(self.algo, history, tid, attempt)
        for attempt in range(self.retries, self.retries + self.random_retries):
            yield self._suggest(rand.suggest, self.hyperopt_trials, tid, attempt)
        every = self._every_point
        order = np.random.default_rng(self._seed(tid, -1)).permutation(len(every))
        yield from (every[i] for i in order)

    @functools.cached_property
    def _every_point(self) -> list[dict[str, Any]]:
        """All assignments of a small finite space (empty for others), enumerated once."""
        return self.space.enumerate() or []

    def _seed(self, tid: int, attempt: int) -> int:
        """A seed fixed by the search seed, the trial and the attempt (same seed, same run)."""
        return hash((self.seed, tid, attempt)) % (2**31 - 1)

    def _history(self) -> Trials:
        """What ``algo`` proposes from: every trial's document."""
        return self.hyperopt_trials

    def _suggest(self, algo: Suggest, history: Trials, tid: int, attempt: int) -> dict[str, Any]:
        docs = algo([tid], self.space.domain, history, self._seed(tid, attempt))
        vals = docs[0]["misc"]["vals"]
        return {label: values[0] for label, values in vals.items() if len(values)}

    def _insert(self, tid: int, assignment: Mapping[str, Any]) -> None:
        labels = list(self.space.domain.params)
        misc = {
            "tid": tid,
            "cmd": self.space.domain.cmd,
            "workdir": None,
            "idxs": {label: [tid] if label in assignment else [] for label in labels},
            "vals": {label: [assignment[label]] if label in assignment else [] for label in labels},
        }
        trials = self.hyperopt_trials
        (doc,) = trials.new_trial_docs([tid], [None], [{"status": STATUS_RUNNING}], [misc])
        doc["state"] = JOB_STATE_RUNNING
        trials.insert_trial_docs([doc])
        trials.refresh()
        self._docs[tid] = next(d for d in trials.trials if d["tid"] == tid)
