"""Search spaces: names such as ``"lr.regParam"`` resolved to Spark Params, values as hyperopt
expressions or plain lists.

A space maps names to values:

- a plain list holds the values to try: the grid strategy tries every combination of lists,
  random and TPE pick among a list's values as ``hp.choice`` does;
- any hyperopt expression (``hp.uniform``, ``hp.quniform``, ``hp.loguniform``, ``hp.choice``,
  ...), as hyperopt users write them;
- ``hp.choice`` (or a plain list) over dicts of name -> value: a conditional space. The key
  of such an entry is only a label; the chosen dict's names are set, the others are not.

Names (:mod:`sparktune.search.names`):

- ``"stage.param"``: ``stage`` is a stage's uid (``"LinearRegression_4f2a..."``, or the uid
  given with ``_resetUid("lr")``), a prefix of exactly one uid, or a class name used by
  exactly one stage; ``param`` is one of that stage's Params. Stages are every stage of the
  estimator (nested Pipelines and Params-valued params such as ``OneVsRest.classifier``
  included) and every estimator that appears as a value in the space;
- the Param object itself (``lr.regParam``) as a key;
- ``"estimator"`` (:data:`ESTIMATOR`): the final estimator of the pipeline (its last
  Estimator stage; the estimator itself when it is not a Pipeline). Its values are
  estimators, e.g. ``{"estimator": hp.choice("model", [{"estimator": lr, "lr.regParam": ...},
  {"estimator": gbt, "gbt.maxDepth": ...}])}``. The featurizer stages before it are still
  fitted once per fold and shared by every candidate (:mod:`sparktune.search.final`);
- a Pipeline's ``stages`` (``"Pipeline_1a2b.stages"`` or ``pipe.stages``), with lists of
  stages as values: that Pipeline is then fitted as one unit per candidate.

Values are converted by each Param's type converter (:mod:`sparktune.search.values`), so
integer params (``maxDepth``, ``maxIter``, ``numTrees``, and XGBoost's ``max_depth`` or
``n_estimators``) receive ints even from ``hp.quniform``. Unknown names and values of the
wrong type raise :class:`~sparktune.errors.ValidationError` when the space is resolved,
before any Spark job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from hyperopt.base import Domain, DuplicateLabel
from hyperopt.fmin import space_eval
from hyperopt.pyll import Apply, as_apply, dfs, stochastic
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params

from sparktune.core.errors import ValidationError
from sparktune.core.trial import Candidate
from sparktune.search import final, pyll, values
from sparktune.search.names import ESTIMATOR, Stages, Target, key_name
from sparktune.spark import pipeline

__all__ = ["ESTIMATOR", "MAX_POINTS", "SearchSpace", "resolve"]

#: Grids and the enumeration of small discrete spaces stop at this many points.
MAX_POINTS = 100_000

#: Draws per continuous distribution when checking the types a space produces.
_CHECK_DRAWS = 20


class SearchSpace:
    """A space resolved against an estimator: hyperopt expression, Params, and candidates.

    Build it with :func:`resolve`. Points of the space are hyperopt *assignments* (hyperopt
    label -> value, with the option index for a choice), as ``hyperopt.tpe.suggest`` proposes
    them; :meth:`candidate` turns one into the :class:`~sparktune.trial.Candidate` Spark fits.
    """

    def __init__(self, estimator: Params, space: Mapping[Any, Any]) -> None:
        if not isinstance(estimator, Estimator):
            raise ValidationError(
                "The estimator must be a pyspark.ml Estimator or Pipeline, "
                f"got {type(estimator).__name__}."
            )
        self.original = estimator
        #: What the search fits: ``original``, or a copy whose final estimator is searched.
        self.estimator: Params = estimator
        self._final: final.FinalEstimator | None = None
        normalized = self._read(space)
        self._stages = Stages(self.estimator, self.expr)
        self._collect_all(normalized)
        if ESTIMATOR in self._targets.values():
            self._final = final.wrap(self.original)
            self.estimator = self._final.estimator
            if self._final.at is not None:  # the pipeline's copy and holder are stages too
                self._stages.add(self.estimator)
        self._display: dict[Target, str] = {}
        for name, target in self._targets.items():
            self._display.setdefault(target, self._readable(name))
        self._order = {name: i for i, name in enumerate(dict.fromkeys(self._display.values()))}
        self.options: dict[Param, list[Any]] = self._check_values()
        self._check_samples()

    # -- the public view ------------------------------------------------------------------
    def _read(self, space: Mapping[Any, Any]) -> dict[str, Any]:
        """Normalize ``space`` into one hyperopt expression and its domain; its entries."""
        normalized, self._from_params = pyll.normalize(space)
        self.expr: Apply = as_apply(normalized)
        self.labels: tuple[str, ...] = tuple(
            label for value in normalized.values() for label in pyll.labels(as_apply(value))
        )
        try:
            #: hyperopt's view of the space, as ``tpe.suggest`` and ``rand.suggest`` take it.
            self.domain = Domain(_not_called, self.expr)
        except DuplicateLabel as exc:
            raise ValidationError(
                f"The space uses the hyperopt label {exc.args[0]!r} twice; give every hp.* "
                "expression its own label (a list is labelled with its name)."
            ) from None
        return normalized

    def _collect_all(self, normalized: Mapping[str, Any]) -> None:
        """Resolve every entry's name to what it sets (``self._stages`` names them)."""
        self._targets: dict[str, Target] = {}
        self._groups: set[str] = set()
        self._value_nodes: list[tuple[str, Apply]] = []
        for name, value in normalized.items():
            self._collect_entry(name, as_apply(value))

    @property
    def params(self) -> dict[str, Param]:
        """Every Param the space can set, by its name in candidates and results."""
        return {self._display[t]: self._param(t) for t in self._display}

    def log_scaled(self) -> tuple[str, ...]:
        """The names (as in :attr:`params`) of the params drawn from a log distribution
        (``hp.loguniform``, ``hp.qloguniform``, ``hp.lognormal``, ``hp.qlognormal``)."""
        found = [
            self._display[self._targets[name]]
            for name, node in self._value_nodes
            if any(n.name in pyll.LOG_SCALED for n in dfs(node))
        ]
        return tuple(dict.fromkeys(found))

    def candidate(self, assignment: Mapping[str, Any]) -> Candidate:
        """The candidate of a hyperopt assignment (label -> value; option index for choices).

        The assignment is kept as the candidate's ``assignment``: plain numbers, so a
        checkpoint can store it and :meth:`candidate` rebuild the same candidate later.
        """
        found = self._candidate(space_eval(self.expr, dict(assignment)))
        return replace(found, assignment=dict(assignment))

    def key(self, candidate: Candidate) -> tuple[Any, ...]:
        """A hashable identity of a candidate's param values (two equal keys: same fit)."""
        items = ((p.parent, p.name, pipeline.freeze(v)) for p, v in candidate.param_map.items())
        return tuple(sorted(items, key=lambda item: (item[0], item[1])))

    def grid(self) -> list[dict[str, Any]]:
        """Every assignment of a space made only of lists and ``hp.choice``, in space order.

        The first name varies slowest, as in ``ParamGridBuilder``.
        """
        continuous = self.continuous_labels()
        if continuous:
            raise ValidationError(
                f"The grid strategy takes lists (or hp.choice) only, but {continuous} are "
                "continuous distributions; use strategy='random' or 'tpe', or give lists."
            )
        try:
            found = pyll.assignments(self.expr, MAX_POINTS)
        except pyll.TooLarge:
            raise ValidationError(
                f"The grid has more than {MAX_POINTS} points; search it with strategy='random' "
                "or 'tpe' and max_trials, or give fewer values."
            ) from None
        assert found is not None
        return sorted(found, key=lambda a: tuple(a.get(label, -1) for label in self.labels))

    def enumerate(self) -> list[dict[str, Any]] | None:
        """Every assignment if the space is discrete and at most MAX_POINTS large, else None."""
        if self.continuous_labels():
            return None
        try:
            return pyll.assignments(self.expr, MAX_POINTS)
        except pyll.TooLarge:
            return None

    def continuous_labels(self) -> list[str]:
        """Labels of the space's distributions that are not finite choices."""
        return [
            node.arg["label"].obj
            for node in dfs(self.expr)
            if node.name == "hyperopt_param" and pyll.discrete(node.arg["obj"]) is None
        ]

    def assignment(self, point: Mapping[Any, Any]) -> dict[str, Any]:
        """The assignment whose candidate sets ``point`` (name -> value), e.g. a warm start.

        Names are those of the space (or anything that resolves to the same Param); every
        name of the chosen branch must be given, and no name outside it.
        """
        if not isinstance(point, Mapping):
            raise ValidationError(
                f"A point to evaluate must be a dict of name -> value, got {type(point).__name__}."
            )
        wanted: dict[Target, Any] = {}
        for key, value in point.items():
            name = key_name(key)
            target = self._targets.get(name) or self._stages.resolve(name)
            wanted[target] = value
        used: set[Target] = set()
        assignment: dict[str, Any] = {}
        if not self._assign_group(self.expr, wanted, used, assignment) or used != set(wanted):
            names = [self._display.get(t, str(t)) for t in wanted]
            raise ValidationError(
                f"The point {dict(point)!r} is not in the space: no branch of it sets exactly "
                f"{names} to those values (choices and lists take one of their values). "
                f"The space's names: {sorted(self._order)}."
            )
        return assignment

    def final_model(self, model: Model) -> Model:
        """Undo the wrapping of a searched final estimator, so the model has the user's shape."""
        return model if self._final is None else self._final.unwrap(model)

    # -- names --------------------------------------------------------------------------
    def _collect(self, node: Apply) -> None:
        """Classify every name under a group node (a dict, or a choice between dicts)."""
        if node.name == "switch":
            for option in node.pos_args[1:]:
                self._collect(option)
            return
        for key, value in pyll.entries(node):
            self._collect_entry(key_name(key), value)

    def _collect_entry(self, name: str, value: Apply) -> None:
        """Classify one name: a Param, the final estimator, or the label of a group."""
        target = self._target(name, value)
        if target is None:
            self._groups.add(name)
            self._collect(value)
        else:
            self._targets[name] = target
            self._value_nodes.append((name, value))

    def _target(self, name: str, value: Apply) -> Target | None:
        """What ``name`` sets, or None for the label of a group (a name no stage resolves)."""
        if name == ESTIMATOR:
            return None if pyll.is_group(value) else ESTIMATOR
        try:
            return self._stages.resolve(name)
        except ValidationError:
            if pyll.is_group(value):
                return None
            raise

    def _readable(self, name: str) -> str:
        """The name as the user wrote it; a Param-object key as ``Class.param`` (or uid.param)."""
        target = self._targets[name]
        if not isinstance(target, Param) or name not in self._from_params:
            return name
        return self._stages.display(target)

    def _param(self, target: Target) -> Param:
        """The Param a target sets: itself, or the holder's ``stages`` for the final estimator."""
        if isinstance(target, Param):
            return target
        assert self._final is not None
        return self._final.holder.stages

    # -- values ---------------------------------------------------------------------------
    def _convert(self, name: str, target: Target, raw: Any) -> Any:
        if isinstance(target, Param):
            return values.param_value(name, target, self._stages.owner(target), raw)
        return values.estimator_value(name, raw)

    def _candidate(self, point: Mapping[Any, Any]) -> Candidate:
        flat: dict[str, Any] = {}
        self._flatten(point, flat)
        params: dict[str, Any] = {}
        param_map: dict[Param, Any] = {}
        for name, raw in flat.items():
            target = self._targets[name]
            param = self._param(target)
            value = self._convert(name, target, raw)
            display = self._display[target]
            if param in param_map:
                raise ValidationError(
                    f"The space sets {display} twice in one point (as {name!r} too); "
                    "name each param once per branch."
                )
            param_map[param] = value
            params[display] = value[0] if target == ESTIMATOR else value
        ordered = dict(sorted(params.items(), key=lambda item: self._order[item[0]]))
        return Candidate(ordered, param_map)

    def _flatten(self, point: Mapping[Any, Any], out: dict[str, Any]) -> None:
        for key, value in point.items():
            name = key_name(key)
            if name in self._groups and isinstance(value, Mapping):
                self._flatten(value, out)
            else:
                out[name] = value

    def _check_values(self) -> dict[Param, list[Any]]:
        """Convert every value a name can take (enumerable ones) or draw (continuous ones).

        Returns the options of the search: every Param with its enumerable values.
        """
        for node in dfs(self.expr):
            if node.name == "hyperopt_param":
                pyll.check_bounds(node.arg["label"].obj, node.arg["obj"])
        options: dict[Param, list[Any]] = {}
        rng = np.random.default_rng(0)
        for name, node in self._value_nodes:
            target = self._targets[name]
            found_values = options.setdefault(self._param(target), [])
            try:
                found = pyll.assignments(node, MAX_POINTS)
            except pyll.TooLarge:
                found = None
            if found is None:
                for _ in range(_CHECK_DRAWS):
                    self._convert(name, target, stochastic.sample(node, rng))
                continue
            for assignment in found:
                found_values.append(self._convert(name, target, pyll.evaluate(node, assignment)))
        return options

    def _check_samples(self) -> None:
        rng = np.random.default_rng(1)
        for _ in range(_CHECK_DRAWS):
            self._candidate(stochastic.sample(self.expr, rng))

    def _assign_group(
        self, node: Apply, wanted: Mapping[Target, Any], used: set[Target], out: dict[str, Any]
    ) -> bool:
        if node.name == "switch":
            index, *choices = node.pos_args
            for i, option in enumerate(choices):
                tried_used, tried = set(used), dict(out)
                if self._assign_group(option, wanted, tried_used, tried):
                    out.update(tried, **{index.arg["label"].obj: i})
                    used.update(tried_used)
                    return True
            return False
        for key, value in pyll.entries(node):
            name = key_name(key)
            if name in self._groups and pyll.is_group(value):
                if not self._assign_group(value, wanted, used, out):
                    return False
                continue
            target = self._targets[name]
            if target not in wanted and not pyll.labels(value):
                continue  # a fixed value of the branch
            if target not in wanted or not pyll.assign_value(value, wanted[target], out):
                return False
            used.add(target)
        return True


def resolve(estimator: Params, space: Mapping[Any, Any] | Apply) -> SearchSpace:
    """Resolve ``space`` (name -> list or hyperopt expression) against ``estimator``.

    Raises :class:`ValidationError` for unknown stage or param names (listing the valid
    ones) and for values the Params cannot take; no Spark job runs.
    """
    return SearchSpace(estimator, space)


def _not_called(_: Any) -> None:
    """hyperopt's Domain wants an objective; sparktune's engine evaluates candidates instead."""
