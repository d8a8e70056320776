"""Search spaces for a user's training function: free names, or any hyperopt expression.

A function has no Params to resolve names against, so every name of the space is one of
``fn``'s params:

- :class:`FunctionSpace` (``tune(fn, space)``): a dict of name -> list or ``hp.*``
  expression, read as for estimators (lists are choices; ``hp.choice`` over dicts is a
  conditional space whose chosen dict's names are set); ``fn`` receives the flat
  name -> value dict of a candidate;
- :class:`ExpressionSpace` (the hyperopt drop-in): any hyperopt expression, read as
  hyperopt reads it (a list is a list, not a choice); ``fn`` receives
  ``space_eval(space, point)``, exactly what ``hyperopt.fmin`` passes.

Both are :class:`~sparktune.search.space.SearchSpace` subclasses, so every strategy, the
checkpoint and the results table take them unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hyperopt.base import Domain, DuplicateLabel
from hyperopt.fmin import space_eval
from hyperopt.pyll import Apply, as_apply, dfs

from sparktune.core.errors import ValidationError
from sparktune.core.trial import Candidate
from sparktune.search import pyll
from sparktune.search.space import SearchSpace
from sparktune.search.values import python_value
from sparktune.spark.pipeline import freeze


class _FreeNames:
    """Every name stands for itself: a function takes whatever names its space gives."""

    @staticmethod
    def resolve(name: str) -> str:
        return name


class FunctionSpace(SearchSpace):
    """A space of a function's params: names are free, values lists or ``hp.*`` expressions."""

    def __init__(self, space: Mapping[Any, Any]) -> None:
        self.original = self.estimator = None
        self._final = None
        normalized = self._read(space)
        self._stages = _FreeNames()
        self._collect_all(normalized)
        self._display = {target: target for target in self._targets.values()}
        self._order = {name: i for i, name in enumerate(self._display)}
        self.options = self._check_values()
        self._check_samples()

    def argument(self, candidate: Candidate) -> dict[str, Any]:
        """What ``fn`` receives for ``candidate``: its name -> value dict."""
        return dict(candidate.params)

    def key(self, candidate: Candidate) -> tuple[Any, ...]:
        """A hashable identity of a candidate's values."""
        return tuple(sorted((str(name), freeze(v)) for name, v in candidate.params.items()))

    def _target(self, name: str, value: Apply) -> str | None:
        return None if pyll.is_group(value) else name

    def _readable(self, name: str) -> str:
        return name

    def _param(self, target: Any) -> Any:
        return target

    def _convert(self, name: str, target: Any, raw: Any) -> Any:
        return python_value(raw)

    def _candidate(self, point: Mapping[Any, Any]) -> Candidate:
        flat: dict[str, Any] = {}
        self._flatten(point, flat)
        params = {name: python_value(raw) for name, raw in flat.items()}
        ordered = dict(sorted(params.items(), key=lambda item: self._order[item[0]]))
        return Candidate(ordered, ordered)


class ExpressionSpace(FunctionSpace):
    """Any hyperopt expression, as ``hyperopt.fmin`` takes it.

    A candidate's ``params`` (the results table's and MLflow's columns) are its hyperopt
    labels with their values (the chosen option for a choice between plain values, else
    its index); ``fn`` receives ``space_eval(space, point)``. Points to evaluate are
    hyperopt's: label -> value, with the option index for a choice.
    """

    def __init__(self, space: Any) -> None:
        self.original = self.estimator = None
        self._final = None
        self.expr = as_apply(space)
        self.labels = tuple(pyll.labels(self.expr))
        if not self.labels:
            raise ValidationError(
                f"The space has no hp.* expression to search: {space!r}; give e.g. "
                "hp.uniform('x', -10, 10)."
            )
        try:
            self.domain = Domain(_not_called, self.expr)
        except DuplicateLabel as exc:
            raise ValidationError(
                f"The space uses the hyperopt label {exc.args[0]!r} twice; give every hp.* "
                "expression its own label."
            ) from None
        self._from_params: set[str] = set()
        self._targets = {label: label for label in self.labels}
        self._groups: set[str] = set()
        self._display = dict(self._targets)
        self._order = {label: i for i, label in enumerate(self.labels)}
        self._options = {
            node.arg["label"].obj: node.arg["obj"]
            for node in dfs(self.expr)
            if node.name == "hyperopt_param"
        }
        self._choices = {
            node.pos_args[0].arg["label"].obj: node.pos_args[1:]
            for node in dfs(self.expr)
            if node.name == "switch"
        }
        for label, dist in self._options.items():
            pyll.check_bounds(label, dist)
        self.options = {}

    def candidate(self, assignment: Mapping[str, Any]) -> Candidate:
        """The candidate of a hyperopt point (label -> value; option index for choices)."""
        point = {label: python_value(v) for label, v in assignment.items()}
        params = {label: self._readable_value(label, v) for label, v in point.items()}
        ordered = dict(sorted(params.items(), key=lambda item: self._order.get(item[0], 0)))
        return Candidate(ordered, {}, assignment=point)

    def argument(self, candidate: Candidate) -> Any:
        """``space_eval(space, point)``: the value ``hyperopt.fmin`` would pass to ``fn``."""
        return space_eval(self.expr, dict(candidate.assignment or {}))

    def key(self, candidate: Candidate) -> tuple[Any, ...]:
        """A hashable identity of the candidate's hyperopt point."""
        point = candidate.assignment or {}
        return tuple(sorted((label, freeze(v)) for label, v in point.items()))

    def assignment(self, point: Mapping[Any, Any]) -> dict[str, Any]:
        """A hyperopt point to evaluate (label -> value), checked against the space's labels."""
        if not isinstance(point, Mapping):
            raise ValidationError(
                f"A point to evaluate must be a dict of label -> value, got {type(point).__name__}."
            )
        unknown = sorted(set(map(str, point)) - set(self.labels))
        if unknown:
            raise ValidationError(
                f"points_to_evaluate: {unknown} are not labels of the space "
                f"(its labels: {list(self.labels)})."
            )
        return {str(label): python_value(v) for label, v in point.items()}

    def _readable_value(self, label: str, value: Any) -> Any:
        options = self._choices.get(label)
        if options is None or not isinstance(value, int) or not 0 <= value < len(options):
            return value
        chosen = options[value]
        literal = getattr(chosen, "obj", None)
        plain = chosen.name == "literal" and isinstance(literal, str | int | float | bool)
        return literal if plain else value


def _not_called(_: Any) -> None:
    """hyperopt's Domain wants an objective; the engine evaluates candidates instead."""
