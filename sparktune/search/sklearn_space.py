"""Search spaces over a scikit-learn-compatible estimator's params, in the same hyperopt syntax.

Names are the estimator's own param names (``get_params(deep=True)``: ``max_depth``, or
``model__max_depth`` in a ``Pipeline``); values are lists or ``hp.*`` expressions, and
``hp.choice`` over dicts is a conditional space, exactly as for Spark pipelines
(:mod:`sparktune.search.space`). :class:`SklearnSpace` is a :class:`SearchSpace` whose
targets are those names, so every strategy, the checkpoint and the results table take it
unchanged; candidates carry ``param_map`` = name -> value, ready for ``set_params``.
"""

from __future__ import annotations

import difflib
import numbers
import typing
from collections.abc import Mapping
from typing import Any

from hyperopt.pyll import Apply

from sparktune.compat.sklearn import parameter_constraints
from sparktune.core.errors import ValidationError
from sparktune.core.trial import Candidate
from sparktune.search import pyll
from sparktune.search.space import SearchSpace
from sparktune.search.values import python_value
from sparktune.spark.pipeline import freeze


def is_sklearn_estimator(estimator: Any) -> bool:
    """Whether ``estimator`` follows scikit-learn's estimator API (get/set_params and fit)."""
    methods = ("get_params", "set_params", "fit")
    return all(callable(getattr(estimator, name, None)) for name in methods)


class _Names:
    """The param names of an estimator, and the resolution of a space name against them."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.params: dict[str, Any] = dict(estimator.get_params(deep=True))

    def resolve(self, name: str) -> str:
        """``name`` itself if the estimator has that param; ValidationError naming close ones."""
        if name in self.params:
            return name
        close = difflib.get_close_matches(name, list(self.params), n=5, cutoff=0.5)
        hint = f" Close matches: {close}." if close else ""
        raise ValidationError(
            f"The space name {name!r} is not a param of {type(self.estimator).__name__} "
            f"(names are those of get_params(deep=True), e.g. 'step__param' in a Pipeline).{hint}"
        )

    def takes_integers(self, name: str) -> bool:
        """Whether param ``name`` takes integers (its constraints, annotation or default say so)."""
        owner_name, _, param = name.rpartition("__")
        owner = self.params.get(owner_name, self.estimator) if owner_name else self.estimator
        constraints = parameter_constraints(owner).get(param, [])
        kinds = {getattr(c, "type", c) for c in constraints}
        if numbers.Integral in kinds or int in kinds:
            return numbers.Real not in kinds and float not in kinds
        for cls in type(owner).__mro__:
            init = cls.__dict__.get("__init__")
            if init is None:
                continue
            try:
                hint = typing.get_type_hints(init).get(param)
            except (NameError, TypeError):
                continue
            if hint is not None:
                args = typing.get_args(hint)
                return int in (hint, *args) and float not in args
        return type(self.params.get(name)) is int


class SklearnSpace(SearchSpace):
    """A space resolved against a scikit-learn estimator: names are its ``get_params`` names.

    Every name is checked before any Spark job: an unknown one raises
    :class:`ValidationError` with close matches; integral floats (``hp.quniform``) become
    ints for params that take integers.
    """

    def __init__(self, estimator: Any, space: Mapping[Any, Any]) -> None:
        if not is_sklearn_estimator(estimator):
            raise ValidationError(
                "The estimator must be scikit-learn compatible (get_params, set_params and "
                f"fit), got {type(estimator).__name__}."
            )
        self.original = estimator
        self.estimator = estimator
        self._final = None
        normalized = self._read(space)
        self._stages = _Names(estimator)
        self._collect_all(normalized)
        self._display = {target: target for target in self._targets.values()}
        self._order = {name: i for i, name in enumerate(self._display)}
        self.options = self._check_values()
        self._check_samples()

    def key(self, candidate: Candidate) -> tuple[Any, ...]:
        """A hashable identity of a candidate's param values."""
        return tuple(sorted((name, freeze(v)) for name, v in candidate.param_map.items()))

    def _target(self, name: str, value: Apply) -> str | None:
        try:
            return self._stages.resolve(name)
        except ValidationError:
            if pyll.is_group(value):
                return None
            raise

    def _readable(self, name: str) -> str:
        return name

    def _param(self, target: Any) -> Any:
        return target

    def _convert(self, name: str, target: Any, raw: Any) -> Any:
        value = python_value(raw)
        if isinstance(value, float) and value.is_integer() and self._stages.takes_integers(name):
            return int(value)
        return value

    def _candidate(self, point: Mapping[Any, Any]) -> Candidate:
        flat: dict[str, Any] = {}
        self._flatten(point, flat)
        params = {name: self._convert(name, name, raw) for name, raw in flat.items()}
        ordered = dict(sorted(params.items(), key=lambda item: self._order[item[0]]))
        return Candidate(ordered, dict(ordered))


def resolve_sklearn(estimator: Any, space: Mapping[Any, Any] | Apply) -> SklearnSpace:
    """Resolve ``space`` against a scikit-learn estimator's params (ValidationError if wrong)."""
    return SklearnSpace(estimator, space)
